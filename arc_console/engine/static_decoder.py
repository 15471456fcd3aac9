"""GPT-OSS forward passes over a preallocated KV cache, written so one decode step can be a CUDA graph.

transformers' generate spends most of a 20B decode step launching about a thousand small kernels
and building masks on the host; a CUDA graph replays the whole step in one launch, but only if the
step allocates nothing on the host and synchronises never. So here every per-step quantity (the
cache slot being written, each row's padding, which rows have finished) lives in a device tensor,
the cache is written with index_copy_, and masks are built from precomputed position ranges.

Rows are left-padded to a common prompt width: row b's prompt fills cache slots [pads[b], width),
and every row writes decode step t at slot width + t. The same math serves the prefill (one prompt
at a time, its keys and values then copied to each of its K candidate rows) and the decode step.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from arc_console.engine.decoder_weights import DecoderWeights, LayerWeights, PackedExperts
from arc_console.engine.nf4_kernel import GroupedMatmul, nf4_grouped_matmul

DENSE_MOE_MAX_TOKENS = 64  # up to this many tokens every expert runs on every token (no data-dependent shapes)


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    x32 = x.float()
    x32 = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + eps)
    return (weight * x32).to(x.dtype)


def rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """GPT-OSS rotary embedding (halves, not interleaved); cos/sin broadcast over heads."""
    first, second = torch.chunk(x, 2, dim=-1)
    return torch.cat((first * cos - second * sin, second * cos + first * sin), dim=-1)


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


def route(x: torch.Tensor, layer: LayerWeights, weights: DecoderWeights) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(router logits [N, E], each token's top-k experts [N, k], their mixing weights [N, k])."""
    router_logits = F.linear(x, layer.router_weight, layer.router_bias)
    top_values, top_experts = torch.topk(router_logits, weights.experts_per_token, dim=-1)
    return router_logits, top_experts, torch.softmax(top_values, dim=-1)


def moe(x: torch.Tensor, layer: LayerWeights, weights: DecoderWeights, gate_up_w: torch.Tensor, down_w: torch.Tensor,
        grouped: bool = False) -> torch.Tensor:
    """Top-k routed experts for x [N, H]: dense over all experts for few tokens, per expert otherwise.

    gate_up_w [E, H, 2I] and down_w [E, I, H] are the layer's expert matrices (maybe just dequantized).
    """
    router_logits, top_experts, routing = route(x, layer, weights)
    if grouped:
        return moe_grouped(x, layer, weights, lambda rows, ends: torch._grouped_mm(rows, gate_up_w, offs=ends),
                           lambda rows, ends: torch._grouped_mm(rows, down_w, offs=ends), top_experts, routing)
    if x.shape[0] <= DENSE_MOE_MAX_TOKENS:
        # Reads each expert's weights once for all tokens: at decode the step is bound by those reads.
        experts = gate_up_w.shape[0]
        inputs = x.unsqueeze(0).expand(experts, -1, -1)
        hidden = swiglu(torch.baddbmm(layer.gate_up_bias.unsqueeze(1), inputs, gate_up_w),
                        weights.swiglu_alpha, weights.swiglu_limit)
        outputs = torch.baddbmm(layer.down_bias.unsqueeze(1), hidden, down_w)  # [E, N, H]
        mixing = torch.zeros_like(router_logits).scatter(1, top_experts, routing)  # [N, E]
        return torch.einsum("enh,ne->nh", outputs, mixing)
    out = torch.zeros_like(x)
    for expert in torch.unique(top_experts).tolist():
        rows, slot = torch.where(top_experts == expert)
        hidden = swiglu(x[rows] @ gate_up_w[expert] + layer.gate_up_bias[expert],
                        weights.swiglu_alpha, weights.swiglu_limit)
        expert_out = hidden @ down_w[expert] + layer.down_bias[expert]
        out.index_add_(0, rows, expert_out * routing[rows, slot, None])
    return out


