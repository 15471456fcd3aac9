"""MoE experts as float8 (e4m3) copies, read by torch's scaled grouped GEMM on Hopper GPUs.

A decode step at 8 candidates is bound by reading the expert weights: 4-bit packed stacks are
small but slow to decode inside a GEMM; bf16 copies are fast to multiply but twice the bytes of
fp8. fp8 with one scale per expert output column keeps a fixed-point error of about 2^-4 relative
per weight (e4m3 has 3 mantissa bits), halves the bytes of bf16 and runs on the tensor cores
through `torch._scaled_grouped_mm` (SM 9.x). Activations are quantized per row on the fly.

Where that op cannot run (a CPU, another GPU), the decoder dequantizes the copies into a bf16 buffer
layer by layer, exactly as for packed 4-bit experts: same numbers, slower.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

FP8 = torch.float8_e4m3fn
FP8_MAX = 448.0  # the largest finite e4m3fn value
_TINY = 1e-12  # keeps an all-zero row or column from dividing by zero


@dataclass
class Fp8Experts:
    """One projection of a layer's experts: data [E, out, in] float8, scale [E, out] float32.

    W[e] (as x @ W, [in, out]) is data[e].T * scale[e]: the out-major layout makes data[e].T the
    column-major right operand the scaled GEMM wants, without a copy.
    """

    data: torch.Tensor
    scale: torch.Tensor

    @property
    def num_experts(self) -> int:
        return self.data.shape[0]

    @property
    def in_features(self) -> int:
        return self.data.shape[2]

    @property
    def out_features(self) -> int:
        return self.data.shape[1]

    @property
    def nbytes(self) -> int:
        return self.data.numel() * self.data.element_size() + self.scale.numel() * self.scale.element_size()

    @property
    def buffer_shape(self) -> tuple[int, int, int]:
        return (self.num_experts, self.in_features, self.out_features)

    def dequantize_into(self, out: torch.Tensor) -> None:
        """Fill a [E, in, out] buffer with the dequantized weights (every e4m3 value is exact in bf16)."""
        out.copy_(self.data.transpose(1, 2))
        out.mul_(self.scale[:, None, :])

    def matrices(self, buffer: torch.Tensor) -> torch.Tensor:
        return buffer


def quantize_experts(matrices: torch.Tensor) -> Fp8Experts:
    """[E, in, out] weights (x @ W) as fp8 with one scale per expert output column."""
    experts, in_features, out_features = matrices.shape
    data = torch.empty((experts, out_features, in_features), dtype=FP8, device=matrices.device)
    scale = torch.empty((experts, out_features), dtype=torch.float32, device=matrices.device)
    for expert in range(experts):  # one expert at a time: a float32 copy of a whole 20B layer is 2 GB
        weights = matrices[expert].t().to(torch.float32)  # [out, in]
        scale[expert] = weights.abs().amax(dim=1).clamp(min=_TINY) / FP8_MAX
        data[expert] = (weights / scale[expert, :, None]).to(FP8)
    return Fp8Experts(data, scale)


def scaled_grouped_mm_available(device: torch.device) -> bool:
    """torch's fp8 grouped GEMM with row-wise scales runs on SM 9.x (H100, H200) only."""
    return (device.type == "cuda" and hasattr(torch, "_scaled_grouped_mm")
            and torch.cuda.get_device_capability(device)[0] == 9)


def quantize_rows(rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Activations [M, K] as fp8 with one scale per row: (values, scales [M] float32)."""
    row_scale = rows.abs().amax(dim=1).to(torch.float32).clamp(min=_TINY) / FP8_MAX
    return (rows.to(torch.float32) / row_scale[:, None]).to(FP8), row_scale


RowQuantizer = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


def fp8_grouped_matmul(experts: Fp8Experts, compute_dtype: torch.dtype,
                       quantize: RowQuantizer = quantize_rows) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None:
    """A GroupedMatmul (rows sorted by expert, each expert's row end) over the fp8 copies, or None
    where the scaled grouped GEMM does not run."""
    if not scaled_grouped_mm_available(experts.data.device):
        return None
    right = experts.data.transpose(1, 2)  # [E, in, out], column-major

    def matmul(rows: torch.Tensor, row_ends: torch.Tensor) -> torch.Tensor:
        quantized, row_scale = quantize(rows)
        return torch._scaled_grouped_mm(quantized, right, row_scale, experts.scale, offs=row_ends,
                                        out_dtype=compute_dtype)

    return matmul
