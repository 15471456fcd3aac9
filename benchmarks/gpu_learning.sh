#!/usr/bin/env bash
# One call on the lent GPU (issue 32): warm starts of the built-in model's candidates, and of a `small`
# GPT-OSS that then trains with DAPO through the GPU path (unsloth 4-bit, LoRA, the static engine's 4-bit
# route) with held-out evaluation. Bring .whl/ (bash ../shared/gpu/wheels.sh); from the project root there:
#   bash benchmarks/gpu_learning.sh TINY_MINUTES SMALL_MINUTES DAPO_DEADLINE_S
set -uo pipefail
tiny_minutes=${1:-6.5}; small_minutes=${2:-3.5}; deadline=${3:-240}
out=${OUT:-/tmp/out}
mkdir -p "$out"
exec > >(tee -a "$out/gpu_learning_call.log") 2>&1
export PYTHONPATH=$PWD HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1 ARC_CONSOLE_CACHE=/tmp/arc-cache PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl > /tmp/pip.log 2>&1 &
pip=$!
bash scripts/warm_start_gpu.sh "$tiny_minutes" a:tiny-arc:512:96:1.5e-3:3 a0:tiny-arc:128:96:1.5e-3:3 \
    b:tiny-arc:512:96:1.5e-3:3:6 > /tmp/tiny_warm.log 2>&1 &
tiny=$!
bash scripts/warm_start_gpu.sh "$small_minutes" c:small:512:48:1e-3:3:0:bfloat16
wait $pip || { echo "wheels did not install"; tail -5 /tmp/pip.log; }
PYTHONPATH=/tmp/site:$PWD timeout $((deadline + 90)) python3 benchmarks/gpu_learning.py --model /tmp/warm/c \
    --backend unsloth --steps 30 --eval-every 10 --eval-limit 48 --problems-per-step 4 --learning-rate 2e-4 \
    --max-new-tokens 140 --deadline-s "$deadline" --screenshot-at-step 3 --out-dir "$out" --tag small_h100 \
    -- --rollout-experts packed
echo "gpu_learning exit $?"
wait $tiny
cat /tmp/tiny_warm.log
rm -f "$out/c.tgz.unused"
ls -la "$out"
