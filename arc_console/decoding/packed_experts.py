"""Experts left in bitsandbytes 4-bit, as the static decoder reads them (dequantized layer by layer)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

# A grouped GEMM over one projection's experts: (rows sorted by expert [M, in], the cumulative row
# counts [E] int32, i.e. where each expert's rows end) -> [M, out]. Fused kernels read compact experts this way.
GroupedMatmul = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass
class PackedExperts:
    """One projection of a layer's experts left in bitsandbytes 4-bit, in one of two layouts:

    - split (Unsloth's pre-quantized layout): one Linear4bit per expert, each W of [out, in];
    - stacked (a 16-bit checkpoint quantized at load): one [experts, in, out] stack, as transformers holds it.

    `dequantize_into` fills a shared buffer of `buffer_shape` when the layer runs, so the experts cost
    their 4-bit size plus one buffer instead of a bf16 copy each; `matrices` views it as [E, in, out].
    """

    packed: list[torch.Tensor]  # the packed bytes, the model's own storage: one per expert, or one stack
    states: list[Any]  # each piece's bitsandbytes QuantState (its scales stay nested: no float32 copy)
    num_experts: int
    in_features: int
    out_features: int
    stack: torch.Tensor | None = None  # the stacked Params4bit itself, for kernels that read 4-bit directly
    kernel_view: Any = None  # what a fused kernel made from these experts once (nf4_triton.Nf4Stack), shared by its uses

    @property
    def split(self) -> bool:
        return self.stack is None

    @property
    def buffer_shape(self) -> tuple[int, int, int]:
        if self.split:
            return (self.num_experts, self.out_features, self.in_features)
        return (self.num_experts, self.in_features, self.out_features)

    def dequantize_into(self, out: torch.Tensor) -> None:
        import bitsandbytes.functional as bnb_functional

        pieces = out if self.split else out[None]
        for target, packed, state in zip(pieces, self.packed, self.states):
            if out.is_cuda:  # straight into the buffer
                bnb_functional.dequantize_4bit(packed, state, out=target)
            else:  # bitsandbytes has no CPU kernel for the .out form
                target.copy_(bnb_functional.dequantize_4bit(packed, state))

    def matrices(self, buffer: torch.Tensor) -> torch.Tensor:
        """The dequantized buffer as [E, in, out] (x @ W), a view."""
        return buffer.transpose(1, 2) if self.split else buffer


def packed_split(linears: Any) -> PackedExperts | None:
    """Per-expert 4-bit Linears as they are, or None when they are not all bitsandbytes 4-bit."""
    states = [getattr(m.weight, "quant_state", None) for m in linears]
    if any(state is None for state in states):
        return None
    out_features, in_features = states[0].shape
    return PackedExperts([m.weight.data for m in linears], states, len(states), in_features, out_features)


def packed_stack(stack: torch.Tensor) -> PackedExperts:
    state = stack.quant_state
    experts, in_features, out_features = tuple(getattr(stack, "_original_shape", None) or state.shape)
    return PackedExperts([stack.data], [state], experts, in_features, out_features, stack=stack)
