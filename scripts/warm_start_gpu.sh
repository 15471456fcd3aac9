#!/usr/bin/env bash
# Warm starts on the lent GPU machine, several model variants at once on its one GPU (each is small; the
# host's cores make the batches). Usage, from the project root there:
#   bash scripts/warm_start_gpu.sh MINUTES NAME:SHAPE:WINDOW:BATCH:LR[:WORKERS[:LAYERS[:SAVE_DTYPE[:COMPILE]]]] ...
# Each variant trains for MINUTES into /tmp/warm/NAME; $OUT/NAME.tgz (the model folder, with progress.jsonl:
# its loss and held-out scores while training) comes back.
set -uo pipefail
minutes=$1; shift
out=${OUT:-/tmp/out}
mkdir -p /tmp/warm "$out"
pids=()
for spec in "$@"; do
    IFS=: read -r name shape window batch lr workers layers dtype compile <<<"$spec"
    python3 scripts/warm_start.py --device cuda --minutes "$minutes" --shape "$shape" --sliding-window "$window" \
        --batch "$batch" --lr "$lr" --warmup-steps 200 --workers "${workers:-3}" --layers "${layers:-0}" --save-dtype "${dtype:-float32}" ${compile:+--compile} --augment dihedral+colors \
        --small-share 0.5 --eval-every-s 90 --out "/tmp/warm/$name" --log "/tmp/warm/$name/progress.jsonl" \
        > "/tmp/warm/$name.stdout" 2>&1 &
    pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done
for spec in "$@"; do
    name=${spec%%:*}
    tail -n 3 "/tmp/warm/$name.stdout"
    [ -d "/tmp/warm/$name" ] && tar -C /tmp/warm -czf "$out/$name.tgz" "$name"
done
nvidia-smi --query-gpu=name,memory.used --format=csv
ls -la "$out"
