#!/usr/bin/env bash
# benchmarks/eval_tiny.py on every core: each (augmentation, seed) split into slices of the 120 tasks,
# one one-thread job per slice, then merged. Usage: bash benchmarks/eval_tiny_parallel.sh [JOBS] [WORK_DIR]
# (On 2026-12-01 this ran on the lent H200 host's 16 CPU cores, no GPU, in 160 s + 36 s.)
set -euo pipefail
jobs=${1:-$(nproc)}
work=${2:-$(mktemp -d)}
mkdir -p "$work"
export OMP_NUM_THREADS=1
for augment in dihedral+colors dihedral none; do
  for seed in 0 1 2; do
    n=12; [ "$augment" = none ] && n=3
    for i in $(seq 1 $n); do echo "$augment $seed $i/$n"; done
  done
done | xargs -P "$jobs" -L 1 bash -c 'python3 benchmarks/eval_tiny.py --seeds "$1" --augment "$0" --chunk "$2" --job-out '"$work"
python3 benchmarks/eval_tiny.py --merge "$work"
