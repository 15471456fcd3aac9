#!/usr/bin/env bash
# Everything that runs on a lent GPU machine (no network there), as named stages run in the order given:
#
#   bash benchmarks/gpu_run.sh STAGE...          # e.g. gpu_tests small_route warm_up
#   bash benchmarks/gpu_run.sh --list            # the stages and what each runs
#
# Bring the wheels first (../shared/gpu/wheels.sh puts them in .whl/). Results and a log of the whole call
# (gpu_run.log, written as it happens, so a call cut short by its time limit still brings back what it saw)
# go under $OUT (default /tmp/out). The 20B-shape model with random weights is made once, in /tmp.
# Each stage's time limit can be changed through the variable named beside it (seconds).
set -uo pipefail
OUT=${OUT:-/tmp/out}
MODEL=${MODEL:-/tmp/gpt-oss-20b-random}
GPU_TESTS=tests/gpu/test_gpu.py

declare -A ABOUT=(
  [gpu_tests]="the GPU tests (TESTS_TIMEOUT, 200)"
  [kernel]="the NF4 grouped GEMM alone on the 20B expert shapes, no model (KERNEL_TIMEOUT, 400), then its GPU tests"
  [smoke_train]="a 2-step headless train of the 20B shape with a checkpoint each step; its logs as smoke_logs.tar.gz"
  [run]="3 DAPO steps of the 20B shape, then a resumed GRPO step 4 (random weights never answer: DAPO skips every update)"
  [bench]="every section of gpu_step.py"
  [default_route]="gpu_step.py: the default route's rollout and update (peak memory, log-prob agreement)"
  [small]="gpu_step.py: Unsloth's generate beside the 4-bit route (our NF4 kernel), then its P sweep (SMALL_TIMEOUT, 490)"
  [small_route]="gpu_step.py: Unsloth's generate beside the 4-bit route, the update cut into rows, no P sweeps (SMALL_TIMEOUT, 300)"
  [warm_up]="gpu_step.py: the trainer's first four steps after load (prompts of three lengths), time and recompilations (WARM_TIMEOUT, 240)"
  [psweep]="gpu_step.py: P problems x 8 per rollout, each followed by the update, at each P"
  [update_memory]="update_memory.py: what is alive at the 4-bit route's update peak (MEMORY_TIMEOUT, 400)"
  [import_order]="gpu_step.py's default route with unsloth imported first, then after transformers (200 each)"
  [eval]="eval on EVAL_LIMIT (6) ARC-AGI-1 evaluation tasks at 8 views x 2 samples, 512 new tokens (EVAL_TIMEOUT, 240)"
  [decode_profile]="decode_profile.py: one decode step of each route, kernel by kernel (PROFILE_ROUTES: which)"
)
# The names earlier calls used, each the stages it ran.
declare -A ALIASES=(
  [smoke]="gpu_tests smoke_train"
  [default]="gpu_tests default_route"
  [profile]="decode_profile gpu_tests"
  [small_rows]="small_route warm_up"
  [small_tests]="small_route gpu_tests"
)

list() {
  for stage in "${!ABOUT[@]}"; do printf '  %-15s %s\n' "$stage" "${ABOUT[$stage]}"; done | sort
  for alias in "${!ALIASES[@]}"; do printf '  %-15s = %s\n' "$alias" "${ALIASES[$alias]}"; done | sort
}