def moe_grouped(x: torch.Tensor, layer: LayerWeights, weights: DecoderWeights, gate_up_mm: GroupedMatmul,
                down_mm: GroupedMatmul, top_experts: torch.Tensor, routing: torch.Tensor) -> torch.Tensor:
    """Routed rows sorted by expert through two grouped GEMMs: only the experts in use are read."""
    experts = layer.gate_up_bias.shape[0]
    flat = top_experts.reshape(-1)
    order = torch.argsort(flat, stable=True)
    token_of_row = order // weights.experts_per_token
    counts = torch.zeros(experts, dtype=torch.int32, device=x.device).scatter_add_(
        0, flat, torch.ones_like(flat, dtype=torch.int32))
    row_ends = torch.cumsum(counts, 0, dtype=torch.int32)
    rows = x[token_of_row]
    sorted_experts = flat[order]
    hidden = gate_up_mm(rows, row_ends) + layer.gate_up_bias[sorted_experts]
    hidden = swiglu(hidden, weights.swiglu_alpha, weights.swiglu_limit)
    outputs = down_mm(hidden, row_ends) + layer.down_bias[sorted_experts]
    outputs = outputs * routing.reshape(-1)[order, None].to(outputs.dtype)
    return torch.zeros_like(x).index_add_(0, token_of_row, outputs)


