#!/usr/bin/env bash
# What ran on the lent H200 (no network there): bring the wheels from ../shared/gpu/wheels.sh
# in .whl/, then:  bash benchmarks/h200_session.sh smoke|run|bench|default|gpu_tests|psweep|profile|import_order|eval|kernel|small|small_rows|small_tests|warm_up|update_memory   (results under $OUT)
set -uo pipefail
stage=${1:-smoke}
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
# Everything also goes to $OUT as it happens: a call cut short by its time limit still brings back what it saw.
exec > >(tee -a "$OUT/session_$stage.log") 2>&1
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1 ARC_CONSOLE_CACHE=/tmp/arc-cache
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
model=/tmp/gpt-oss-20b-random
if [ "$stage" != kernel ] && [ ! -f $model/config.json ]; then
  /usr/bin/time -f "make-model %e s" python3 -m arc_console make-model --shape gpt-oss-20b --out $model || exit 1
fi
case $stage in
  kernel)  # issue 21: the NF4 grouped GEMM alone on the 20B expert shapes (no model), then its GPU tests
    timeout ${KERNEL_TIMEOUT:-400} python3 benchmarks/nf4_kernel.py --sweep --out-dir "$OUT"
    timeout 120 python3 -m pytest -q -p no:cacheprovider tests/test_gpu.py -k nf4 2>&1 | tail -5
    ;;
  smoke)
    python3 -m pytest -q -p no:cacheprovider tests/test_gpu.py 2>&1 | tail -5
    python3 -m arc_console train --headless --model $model --backend unsloth --max-steps 2 --max-new-tokens 32 --overlong-buffer 8 \
      --checkpoint-every 1 --out /tmp/run_smoke
    echo "train exit $?"
    ls -la /tmp/run_smoke /tmp/run_smoke/checkpoints/* /tmp/run_smoke/final_model
    tar czf "$OUT/smoke_logs.tar.gz" -C /tmp run_smoke/logs
    ;;
  run)
    python3 -m arc_console train --headless --model $model --backend unsloth --max-steps 3 --out /tmp/h200_run
    echo "train exit $?"
    # A random-weight model never answers with a grid: every reward is equal and DAPO's dynamic
    # sampling skips the update. Step 4 runs GRPO (no dynamic sampling) to exercise the update path.
    python3 -m arc_console train --headless --resume /tmp/h200_run --max-steps 4 --objective grpo
    echo "resume exit $?"
    (cd /tmp && find h200_run -printf '%p %s\n' | sort) > "$OUT/h200_run_files.txt"
    tar czf "$OUT/h200_run_logs.tar.gz" -C /tmp h200_run/logs
    ;;
  bench)  # every section of gpu_step.py; the GPU tests run in `default` (both will not fit one 10-minute call)
    python3 benchmarks/gpu_step.py --model $model --sequential-tokens 16 --out-dir "$OUT"
    ;;
  default)  # the GPU tests, then only the default route's rollout and the update (peak memory, log-prob agreement)
    timeout 120 python3 -m pytest -q -s -p no:cacheprovider tests/test_gpu.py > "$OUT/test_gpu.log" 2>&1; grep -v -i warn "$OUT/test_gpu.log" | tail -40
    python3 benchmarks/gpu_step.py --model $model --default-route-only --out-dir "$OUT"
    ;;
  update_memory)  # issue 21: what is alive at the 4-bit route's update peak
    timeout ${MEMORY_TIMEOUT:-400} python3 benchmarks/update_memory.py --model $model --out-dir "$OUT"
    ;;
  small_rows)  # issue 21: the 4-bit route's step with the update cut into rows (no P sweeps), then the warm-up
    timeout ${SMALL_TIMEOUT:-300} python3 benchmarks/gpu_step.py --model $model --small-route-only --skip-p-sweeps --out-dir "$OUT"
    timeout ${WARM_TIMEOUT:-240} python3 benchmarks/gpu_step.py --model $model --warm-up-only --out-dir "$OUT"
    ;;
  gpu_tests)  # the GPU tests alone
    timeout ${TESTS_TIMEOUT:-200} python3 -m pytest -q -s -p no:cacheprovider tests/test_gpu.py > "$OUT/test_gpu.log" 2>&1; grep -v -i warn "$OUT/test_gpu.log" | tail -30
    ;;
  small_tests)  # issue 21: the 4-bit route's step (no P sweeps), then the GPU tests
    timeout ${SMALL_TIMEOUT:-300} python3 benchmarks/gpu_step.py --model $model --small-route-only --skip-p-sweeps --out-dir "$OUT"
    timeout ${TESTS_TIMEOUT:-150} python3 -m pytest -q -s -p no:cacheprovider tests/test_gpu.py > "$OUT/test_gpu.log" 2>&1; grep -v -i warn "$OUT/test_gpu.log" | tail -30
    ;;
  warm_up)  # issue 21: the trainer's first four steps after load (prompts of three lengths), time and recompilations
    timeout ${WARM_TIMEOUT:-240} python3 benchmarks/gpu_step.py --model $model --warm-up-only --out-dir "$OUT"
    ;;
  small)  # issue 21: Unsloth's generate beside the 4-bit route (our NF4 kernel), then its P sweep
    timeout ${SMALL_TIMEOUT:-490} python3 benchmarks/gpu_step.py --model $model --small-route-only --out-dir "$OUT"
    ;;
  psweep)  # P problems x 8 per rollout, each followed by the update over its sequences: the step time at each P
    python3 benchmarks/gpu_step.py --model $model --problems-per-step-only --out-dir "$OUT"
    ;;
  import_order)  # issue 15: the update with unsloth imported first (now) and after transformers (before)
    timeout 200 python3 benchmarks/gpu_step.py --model $model --default-route-only --out-dir "$OUT/unsloth_first"
    timeout 200 python3 benchmarks/gpu_step.py --model $model --default-route-only --unsloth-after-transformers \
      --out-dir "$OUT/unsloth_after"
    ;;
  eval)  # issue 16: eval throughput at 8 views x 2 samples, 512 new tokens
    timeout ${EVAL_TIMEOUT:-240} python3 -m arc_console eval --model $model --backend unsloth --tasks arc1-evaluation \
      --limit ${EVAL_LIMIT:-6} --augment dihedral --samples 2 --max-new-tokens 512 --headless --out "$OUT/eval_20b"
    echo "eval exit $?"
    ;;
  profile)  # one decode step of each route, kernel by kernel, then the GPU tests
    python3 benchmarks/decode_profile.py --model $model --out-dir "$OUT" ${PROFILE_ROUTES:+--routes $PROFILE_ROUTES}
    timeout 200 python3 -m pytest -q -s -p no:cacheprovider tests/test_gpu.py > "$OUT/test_gpu.log" 2>&1; grep -v -i warn "$OUT/test_gpu.log" | tail -30
    ;;
esac
