"""A few calls of our NF4 kernel on GPT-OSS-20B's gate/up shape at 8 candidates, for Nsight Compute:

    ncu --kernel-name regex:nf4 --launch-skip 2 --launch-count 1 --section SpeedOfLight --section Occupancy \
        python benchmarks/nf4_kernel_one_call.py [--max-registers N]

(benchmarks/results/2026-12-02_h200_nf4_gemv_register_caps_ncu/ncu_*.txt are its reports.) Launches the route's shape for 8 candidates.
"""

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from nf4_kernel import EXPERTS, nf4_parameter, routed_rows  # noqa: E402

from arc_console.decoding.nf4_triton import launch_shape, nf4_grouped_mm, nf4_stack  # noqa: E402
from arc_console.decoding.packed_experts import packed_stack  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("--max-registers", type=int, default=None, help="registers a thread may use (Triton's maxnreg)")
args = parser.parse_args()
generator = torch.Generator().manual_seed(0)
k, n = 2880, 5760
parameter = nf4_parameter((torch.randn(EXPERTS, k, n, generator=generator) * 0.02).to(torch.bfloat16))
stack = nf4_stack(packed_stack(parameter))  # as the route reads it (scales in block order)
rows, row_ends, in_use = routed_rows(8, k, generator)
shape = replace(launch_shape(rows.shape[0], EXPERTS, rows.device), max_registers=args.max_registers)
for _ in range(3):
    nf4_grouped_mm(rows, row_ends, stack, torch.bfloat16, shape)
torch.cuda.synchronize()
print(f"{shape} over {in_use} experts in use")
