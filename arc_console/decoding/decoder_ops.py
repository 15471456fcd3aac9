"""The tensor math of a GPT-OSS decoder layer, as pure functions of tensors, eager or compiled.

Profiling a 20B decode step at 8 candidates on the H200 (benchmarks/decode_profile.py) showed
about 3,400 kernels a step, 140 per layer: the expert GEMMs took 3 ms of a 12.7 ms step and the
small elementwise kernels around them (norms, rotary, LoRA glue, the attention softmax, routing,
SwiGLU) most of the rest. `DecodeOps.compiled()` runs each of these functions through
torch.compile, which fuses each chain of elementwise kernels into one Triton kernel; a CUDA graph
then replays the fused step. The eager set is the reference (and what runs on a CPU).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields

import torch
import torch.nn.functional as F

from arc_console.decoding.fp8_experts import quantize_rows


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    x32 = x.float()
    x32 = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + eps)
    return (weight * x32).to(x.dtype)


def rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """GPT-OSS rotary embedding (halves, not interleaved); cos/sin broadcast over heads."""
    first, second = torch.chunk(x, 2, dim=-1)
    return torch.cat((first * cos - second * sin, second * cos + first * sin), dim=-1)


def project(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, lora_a: torch.Tensor | None,
            lora_b: torch.Tensor | None, lora_scale: float) -> torch.Tensor:
    """x W^T + b, plus the LoRA term scale * (x A^T) B^T when there is an adapter."""
    y = F.linear(x, weight, bias)
    if lora_a is not None and lora_b is not None:
        low_rank = F.linear(F.linear(x.to(lora_a.dtype), lora_a), lora_b)
        y = y + (low_rank * lora_scale).to(y.dtype)
    return y


def project_joined(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                   lora_as: tuple[torch.Tensor, ...], lora_bs: tuple[torch.Tensor, ...], lora_scale: float) -> torch.Tensor:
    """Several projections of the same x whose base weights are joined along the output: one base GEMM
    and one LoRA-A GEMM (the adapters' A matrices stacked each call, since they train) for all."""
    y = F.linear(x, weight, bias)
    if lora_as:
        low = F.linear(x.to(lora_as[0].dtype), torch.cat(lora_as))
        parts = low.split([a.shape[0] for a in lora_as], dim=-1)
        low_rank = torch.cat([F.linear(part, b) for part, b in zip(parts, lora_bs)], dim=-1)
        y = y + (low_rank * lora_scale).to(y.dtype)
    return y


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, allowed: torch.Tensor, sinks: torch.Tensor) -> torch.Tensor:
    """Grouped-query attention with GPT-OSS's per-head sink logit.

    q [B, Hq, Tq, D]; k, v [B, Hkv, Tk, D]; allowed [B or 1, Tq, Tk] bool. Returns [B, Tq, Hq * D].
    Query heads are grouped by their shared KV head instead of repeating K and V in memory.
    """
    batch, heads, queries, dim = q.shape
    kv_heads, keys = k.shape[1], k.shape[2]
    group = heads // kv_heads
    grouped = q.reshape(batch, kv_heads, group * queries, dim)
    scores = torch.matmul(grouped, k.transpose(-1, -2)).float() * dim**-0.5
    scores = scores.view(batch, kv_heads, group, queries, keys)
    scores = scores.masked_fill(~allowed[:, None, None], float("-inf"))
    sink = sinks.float().view(1, kv_heads, group, 1, 1).expand(batch, -1, -1, queries, 1)
    combined = torch.cat([scores, sink], dim=-1)
    probs = torch.softmax(combined - combined.amax(dim=-1, keepdim=True), dim=-1)[..., :-1]
    out = torch.matmul(probs.to(v.dtype).view(batch, kv_heads, group * queries, keys), v)
    return out.view(batch, kv_heads, group, queries, dim).permute(0, 3, 1, 2, 4).reshape(batch, queries, heads * dim)


def swiglu(gate_up: torch.Tensor, alpha: float, limit: float) -> torch.Tensor:
    gate, up = gate_up[..., ::2], gate_up[..., 1::2]
    gate = gate.clamp(max=limit)
    up = up.clamp(min=-limit, max=limit)
    return (up + 1) * (gate * torch.sigmoid(gate * alpha))


