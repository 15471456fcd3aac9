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
# GPU_RUN_SMOKE=1 runs the stages that support it (peer, ours, prequantized, record) on a CPU: the tiny model,
# the scripts' smoke modes, a few tokens; tests/gpu/test_gpu_benchmarks_on_cpu.py checks this script so.
set -uo pipefail
OUT=${OUT:-/tmp/out}
GPU_TESTS=tests/gpu/test_gpu.py
SMOKE=${GPU_RUN_SMOKE:-0}
if [ "$SMOKE" = 1 ]; then
  MODEL=${MODEL:-$OUT/tiny-random}
  SHORT=(--new-tokens 4 --max-seq-length 400)
  PEER_ARGS=(--cpu-smoke --steps 2 "${SHORT[@]}"); OURS_ARGS=(--backend hf "${SHORT[@]}")
  PREQUANTIZED_ARGS=(--cpu-smoke --routes packed fp8 "${SHORT[@]}")
  : "${PEER_TIMEOUT:=900}" "${OURS_TIMEOUT:=900}" "${OURS_CHILD_TIMEOUT:=600}" "${PREQUANTIZED_TIMEOUT:=900}" \
    "${PREQUANTIZED_CHILD_TIMEOUT:=600}"
else
  MODEL=${MODEL:-/tmp/gpt-oss-20b-random}
  PEER_ARGS=(--steps 3); OURS_ARGS=(); PREQUANTIZED_ARGS=(--routes packed --new-tokens 64)
fi

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
  [peer]="peer_trl.py: Unsloth + TRL GRPOTrainer (loss_type dapo), 3 steps of 8 x 512, completions forced to 512 (PEER_TIMEOUT, 250)"
  [ours]="first_step.py --routes: our first step cold and with a warm compile cache (two fresh processes), then both routes' steps (OURS_TIMEOUT, 280)"
  [record]="gpu_record.py: peer.json, ours.json and prequantized.json in \$OUT merged into gpu_step_DATE_CARD.json, with the ratios"
  [prequantized]="prequantized_load.py: the 20B converted to Unsloth's bnb-4bit layout, loaded against BF16-then-quantize (PREQUANTIZED_TIMEOUT, 480)"
)
# The names earlier calls used, each the stages it ran.
declare -A ALIASES=(
  [smoke]="gpu_tests smoke_train"
  [default]="gpu_tests default_route"
  [profile]="decode_profile gpu_tests"
  [small_rows]="small_route warm_up"
  [small_tests]="small_route gpu_tests"
  [versus_peer]="peer ours record"
  [warm_cache]="ours"
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
if [ "$SMOKE" = 1 ]; then
  echo "GPU_RUN_SMOKE=1: the stages' CPU smoke modes, the tiny model"
else
  [ -d .whl ] || { echo "gpu_run.sh: error: no .whl/ here (bash ../shared/gpu/wheels.sh, then carry .whl)"; exit 2; }
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site:$PWD HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1 ARC_CONSOLE_CACHE=/tmp/arc-cache
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
fi

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
stage_peer() {
  timeout "${PEER_TIMEOUT:-250}" python3 benchmarks/peer_trl.py --model "$MODEL" ${PEER_ARGS[@]+"${PEER_ARGS[@]}"} \
    --out "$OUT/peer.json" || echo "peer: FAILED or timed out (exit $?)"
}
stage_ours() {
  timeout "${OURS_TIMEOUT:-280}" python3 benchmarks/gpu_step.py --cold-warm --model "$MODEL" --routes \
    ${OURS_ARGS[@]+"${OURS_ARGS[@]}"} --timeout "${OURS_CHILD_TIMEOUT:-220}" --out "$OUT/ours.json" \
    || echo "ours: FAILED or timed out (exit $?)"
}
stage_record() {
  local inputs=()
  for part in peer ours prequantized; do
    [ -f "$OUT/$part.json" ] && inputs+=(--"$part" "$OUT/$part.json")
  done
  [ ${#inputs[@]} -gt 0 ] || { echo "record: nothing to merge"; return 1; }
  python3 benchmarks/gpu_record.py "${inputs[@]}" --out-dir "$OUT" || echo "record: written with parts missing"
}
stage_prequantized() {
  local split="${MODEL}-unsloth-bnb-4bit"
  rm -rf "$split"
  timeout "${PREQUANTIZED_TIMEOUT:-480}" python3 benchmarks/gpu_step.py --prequantized --model "$MODEL" \
    ${PREQUANTIZED_ARGS[@]+"${PREQUANTIZED_ARGS[@]}"} --timeout "${PREQUANTIZED_CHILD_TIMEOUT:-200}" \
    --out "$OUT/prequantized.json" || echo "prequantized: FAILED or timed out (exit $?)"
  rm -rf "$split"  # the 64 GB disk holds the 20B and its 4-bit copy, not more
}
make_model() {
  if [ "$SMOKE" = 1 ]; then python3 -m arc_console make-model --out "$MODEL" > /dev/null; return; fi
  /usr/bin/time -f "make-model %e s" python3 -m arc_console make-model --shape gpt-oss-20b --out "$MODEL"
}
stage_decode_profile() { python3 benchmarks/decode_profile.py --model "$MODEL" --out-dir "$OUT" ${PROFILE_ROUTES:+--routes $PROFILE_ROUTES}; }

run_stages() {  # a function is read whole before it runs: an edit to this file mid-call cannot break it
  for stage in "${stages[@]}"; do
    if [[ ! " kernel gpu_tests record " =~ " $stage " ]] && [ ! -f "$MODEL/config.json" ]; then
      make_model || exit 1
    fi
    echo "=== stage $stage: ${ABOUT[$stage]} ($(date -u +%FT%TZ))"
    "stage_$stage"
  done
  echo "=== done after $SECONDS s"
}
run_stages
