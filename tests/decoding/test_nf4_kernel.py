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


@pytest.mark.slow
@pytest.mark.timeout(660)
def test_our_nf4_kernel_matches_the_dequantized_experts() -> None:
    out = interpreted("kernel")
    assert out.count("kernel nested=") == 16


@pytest.mark.slow
@pytest.mark.timeout(660)
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


def test_launch_shapes_where_ptx_runs(monkeypatch) -> None:
    """The tiles each call gets on an NVIDIA GPU (what the H200 sweeps chose), decided on the host: the
    register lookup everywhere; GPT-OSS-20B's narrow down projection at about one row per expert with k
    tiles of 128 and 4 warps; everything else in the default tiles; wider quantization blocks as before."""
    from arc_console.decoding import nf4_triton

    cuda = torch.device("cuda")
    monkeypatch.setattr(nf4_triton, "runs_ptx", lambda device: True)
    down, gate_up = 2880, 5760  # 45 and 90 column tiles of 64
    decode_down = nf4_triton.launch_shape(32, 32, cuda, 64, down)  # 8 candidates x 4 experts
    assert (decode_down.block_k, decode_down.num_warps, decode_down.lookup) == (128, 4, "registers")
    for rows, out_features in ((32, gate_up), (128, down), (128, gate_up), (32, None)):
        shape = nf4_triton.launch_shape(rows, 32, cuda, 64, out_features)
        assert (shape.block_k, shape.num_warps, shape.num_stages, shape.lookup) == (64, 2, 2, "registers"), (rows, out_features)
    prefill = nf4_triton.launch_shape(300 * 4, 32, cuda, 64, down)
    assert prefill.block_m == 64 and prefill.block_k == 64
    wide = nf4_triton.launch_shape(32, 32, cuda, 128, down)  # 128-value blocks: a tile one block wide, unmeasured narrow rule
    assert (wide.block_n, wide.block_k, wide.num_warps, wide.num_stages) == (128, 128, 2, 2)
    monkeypatch.setattr(nf4_triton, "runs_ptx", lambda device: False)  # the interpreter, ROCm: the table of pairs
    assert nf4_triton.launch_shape(32, 32, cuda, 64, down) == nf4_triton.LaunchShape()