class StaticDecoder:
    """A KV cache for `batch` rows of up to `max_len` tokens and the forward passes that fill it."""

    def __init__(self, weights: DecoderWeights, batch: int, max_len: int, grouped_experts: bool = False,
                 fused_4bit_experts: bool = False) -> None:
        if max_len > weights.cos.shape[0]:
            raise ValueError(f"max_len {max_len} exceeds the rotary table ({weights.cos.shape[0]} positions)")
        self.weights = weights
        self.batch = batch
        self.max_len = max_len
        self.grouped_experts = grouped_experts
        device = weights.embed.device
        shape = (batch, weights.num_kv_heads, max_len, weights.head_dim)
        self.keys = [torch.zeros(shape, dtype=weights.dtype, device=device) for _ in weights.layers]
        self.values = [torch.zeros(shape, dtype=weights.dtype, device=device) for _ in weights.layers]
        self.slot_index = torch.arange(max_len, device=device)
        self.pads = torch.zeros(batch, dtype=torch.long, device=device)
        self._gate_up_buffer = self._down_buffer = None
        if weights.packed_experts:  # one dequantization target shared by every layer, in turn
            gate_up, down = weights.layers[0].gate_up, weights.layers[0].down
            self._gate_up_buffer = torch.empty(gate_up.buffer_shape, dtype=weights.dtype, device=device)
            self._down_buffer = torch.empty(down.buffer_shape, dtype=weights.dtype, device=device)
        # Decode steps with grouped experts may read packed stacks through a fused 4-bit kernel instead.
        self.fused_4bit_kernels: list[tuple[GroupedMatmul, GroupedMatmul]] | None = None
        if fused_4bit_experts and grouped_experts and weights.packed_experts:
            kernels = [(nf4_grouped_matmul(layer.gate_up, weights.dtype), nf4_grouped_matmul(layer.down, weights.dtype))
                       for layer in weights.layers]
            if all(a is not None and b is not None for a, b in kernels):
                self.fused_4bit_kernels = kernels

    def expert_matrices(self, layer: LayerWeights) -> tuple[torch.Tensor, torch.Tensor]:
        """The layer's experts as [E, H, 2I] and [E, I, H] (views of freshly dequantized buffers when packed)."""
        if not isinstance(layer.gate_up, PackedExperts) or not isinstance(layer.down, PackedExperts):
            return layer.gate_up, layer.down
        layer.gate_up.dequantize_into(self._gate_up_buffer)
        layer.down.dequantize_into(self._down_buffer)
        return layer.gate_up.matrices(self._gate_up_buffer), layer.down.matrices(self._down_buffer)

    @property
    def cache_bytes(self) -> int:
        """The KV cache and the dequantization buffers."""
        tensors = self.keys + self.values + [t for t in (self._gate_up_buffer, self._down_buffer) if t is not None]
        return sum(t.numel() * t.element_size() for t in tensors)

    def prefill(self, prompt: torch.Tensor, rows: slice, width: int) -> torch.Tensor:
        """Run one prompt [T] once, store its keys/values in `rows` at slots [width - T, width);
        returns the float32 logits after its last token."""
        w = self.weights
        length = prompt.shape[0]
        start = width - length
        self.pads[rows] = start
        positions = torch.arange(length, device=prompt.device)
        cos, sin = w.cos[positions], w.sin[positions]
        causal = positions[None, :] <= positions[:, None]
        x = w.embed[prompt]
        for index, layer in enumerate(w.layers):
            allowed = causal
            if layer.sliding_window is not None:
                allowed = causal & (positions[None, :] > positions[:, None] - layer.sliding_window)
            normed = rms_norm(x, layer.input_norm, w.rms_eps)
            q = layer.q(normed).view(length, w.num_heads, w.head_dim).transpose(0, 1)
            k = layer.k(normed).view(length, w.num_kv_heads, w.head_dim).transpose(0, 1)
            v = layer.v(normed).view(length, w.num_kv_heads, w.head_dim).transpose(0, 1)
            q, k = rotate(q, cos[None], sin[None]), rotate(k, cos[None], sin[None])
            self.keys[index][rows, :, start:width] = k
            self.values[index][rows, :, start:width] = v
            attended = attend(q[None], k[None], v[None], allowed[None], layer.sinks)[0]
            x = x + layer.o(attended)
            x = x + moe(rms_norm(x, layer.post_attention_norm, w.rms_eps), layer, w, *self.expert_matrices(layer))
        last = rms_norm(x[-1:], w.final_norm, w.rms_eps)
        return F.linear(last, w.lm_head).float()[0]

    def decode(self, tokens: torch.Tensor, slot: torch.Tensor) -> torch.Tensor:
        """One token per row: tokens [B] go into cache slot `slot` (a 1-element device tensor);
        returns float32 logits [B, vocab]. Allocates nothing on the host, never synchronises."""
        w = self.weights
        positions = slot - self.pads  # [B]
        cos, sin = w.cos[positions][:, None, None], w.sin[positions][:, None, None]  # [B, 1, 1, D/2]
        visible = (self.slot_index[None, :] >= self.pads[:, None]) & (self.slot_index[None, :] <= slot)
        x = w.embed[tokens]
        for index, layer in enumerate(w.layers):
            allowed = visible
            if layer.sliding_window is not None:
                allowed = visible & (self.slot_index[None, :] > slot - layer.sliding_window)
            normed = rms_norm(x, layer.input_norm, w.rms_eps)
            q = rotate(layer.q(normed).view(self.batch, w.num_heads, 1, w.head_dim), cos, sin)
            k = rotate(layer.k(normed).view(self.batch, w.num_kv_heads, 1, w.head_dim), cos, sin)
            v = layer.v(normed).view(self.batch, w.num_kv_heads, 1, w.head_dim)
            self.keys[index].index_copy_(2, slot, k)
            self.values[index].index_copy_(2, slot, v)
            attended = attend(q, self.keys[index], self.values[index], allowed[:, None, :], layer.sinks)[:, 0]
            x = x + layer.o(attended)
            normed = rms_norm(x, layer.post_attention_norm, w.rms_eps)
            if self.grouped_experts and self.fused_4bit_kernels is not None:
                _, top_experts, routing = route(normed, layer, w)
                x = x + moe_grouped(normed, layer, w, *self.fused_4bit_kernels[index], top_experts, routing)
            else:
                x = x + moe(normed, layer, w, *self.expert_matrices(layer), grouped=self.grouped_experts)
        return F.linear(rms_norm(x, w.final_norm, w.rms_eps), w.lm_head).float()
