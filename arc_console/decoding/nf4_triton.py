"""Our own grouped GEMM over bitsandbytes NF4 expert stacks, written in Triton for decode batch sizes.

A decode step multiplies a few rows per expert (8-64 candidates, 4 experts each) by every active
expert's [K, N] weights: the work is reading 4-bit weights, not arithmetic. Each program owns one
expert and one quantization block's worth of output columns (64), walks K in tiles and looks up each
byte's two NF4 levels (on NVIDIA GPUs from a table held in registers, nf4_register_lookup.py;
elsewhere from a 256-entry table of bf16 pairs) and hands them to the tensor cores (the kernel itself
is in nf4_triton_kernels.py). A CUDA-core GEMV for a few rows per expert, in float32 with one
accumulator per row, was tried and lost to this GEMM on the H200 (results/nf4_kernel_2026-12-02_h200_gemv*.json).
A tile one block wide has one scale per k, so the scales multiply the rows (BLOCK_M x BLOCK_K
products) rather than every weight; wider tiles scale the weights. The absmax scales stay
double-quantized as bitsandbytes keeps them (decoded in the kernel) and in its block order: the route
holds no copy (a copy in k order, read in one stretch, was dropped for its memory once the register
lookup made the difference small: benchmarks/results/nf4_kernel_2026-12-02_h200_int8_and_block_order.json;
the code is in git history before that change).

Layout (a stack quantized at load, as transformers holds GPT-OSS experts): the [E, K, N] tensor
flattened row-major, two codes per byte (the first in the high nibble), one absmax per `blocksize`
consecutive values, so a block never crosses a row when N is a multiple of it. Rows come sorted by
expert with `row_ends` the cumulative row counts (torch._grouped_mm's `offs`).

The kernel needs Triton and a CUDA device, or TRITON_INTERPRET=1 (how the CPU tests run it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from functools import cache
from typing import Any

import torch

from arc_console.decoding.nf4_register_lookup import bf16_bits, register_lookup_asm
from arc_console.decoding.packed_experts import GroupedMatmul, PackedExperts


@dataclass(frozen=True)
class Nf4Stack:
    """The tensors and sizes the kernel reads for one [E, K, N] stack."""

    packed: torch.Tensor  # uint8, E*K*N/2
    absmax: torch.Tensor  # uint8 codes when nested, else float32; one per block
    nested_absmax: torch.Tensor  # float32, one per `nested_blocksize` blocks (a dummy when not nested)
    nested_code: torch.Tensor  # float32 [256] (a dummy when not nested)
    pairs: torch.Tensor  # int32 [256]: each byte's two levels (level_pairs)
    levels: torch.Tensor  # bf16 [16]: the level of each nibble
    lookup_asm: str  # the levels as PTX register tables (nf4_register_lookup.py)
    offset: float
    nested: bool
    blocksize: int
    nested_blocksize: int
    num_experts: int
    in_features: int
    out_features: int


def nf4_stack(experts: PackedExperts) -> Nf4Stack | None:
    """The kernel's view of a stacked NF4 layout, or None for layouts it does not read (per-expert
    split Linears, FP4, blocks that cross rows)."""
    if experts.stack is None or len(experts.states) != 1:
        return None
    state = experts.states[0]
    if getattr(state, "quant_type", None) != "nf4":
        return None
    blocksize = int(state.blocksize)
    if blocksize < 32 or blocksize & (blocksize - 1) or experts.out_features % blocksize:
        return None
    nested = bool(getattr(state, "nested", False))
    device = experts.packed[0].device
    dummy = torch.zeros(1, dtype=torch.float32, device=device)
    return Nf4Stack(
        packed=experts.packed[0].reshape(-1),
        absmax=state.absmax.reshape(-1),
        nested_absmax=state.state2.absmax.reshape(-1).float() if nested else dummy,
        nested_code=state.state2.code.float() if nested else dummy,
        pairs=level_pairs(state.code.float()),
        levels=state.code.float().to(torch.bfloat16),
        lookup_asm=register_lookup_asm(tuple(bf16_bits(state.code.float().tolist()))),
        offset=float(state.offset) if nested else 0.0,
        nested=nested,
        blocksize=blocksize,
        nested_blocksize=int(state.state2.blocksize) if nested else 1,
        num_experts=experts.num_experts,
        in_features=experts.in_features,
        out_features=experts.out_features,
    )


def triton_interprets() -> bool:
    """TRITON_INTERPRET set as Triton reads it: its CPU interpreter runs every kernel (and no PTX)."""
    return os.environ.get("TRITON_INTERPRET", "").strip().lower() in {"1", "true", "yes", "on"}


def triton_available(device: torch.device) -> bool:
    """Triton imports and can run here: on CUDA, or anywhere under TRITON_INTERPRET=1."""
    if device.type != "cuda" and not triton_interprets():
        return False
    try:
        import triton  # noqa: F401
    except Exception:
        return False
    return True


@cache
def _kernel() -> Any:
    """The jitted kernel (nf4_triton_kernels.py), imported on first use."""
    from arc_console.decoding import nf4_triton_kernels

    return nf4_triton_kernels.nf4_grouped_kernel


def _dot_type(name: str) -> Any:
    import triton.language as tl

    return getattr(tl, name)


@dataclass(frozen=True)
class LaunchShape:
    # The defaults won benchmarks/nf4_kernel.py --sweep on the H200 (benchmarks/results/nf4_kernel_*.json)
    # for the pairs lookup; launch_shape picks the registers lookup with 2 stages wherever PTX runs.
    block_n: int = 64  # output columns a program owns: a multiple of the quantization block
    block_k: int = 64
    block_m: int = 16
    use_dot: bool = True  # tensor cores (rows padded to 16) or a broadcast-and-sum on the CUDA cores
    num_warps: int = 2
    num_stages: int = 3
    dot_dtype: str = "bfloat16"  # what the tensor cores take
    row_scales: bool = True  # one-block-wide tiles: scale the rows per k, not every weight
    levels_tf32: bool = False  # with row_scales: levels and scaled rows handed to the tensor cores as tf32
    lookup: str = "pairs"  # LOOKUPS: where each byte's levels come from
    max_registers: int | None = None  # a cap on registers a thread (Triton's maxnreg); None: the compiler's choice


# pairs: a 1 KB table of both levels of each byte; levels: a 16-entry table, one load a weight;
# registers: PTX prmt over the table held in registers (NVIDIA only: Triton's interpreter and ROCm run no PTX).
LOOKUPS = {"pairs": 0, "levels": 1, "registers": 2}


def runs_ptx(device: torch.device) -> bool:
    return device.type == "cuda" and torch.version.hip is None and not triton_interprets()


# Column tiles up to which a projection counts as narrow (GPT-OSS-20B's down: 2880 / 64 = 45; gate/up: 90).
NARROW_COLUMN_TILES = 48


def launch_shape(rows: int, num_experts: int, device: torch.device, blocksize: int = 64,
                 out_features: int | None = None) -> LaunchShape:
    """Tiles for a call: decode steps have a few rows per expert; a prefill has many. A tile wider than
    one quantization block scales every weight, which wants k tiles of 128 and 2 stages (4x faster there
    than 64 and 3 in the H200 sweep). A narrow projection (GPT-OSS's down: 45 column tiles) at about one
    row per expert launches few programs: there k tiles of 128 and 4 warps keep more bytes in flight
    (the H200 sweeps at 8 candidates; at 32 the default tiles are faster again). Triton's CPU
    interpreter (the tests) multiplies in float32: it has no bfloat16 dot, and it runs no PTX, so it
    reads the levels from the table of pairs."""
    per_expert = rows / max(num_experts, 1)
    shape = LaunchShape(block_m=16 if per_expert <= 16 else 64,
                        dot_dtype="bfloat16" if device.type == "cuda" else "float32")
    if runs_ptx(device):
        shape = replace(shape, lookup="registers", num_stages=2)
    if shape.block_n != blocksize:
        return replace(shape, block_n=max(blocksize, shape.block_n), block_k=128, num_stages=2)
    narrow = out_features is not None and out_features // shape.block_n <= NARROW_COLUMN_TILES
    if runs_ptx(device) and narrow and per_expert <= 1:
        shape = replace(shape, block_k=128, num_warps=4)
    return shape


def level_pairs(code: torch.Tensor) -> torch.Tensor:
    """int32 [256]: for each byte, the bf16 bit patterns of its high-nibble level (low 16 bits) and
    its low-nibble level (high 16 bits)."""
    levels = code.to(torch.bfloat16).view(torch.int16).to(torch.int32) & 0xFFFF
    byte = torch.arange(256, device=code.device)
    return (levels[byte >> 4] | (levels[byte & 15] << 16)).to(torch.int32)


def nf4_grouped_mm(rows: torch.Tensor, row_ends: torch.Tensor, stack: Nf4Stack, out_dtype: torch.dtype,
                   shape: LaunchShape | None = None) -> torch.Tensor:
    """rows [M, K] sorted by expert, row_ends [E] int32 (each expert's exclusive end, cumulative)
    -> [M, N] in out_dtype: rows[i] @ W[e(i)] with W read as 4 bits."""
    rows = rows.contiguous()
    count, width = rows.shape
    if width != stack.in_features:
        raise ValueError(f"rows have {width} features, the experts take {stack.in_features}")
    out = torch.empty((count, stack.out_features), dtype=out_dtype, device=rows.device)
    if count == 0:
        return out
    shape = shape or launch_shape(count, stack.num_experts, rows.device, stack.blocksize, stack.out_features)
    if shape.block_n % stack.blocksize or stack.out_features % shape.block_n:
        shape = replace(shape, block_n=stack.blocksize)
    if shape.lookup not in LOOKUPS:
        raise ValueError(f"lookup must be one of {', '.join(LOOKUPS)}, not {shape.lookup!r}")
    if shape.lookup == "registers" and not runs_ptx(rows.device):
        raise ValueError("the registers lookup runs PTX: it needs an NVIDIA GPU (not Triton's interpreter)")
    lookup_asm = stack.lookup_asm if shape.lookup == "registers" else ""
    grid = (stack.out_features // shape.block_n, stack.num_experts)
    _kernel()[grid](rows, stack.packed, stack.absmax, stack.nested_absmax, stack.nested_code, stack.pairs,
                    stack.levels, row_ends, out, stack.offset, stack.in_features, stack.out_features // 2,
                    stack.out_features // stack.blocksize,
                    rows.stride(0), out.stride(0),
                    BLOCK=stack.blocksize, BLOCK_N=shape.block_n, BLOCK_K=shape.block_k, BLOCK_M=shape.block_m,
                    NESTED=stack.nested, NESTED_BLOCK=stack.nested_blocksize, DOT=_dot_type(shape.dot_dtype),
                    USE_DOT=shape.use_dot, ROW_SCALES=shape.row_scales,
                    LEVELS_TF32=shape.levels_tf32, LOOKUP=LOOKUPS[shape.lookup], LOOKUP_ASM=lookup_asm,
                    num_warps=shape.num_warps, num_stages=shape.num_stages,
                    **({} if shape.max_registers is None else {"maxnreg": shape.max_registers}))
    return out


def triton_nf4_grouped_matmul(experts: PackedExperts, compute_dtype: torch.dtype) -> GroupedMatmul | None:
    """Our kernel bound to this stack, or None where it cannot serve (no Triton, no CUDA, a layout it
    does not read)."""
    if not triton_available(experts.packed[0].device):
        return None
    if experts.kernel_view is None:
        stack = nf4_stack(experts)
        if stack is None:
            return None
        experts.kernel_view = stack
    stack = experts.kernel_view
    if not isinstance(stack, Nf4Stack):
        return None

    def matmul(rows: torch.Tensor, row_ends: torch.Tensor) -> torch.Tensor:
        return nf4_grouped_mm(rows, row_ends, stack, compute_dtype)

    return matmul
