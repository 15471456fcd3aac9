"""Our Triton NF4 grouped GEMM (decoding/nf4_triton.py) run by Triton's CPU interpreter: the same
kernel code the GPU compiles, checked against bitsandbytes' dequantized weights. The GPU run of it
is in tests/test_gpu.py."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from arc_console.decoding.nf4_triton import triton_available
from arc_console.decoding.packed_experts import PackedExperts

SCRIPT = Path(__file__).parent / "kernels" / "nf4_interpreted.py"


def interpreted(check: str) -> str:
    env = {**os.environ, "TRITON_INTERPRET": "1"}
    done = subprocess.run([sys.executable, str(SCRIPT), check], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stdout + done.stderr[-3000:]
    return done.stdout


def test_our_nf4_kernel_matches_the_dequantized_experts() -> None:
    out = interpreted("kernel")
    assert out.count("kernel nested=") == 28


def test_the_static_decoder_reads_nf4_stacks_through_our_kernel() -> None:
    out = interpreted("decoder")
    assert out.count("decoder fused vs dequantized") == 2


def test_without_cuda_or_the_interpreter_the_kernel_steps_aside(monkeypatch) -> None:
    import bitsandbytes.functional as bnb_functional

    from arc_console.decoding.nf4_kernel import nf4_grouped_matmul

    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    assert not triton_available(torch.device("cpu"))
    packed, state = bnb_functional.quantize_4bit(torch.randn(2, 64, 128), quant_type="nf4")
    # On a CPU neither ours nor Unsloth Zoo's serves: the decoder dequantizes instead.
    assert nf4_grouped_matmul(PackedExperts([packed], [state], 2, 64, 128, stack=packed), torch.float32) is None