usage() { echo "usage: bash benchmarks/gpu_run.sh STAGE...   (results under \$OUT, default /tmp/out)"; list; }
if [ $# -eq 0 ]; then usage >&2; exit 2; fi
if [ "$1" = --list ] || [ "$1" = -h ] || [ "$1" = --help ]; then usage; exit 0; fi
stages=()
for name in "$@"; do
  if [ -n "${ALIASES[$name]:-}" ]; then stages+=(${ALIASES[$name]})
  elif [ -n "${ABOUT[$name]:-}" ]; then stages+=("$name")
  else echo "gpu_run.sh: error: unknown stage '$name'; the stages:" >&2; list >&2; exit 2
  fi
done

mkdir -p "$OUT"
exec > >(tee -a "$OUT/gpu_run.log") 2>&1
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1 ARC_CONSOLE_CACHE=/tmp/arc-cache
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv

stage_gpu_tests() {  # its own log, and the summary here
  timeout "${TESTS_TIMEOUT:-200}" python3 -m pytest -q -s -p no:cacheprovider $GPU_TESTS > "$OUT/test_gpu.log" 2>&1
  grep -v -i warn "$OUT/test_gpu.log" | tail -30
}
stage_kernel() {
  timeout "${KERNEL_TIMEOUT:-400}" python3 benchmarks/nf4_kernel.py --sweep --out-dir "$OUT"
  timeout 120 python3 -m pytest -q -p no:cacheprovider $GPU_TESTS -k nf4 2>&1 | tail -5
}
stage_smoke_train() {
  python3 -m arc_console train --headless --model "$MODEL" --backend unsloth --max-steps 2 --max-new-tokens 32 \
    --overlong-buffer 8 --checkpoint-every 1 --out /tmp/run_smoke
  echo "train exit $?"
  ls -la /tmp/run_smoke /tmp/run_smoke/checkpoints/* /tmp/run_smoke/final_model
  tar czf "$OUT/smoke_logs.tar.gz" -C /tmp run_smoke/logs
}
stage_run() {
  python3 -m arc_console train --headless --model "$MODEL" --backend unsloth --max-steps 3 --out /tmp/train_20b
  echo "train exit $?"
  # A random-weight model never answers with a grid: every reward is equal and DAPO's dynamic
  # sampling skips the update. Step 4 runs GRPO (no dynamic sampling) to exercise the update path.
  python3 -m arc_console train --headless --resume /tmp/train_20b --max-steps 4 --objective grpo
  echo "resume exit $?"
  (cd /tmp && find train_20b -printf '%p %s\n' | sort) > "$OUT/train_20b_files.txt"
  tar czf "$OUT/train_20b_logs.tar.gz" -C /tmp train_20b/logs
}
stage_bench() { python3 benchmarks/gpu_step.py --model "$MODEL" --sequential-tokens 16 --out-dir "$OUT"; }
stage_default_route() { python3 benchmarks/gpu_step.py --model "$MODEL" --default-route-only --out-dir "$OUT"; }
stage_small() { timeout "${SMALL_TIMEOUT:-490}" python3 benchmarks/gpu_step.py --model "$MODEL" --small-route-only --out-dir "$OUT"; }
stage_small_route() {
  timeout "${SMALL_TIMEOUT:-300}" python3 benchmarks/gpu_step.py --model "$MODEL" --small-route-only --skip-p-sweeps --out-dir "$OUT"
}
stage_warm_up() { timeout "${WARM_TIMEOUT:-240}" python3 benchmarks/gpu_step.py --model "$MODEL" --warm-up-only --out-dir "$OUT"; }
stage_psweep() { python3 benchmarks/gpu_step.py --model "$MODEL" --problems-per-step-only --out-dir "$OUT"; }
stage_update_memory() { timeout "${MEMORY_TIMEOUT:-400}" python3 benchmarks/update_memory.py --model "$MODEL" --out-dir "$OUT"; }
stage_import_order() {  # issue 15: the update with unsloth imported first (now) and after transformers (before)
  timeout 200 python3 benchmarks/gpu_step.py --model "$MODEL" --default-route-only --out-dir "$OUT/unsloth_first"
  timeout 200 python3 benchmarks/gpu_step.py --model "$MODEL" --default-route-only --unsloth-after-transformers \
    --out-dir "$OUT/unsloth_after"
}
stage_eval() {
  timeout "${EVAL_TIMEOUT:-240}" python3 -m arc_console eval --model "$MODEL" --backend unsloth --tasks arc1-evaluation \
    --limit "${EVAL_LIMIT:-6}" --augment dihedral --samples 2 --max-new-tokens 512 --headless --out "$OUT/eval_20b"
  echo "eval exit $?"
}
stage_decode_profile() { python3 benchmarks/decode_profile.py --model "$MODEL" --out-dir "$OUT" ${PROFILE_ROUTES:+--routes $PROFILE_ROUTES}; }

for stage in "${stages[@]}"; do
  if [ "$stage" != kernel ] && [ "$stage" != gpu_tests ] && [ ! -f "$MODEL/config.json" ]; then
    /usr/bin/time -f "make-model %e s" python3 -m arc_console make-model --shape gpt-oss-20b --out "$MODEL" || exit 1
  fi
  echo "=== stage $stage: ${ABOUT[$stage]} ($(date -u +%FT%TZ))"
  "stage_$stage"
done
