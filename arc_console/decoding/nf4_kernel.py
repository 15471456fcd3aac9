"""A fused 4-bit grouped GEMM for NF4 expert stacks, where the machine has one.

Our own Triton kernel (nf4_triton.py) serves first. Where it cannot (a per-expert split layout, no
Triton), Unsloth Zoo's is tried: Unsloth Zoo ships a Triton kernel (`torch.ops.unsloth_zoo.nf4_grouped_mm`) that multiplies rows sorted
by expert with a bitsandbytes NF4 [experts, in, out] stack, decoding the 4-bit weights inside the GEMM.
A decode step then reads half a byte per expert weight instead of dequantizing a 16-bit copy first
and reading that: on the 20B shape the experts are most of the bytes a step reads. It exists only
where Unsloth is installed, on CUDA; everywhere else the decoder dequantizes into a buffer instead.
The module is not public API (seen working with unsloth_zoo 2026.10.9 on the H200): any failure to
find or use it leaves the decoder on the dequantizing path, with a notice when it fails mid-way.
"""

from __future__ import annotations

import torch

from arc_console.decoding.nf4_triton import triton_nf4_grouped_matmul
from arc_console.decoding.packed_experts import GroupedMatmul, PackedExperts


def nf4_grouped_matmul(experts: PackedExperts, compute_dtype: torch.dtype) -> GroupedMatmul | None:
    """A fused kernel bound to this stack (ours, else Unsloth Zoo's), or None where neither serves."""
    ours = triton_nf4_grouped_matmul(experts, compute_dtype)
    if ours is not None:
        ours.kernel_name = "our fused NF4 kernel (Triton)"  # type: ignore[attr-defined]
        return ours
    theirs = unsloth_nf4_grouped_matmul(experts, compute_dtype)
    if theirs is not None:
        theirs.kernel_name = "Unsloth Zoo's fused NF4 kernel"  # type: ignore[attr-defined]
    return theirs


def unsloth_nf4_grouped_matmul(experts: PackedExperts, compute_dtype: torch.dtype) -> GroupedMatmul | None:
    """Unsloth Zoo's kernel bound to this stack, or None where it cannot serve (no Unsloth, no CUDA, a
    per-expert split layout, a quantization it does not decode)."""
    if experts.stack is None or not experts.stack.is_cuda:
        return None
    try:
        from unsloth_zoo.temporary_patches import moe_nf4_grouped as zoo
    except Exception:  # not installed, or a version without the kernel
        return None
    try:
        spec = zoo.nf4_grouped_spec(experts.stack, lambda stack: stack, compute_dtype, mode="1")
    except Exception:
        return None
    if spec is None or (spec["K"], spec["N"]) != (experts.in_features, experts.out_features):
        return None

    def matmul(rows: torch.Tensor, row_ends: torch.Tensor) -> torch.Tensor:
        return zoo.nf4_grouped_mm(rows, row_ends, spec)

    return matmul
