#!/usr/bin/env bash
# Issue 16's tiny-model benchmarks as a queue of one-thread CPU jobs, run on every core of a machine
# until a deadline; a second call runs what is left (finished jobs are skipped). Results go to
# $RES (default /tmp/issue16-res) and, tarred, to $OUT. Then, here:
#   python benchmarks/eval_tiny.py --merge DIR benchmarks/results/eval_tiny_2026-12-01.json
#   python benchmarks/generalise.py --merge DIR
# Usage: bash benchmarks/issue16_cpu_jobs.sh SECONDS   (wheels for what the machine lacks in .whl/)
set -uo pipefail
deadline=$(( $(date +%s) + ${1:-540} ))
RES=${RES:-/tmp/issue16-res}
OUT=${OUT:-/tmp/out}
mkdir -p "$RES" "$OUT"
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl 2>&1 | tail -2
fi
export PYTHONPATH=/tmp/site:$PWD OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 HF_HUB_OFFLINE=1
jobs=()
# Longest first: the generalisation runs, then the eval slices (dihedral views cost 8x none).
for seed in 0 1 2; do
  for variant in pixel pixel+augment changed foreground; do
    jobs+=("job_${variant}_${seed}.json|python3 benchmarks/generalise.py --one $variant $seed --steps 50 --eval-every 25 --eval-limit 60 --work $RES")
  done
done
for augment in dihedral+colors dihedral none; do
  for seed in 0 1 2; do
    { [ "$augment" = none ] || [ "$augment" = dihedral ]; } && [ $seed = 0 ] && continue  # measured on 2026-12-01
    n=12; [ "$augment" = none ] && n=4
    for i in $(seq 1 $n); do
      jobs+=("chunk_${augment}_${seed}_${i}of${n}.json|python3 benchmarks/eval_tiny.py --seeds $seed --augment $augment --chunk $i/$n --job-out $RES")
    done
  done
done
run_job() {
  local file=${1%%|*} command=${1#*|}
  [ -f "$RES/$file" ] && return 0
  local left=$(( deadline - $(date +%s) ))
  [ $left -le 5 ] && return 0
  timeout $left $command > "$RES/${file%.json}.log" 2>&1 || echo "unfinished: $file"
}
export -f run_job
export RES deadline
printf '%s\n' "${jobs[@]}" | xargs -P "$(nproc)" -I{} bash -c 'run_job "$@"' _ {}
done=$(ls "$RES"/*.json 2>/dev/null | wc -l)
echo "finished $done of ${#jobs[@]} jobs"
lscpu | grep -E "Model name|^CPU\(s\)" | tr -s ' '
tar czf "$OUT/issue16_results.tar.gz" -C "$RES" .
