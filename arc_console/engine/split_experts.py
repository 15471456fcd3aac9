"""GPT-OSS with one Linear per expert: the module layout of Unsloth's pre-quantized checkpoints
(`unsloth/gpt-oss-20b-unsloth-bnb-4bit`), for loading them with plain transformers (the hf backend, CPUs).

transformers holds a layer's experts as two stacked 3-D parameters, which bitsandbytes cannot quantize.
Unsloth's bnb-4bit checkpoints store them split, `mlp.experts.gate_up_projs.E.weight` [2I, H] and
`mlp.experts.down_projs.E.weight` [H, I] (each with its bias and, quantized, its bitsandbytes statistics),
and the router as `mlp.router.linear.weight` / `.bias`, unquantized. Unsloth loads them with its own classes
(unsloth_zoo.temporary_patches.gpt_oss.GptOssExpertsBnb4bit); these are the same layout for transformers:
`split_layout_modules()` swaps them in while a model is built, and transformers' bitsandbytes loader then
fills each expert's Linear4bit from the checkpoint. The static decoder reads either set of classes alike
(decoding/decoder_weights.py: `gate_up_projs`, `down_projs`).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn


class SplitExpertsRouter(nn.Module):
    """GPT-OSS's top-k router with its weights under `linear`, as the checkpoint names them; `linear` is no
    nn.Linear, so bitsandbytes leaves it unquantized (routing stays exact, as in Unsloth's class)."""

    def __init__(self, config) -> None:  # noqa: ANN001 - a GptOssConfig
        super().__init__()
        self.top_k = config.num_experts_per_tok
        self.num_experts = config.num_local_experts
        self.hidden_dim = config.hidden_size
        self.linear = _RouterWeights(self.hidden_dim, self.num_experts)

    @property
    def weight(self) -> nn.Parameter:
        return self.linear.weight

    @property
    def bias(self) -> nn.Parameter:
        return self.linear.bias

    def forward(self, hidden_states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        logits = F.linear(hidden_states, self.weight.to(hidden_states.dtype), self.bias.to(hidden_states.dtype))
        top_values, top_indices = torch.topk(logits, self.top_k, dim=-1)
        return logits, torch.softmax(top_values, dim=1, dtype=top_values.dtype), top_indices


class _RouterWeights(nn.Module):
    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features))


class SplitExperts(nn.Module):
    """A layer's experts as Linears, x W^T + b each (W [out, in]): what bitsandbytes can hold in 4 bits.
    forward is transformers' GptOssExperts.forward over them (only the experts in use run)."""

    def __init__(self, config) -> None:  # noqa: ANN001 - a GptOssConfig
        super().__init__()
        self.num_experts = config.num_local_experts
        self.hidden_size = config.hidden_size
        self.intermediate_size = config.intermediate_size
        self.alpha = getattr(config, "swiglu_alpha", 1.702)
        self.limit = getattr(config, "swiglu_limit", 7.0)
        self.gate_up_projs = nn.ModuleList(
            nn.Linear(self.hidden_size, 2 * self.intermediate_size) for _ in range(self.num_experts))
        self.down_projs = nn.ModuleList(
            nn.Linear(self.intermediate_size, self.hidden_size) for _ in range(self.num_experts))
        # transformers' weight initialisation looks for the stacked tensors: empty, never saved
        for name in ("gate_up_proj", "gate_up_proj_bias", "down_proj", "down_proj_bias"):
            self.register_buffer(name, torch.empty(0), persistent=False)

    def _apply_gate(self, gate_up: torch.Tensor) -> torch.Tensor:
        gate, up = gate_up[..., ::2], gate_up[..., 1::2]
        gate = gate.clamp(max=self.limit)
        up = up.clamp(min=-self.limit, max=self.limit)
        return (up + 1) * (gate * torch.sigmoid(gate * self.alpha))

    def forward(self, hidden_states: torch.Tensor, router_indices: torch.Tensor,
                routing_weights: torch.Tensor) -> torch.Tensor:
        next_states = torch.zeros_like(hidden_states)
        with torch.no_grad():
            hit = torch.unique(router_indices).tolist()
        for expert in hit:
            tokens, slot = torch.where(router_indices == expert)
            hidden = self._apply_gate(self.gate_up_projs[expert](hidden_states[tokens]))
            out = self.down_projs[expert](hidden.to(hidden_states.dtype))
            weighted = out * routing_weights[tokens, slot, None].to(out.dtype)
            next_states.index_add_(0, tokens, weighted.to(hidden_states.dtype))
        return next_states


_SWAP_LOCK = threading.Lock()


@contextlib.contextmanager
def split_layout_modules() -> Iterator[None]:
    """transformers' GPT-OSS builds SplitExperts and SplitExpertsRouter while inside (one thread at a time);
    models built before or after keep transformers' own classes."""
    from transformers.models.gpt_oss import modeling_gpt_oss as modeling

    with _SWAP_LOCK:
        experts, router = modeling.GptOssExperts, modeling.GptOssTopKRouter
        modeling.GptOssExperts, modeling.GptOssTopKRouter = SplitExperts, SplitExpertsRouter
        try:
            yield
        finally:
            modeling.GptOssExperts, modeling.GptOssTopKRouter = experts, router