def route(x: torch.Tensor, router_weight: torch.Tensor, router_bias: torch.Tensor,
          experts_per_token: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(router logits [N, E], each token's top-k experts [N, k], their mixing weights [N, k])."""
    router_logits = F.linear(x, router_weight, router_bias)
    top_values, top_experts = torch.topk(router_logits, experts_per_token, dim=-1)
    return router_logits, top_experts, torch.softmax(top_values, dim=-1)


RANK_SORT_MAX_ROWS = 512  # up to this many routed rows (a decode step's), sort by counting, not with a sort kernel


def sort_by_expert(x: torch.Tensor, top_experts: torch.Tensor,
                   num_experts: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Each (token, expert) pair as one row, sorted by expert (stable): (rows [N*k, H], where each pair's
    row went [N*k], expert of each row, each expert's inclusive row end [E] int32) for a grouped GEMM.

    For a decode step's few rows each pair's place is counted with comparisons (elementwise work that
    compiles into one fused kernel) instead of a sort kernel, a scatter and a cumsum."""
    flat = top_experts.reshape(-1)
    pairs = flat.shape[0]
    index = torch.arange(pairs, device=x.device)
    if pairs <= RANK_SORT_MAX_ROWS:
        earlier = (flat[None, :] < flat[:, None]) | ((flat[None, :] == flat[:, None]) & (index[None, :] < index[:, None]))
        place = earlier.sum(dim=1)
        pair_of_row = torch.empty_like(place).scatter_(0, place, index)
        experts = torch.arange(num_experts, device=x.device)
        row_ends = (flat[None, :] <= experts[:, None]).sum(dim=1, dtype=torch.int32)
    else:
        pair_of_row = torch.argsort(flat, stable=True)
        place = torch.empty_like(pair_of_row).scatter_(0, pair_of_row, index)
        counts = torch.zeros(num_experts, dtype=torch.int32, device=x.device).scatter_add_(
            0, flat, torch.ones_like(flat, dtype=torch.int32))
        row_ends = torch.cumsum(counts, 0, dtype=torch.int32)
    return x[pair_of_row // top_experts.shape[1]], place, flat[pair_of_row], row_ends


def expert_activation(hidden: torch.Tensor, gate_up_bias: torch.Tensor, sorted_experts: torch.Tensor,
                      alpha: float, limit: float) -> torch.Tensor:
    return swiglu(hidden + gate_up_bias[sorted_experts], alpha, limit)


def combine_experts(outputs: torch.Tensor, down_bias: torch.Tensor, sorted_experts: torch.Tensor,
                    routing: torch.Tensor, place: torch.Tensor) -> torch.Tensor:
    """Each token's mix of its experts' outputs (rows in expert order; `place` says where each of a
    token's pairs went), [N, H]: a gather and a sum over k, no scatter."""
    outputs = outputs + down_bias[sorted_experts]
    tokens, k = routing.shape
    mine = outputs[place].view(tokens, k, -1) * routing[..., None].to(outputs.dtype)
    return mine.sum(dim=1)


@dataclass(frozen=True)
class DecodeOps:
    """The functions one decode step calls; each is the eager function above or its compiled form."""

    rms_norm: Callable = rms_norm
    rotate: Callable = rotate
    project: Callable = project
    project_joined: Callable = project_joined
    attend: Callable = attend
    route: Callable = route
    sort_by_expert: Callable = sort_by_expert
    expert_activation: Callable = expert_activation
    combine_experts: Callable = combine_experts
    quantize_rows: Callable = quantize_rows  # fp8 experts' activations

    @classmethod
    def compiled(cls) -> DecodeOps:
        """Every function through torch.compile (static shapes: a decode step's never change). Compiling
        happens on first use, i.e. in the engine's trial step, where a failure falls back to eager."""
        eager = cls()
        # Round where eager rounds (each bf16 intermediate). Even so the compiled step agrees less closely
        # with the trainer than the plain one (H200, tiny model: mean |log-prob diff| 0.011-0.022 vs <= 0.007).
        options = {"emulate_precision_casts": True}
        return cls(**{f.name: torch.compile(getattr(eager, f.name), dynamic=False, options=options)
                      for f in fields(cls)})


EAGER_OPS = DecodeOps()
