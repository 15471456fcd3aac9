#!/usr/bin/env bash
# One call on the lent GPU machine, named stages run in order; results under $OUT (at most 8 files come back):
#
#   bash benchmarks/gpu_run.sh peer ours            # the record: peer.json, ours.json -> gpu_step_DATE_CARD.json
#   bash benchmarks/gpu_run.sh prequantized         # prequantized.json
#
#   peer          Unsloth + TRL GRPOTrainer (loss_type dapo), 3 steps, 8 x 512 (benchmarks/peer_trl.py)
#   ours          our default and 4-bit routes' steps, and the time to the first step cold and with a warm
#                 compile cache, two fresh processes (benchmarks/first_step.py); small, default and warm_cache
#                 are other names for it (one run measures all three)
#   prequantized  Unsloth's bnb-4bit layout written from the 20B, loaded against BF16-then-quantize
#   record        merges the stages' JSON into gpu_step_DATE_CARD.json (runs by itself after peer or ours;
#                 prequantized alone leaves its prequantized.json)
#
# Needs .whl/ (bash ../shared/gpu/wheels.sh) carried with the call. The 20B random model is built once per
# machine (~80 s, ~40 GB of the 64 GB disk). Every stage has a time limit (PEER_TIMEOUT, OURS_TIMEOUT,
# PREQUANTIZED_TIMEOUT seconds) and prints one summary line; a stage that fails says so and the next runs.
# GPU_RUN_SMOKE=1 runs the same stages on a CPU (the tiny model, the scripts' smoke modes, a few tokens):
# what tests/gpu/test_gpu_benchmarks_on_cpu.py does to check this script before a GPU call relies on it.
set -uo pipefail
OUT=${OUT:-/tmp/out}
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
mkdir -p "$OUT"
exec > >(tee -a "$OUT/run.log") 2>&1
STARTED=$SECONDS

say() { echo "[gpu_run +$((SECONDS - STARTED))s] $*"; }

gpu_setup() {
  if [ "$SMOKE" = 1 ]; then say "GPU_RUN_SMOKE=1: the stages' CPU smoke modes, the tiny model"; return 0; fi
  [ -d .whl ] || { say "FAILED: no .whl/ here (bash ../shared/gpu/wheels.sh, then carry .whl)"; exit 2; }
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl \
    || { say "FAILED: installing .whl/"; exit 2; }
  export PYTHONPATH=/tmp/site:$PWD HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1 ARC_CONSOLE_CACHE=/tmp/arc-cache
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader \
    || { say "FAILED: nvidia-smi (no GPU?)"; exit 2; }
  python3 -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" \
    || { say "FAILED: torch sees no CUDA device"; exit 2; }
  say "setup done"
}

ensure_model() {
  [ -f "$MODEL/config.json" ] && return 0
  if [ "$SMOKE" = 1 ]; then python3 -m arc_console make-model --out "$MODEL" >/dev/null; return; fi
  local free_gb
  free_gb=$(df -BG --output=avail "$(dirname "$MODEL")" | tail -1 | tr -dc 0-9)
  [ "${free_gb:-0}" -ge 45 ] || { say "FAILED: ${free_gb} GB free where $MODEL goes; the 20B needs ~40 GB"; return 1; }
  /usr/bin/time -f "make-model %e s" python3 -m arc_console make-model --shape gpt-oss-20b --out "$MODEL" \
    || { say "FAILED: building the 20B model"; return 1; }
  say "model built at $MODEL"
}

stage_peer() {
  ensure_model || return 1
  timeout "${PEER_TIMEOUT:-250}" python3 benchmarks/peer_trl.py --model "$MODEL" ${PEER_ARGS[@]+"${PEER_ARGS[@]}"} --out "$OUT/peer.json" \
    || say "peer: FAILED or timed out (exit $?)"
}

stage_ours() {
  ensure_model || return 1
  timeout "${OURS_TIMEOUT:-280}" python3 benchmarks/gpu_step.py --cold-warm --model "$MODEL" --routes ${OURS_ARGS[@]+"${OURS_ARGS[@]}"} \
    --timeout "${OURS_CHILD_TIMEOUT:-220}" --out "$OUT/ours.json" || say "ours: FAILED or timed out (exit $?)"
}

stage_prequantized() {
  ensure_model || return 1
  local split="${MODEL}-unsloth-bnb-4bit"
  rm -rf "$split"
  timeout "${PREQUANTIZED_TIMEOUT:-480}" python3 benchmarks/gpu_step.py --prequantized --model "$MODEL" \
    ${PREQUANTIZED_ARGS[@]+"${PREQUANTIZED_ARGS[@]}"} --timeout "${PREQUANTIZED_CHILD_TIMEOUT:-200}" --out "$OUT/prequantized.json" \
    || say "prequantized: FAILED or timed out (exit $?)"
  rm -rf "$split"  # the disk holds one 20B and its 4-bit copy, not more
}

stage_record() {
  local inputs=()
  for part in peer ours prequantized; do
    [ -f "$OUT/$part.json" ] && inputs+=(--"$part" "$OUT/$part.json")
  done
  [ ${#inputs[@]} -gt 0 ] || { say "record: nothing to merge"; return 1; }
  python3 benchmarks/gpu_record.py "${inputs[@]}" --out-dir "$OUT" || say "record: written with parts missing"
}

main() {  # read whole before it runs: bash reads a script as it goes
  [ $# -gt 0 ] || { echo "usage: bash benchmarks/gpu_run.sh STAGE... (peer ours small default warm_cache prequantized record)"; exit 2; }
  for stage in "$@"; do
    case $stage in
      peer|ours|small|default|warm_cache|prequantized|record) ;;
      *) echo "gpu_run.sh: unknown stage '$stage' (peer ours small default warm_cache prequantized record)"; exit 2 ;;
    esac
  done
  gpu_setup
  ran_ours=0; needs_record=0
  for stage in "$@"; do
    case $stage in
      peer) stage_peer; needs_record=1 ;;
      ours|small|default|warm_cache)
        [ $ran_ours = 1 ] && continue  # one run measures all three
        stage_ours; ran_ours=1; needs_record=1 ;;
      prequantized) stage_prequantized ;;  # its own JSON; a record of this call also carries it
      record) stage_record; needs_record=0 ;;
    esac
    say "stage $stage done"
  done
  [ $needs_record = 1 ] && stage_record
  say "all done"
}

main "$@"
