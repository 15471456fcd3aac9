#!/usr/bin/env bash
# Issue 32, larger than the 2-core dev box allows: benchmarks/generalise.py on a lent GPU machine's CPU cores,
# one run per core, every run to its end or to the deadline, then merged there. One call, from the project root:
#
#   bash benchmarks/generalise_gpu_host.sh [STEPS] [DEADLINE_S] [SEEDS] [VARIANTS] [-- MORE...]
#   e.g. bash benchmarks/generalise_gpu_host.sh 300 520 "0 1 2" "exact exact+fresh" -- num_candidates=16
#
# MORE goes to generalise.py after its --set learning_rate=3e-5 max_new_tokens=96: more KEY=VALUE settings first,
# then options (the last of an option given twice wins, e.g. --eval-limit 36).
#
# The runs use the CPU code path measured on the dev box, unchanged (CUDA hidden): on CUDA the hf backend
# loads the tiny model in bfloat16, where full-weight updates at a learning rate of 3e-5 would mostly round
# away. A run past DEADLINE_S is stopped (TERM); its job file holds every step and evaluation so far, and the
# merge keeps them ("finished": false, last_evaluated_step_per_seed). Bring .whl/ (../shared/gpu/wheels.sh)
# where the image lacks the project's dependencies. Results under $OUT (default /tmp/out):
# generalise_gpuhost.json (+ .png where matplotlib is there), a log of the call, and jobs/: the job files with
# their training signal (python benchmarks/generalise.py --merge DIR merges them again anywhere, e.g. for the PNG).
# GENERALISE_JOBS=N runs N at a time (default: one per core, at most one per run).
set -uo pipefail
steps=${1:-300}; deadline=${2:-520}; seeds=${3:-"0 1 2"}; variants=${4:-"exact exact+fresh"}
shift $(( $# < 4 ? $# : 4 )); [ "${1:-}" = "--" ] && shift
out=${OUT:-/tmp/out}
mkdir -p "$out"
exec > >(tee -a "$out/generalise_gpuhost_call.log") 2>&1
if [ -d .whl ] && ls .whl/*.whl > /dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl \
    > /tmp/pip.log 2>&1 || { echo "wheels did not install"; tail -5 /tmp/pip.log; }
  export PYTHONPATH=/tmp/site:$PWD
else
  export PYTHONPATH=$PWD
fi
export HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1 CUDA_VISIBLE_DEVICES= OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
python=${PYTHON:-python3}
read -r -a seed_list <<< "$seeds"; read -r -a variant_list <<< "$variants"
runs=$(( ${#seed_list[@]} * ${#variant_list[@]} ))
cores=$(nproc)
jobs=${GENERALISE_JOBS:-$(( runs < cores ? runs : cores ))}  # one core each: more runs than cores wait for one
cpu=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)
echo "$(date -Is) $cores cores ($cpu), $runs runs of $steps steps ($jobs at a time), deadline ${deadline}s"
work=$(mktemp -d /tmp/generalise-gpuhost.XXXXXX)
eval_every=$(( steps / 3 > 0 ? steps / 3 : 1 ))
ran=(benchmarks/generalise.py --variants "${variant_list[@]}" --seeds "${seed_list[@]}" --steps "$steps"
     --eval-every "$eval_every" --eval-limit 0 --eval-augment none --jobs "$jobs" --work "$work"
     --set learning_rate=3e-5 max_new_tokens=96 "$@")
timeout --signal=TERM --kill-after=20 "$deadline" "$python" "${ran[@]}" --out "$work/unused.json"
echo "runs exit $? at $(date -Is) (124: the deadline cut them)"
"$python" benchmarks/generalise.py --merge "$work" --ran "python ${ran[*]}" \
  --machine "lent GPU machine's CPU: $cores cores, ${cpu:-$(uname -m)}, $jobs runs at a time, one torch thread each, CUDA hidden" \
  --out "$out/generalise_gpuhost.json"
mkdir -p "$out/jobs"  # each job file with its training signal (read from its run directory, which stays here)
"$python" - "$out/generalise_gpuhost.json" "$out/jobs" <<'PY'
import json, sys
from pathlib import Path
for job in json.loads(Path(sys.argv[1]).read_text())["jobs"]:
    (Path(sys.argv[2]) / f"job_{job['variant']}_{job['seed']}.json").write_text(json.dumps(job) + "\n")
PY
ls -la "$out"
