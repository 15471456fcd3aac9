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

from arc_console.decoding.decoder_ops import (
    EAGER_OPS,
    DecodeOps,
    attend,
    rms_norm,
    rotate,
    route,
    swiglu,
)
from arc_console.decoding.decoder_weights import (
    CompactExperts,
    DecoderWeights,
    GroupedMatmul,
    LayerWeights,
    PackedExperts,
)
from arc_console.decoding.fp8_experts import fp8_grouped_matmul
from arc_console.decoding.nf4_kernel import nf4_grouped_matmul

PREFILL_CHUNK_TOKENS = 512  # queries per attention block in a prefill: memory O(prompt * chunk), not O(prompt^2)
DENSE_MOE_MAX_TOKENS = 64  # up to this many tokens every expert runs on every token (no data-dependent shapes)


def moe(x: torch.Tensor, layer: LayerWeights, weights: DecoderWeights, gate_up_w: torch.Tensor, down_w: torch.Tensor,
        grouped: bool = False) -> torch.Tensor:
    """Top-k routed experts for x [N, H]: dense over all experts for few tokens, per expert otherwise.

    gate_up_w [E, H, 2I] and down_w [E, I, H] are the layer's expert matrices (maybe just dequantized).
    """
    router_logits, top_experts, routing = route(x, layer.router_weight, layer.router_bias, weights.experts_per_token)
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


def fused_expert_matmul(experts: CompactExperts, compute_dtype: torch.dtype,
                        ops: DecodeOps = EAGER_OPS) -> GroupedMatmul | None:
    """A kernel that reads these compact experts as they are (NF4 or fp8), or None where none runs here."""
    if isinstance(experts, PackedExperts):
        return nf4_grouped_matmul(experts, compute_dtype)
    return fp8_grouped_matmul(experts, compute_dtype, ops.quantize_rows)


def moe_grouped(x: torch.Tensor, layer: LayerWeights, weights: DecoderWeights, gate_up_mm: GroupedMatmul,
                down_mm: GroupedMatmul, top_experts: torch.Tensor, routing: torch.Tensor,
                ops: DecodeOps = EAGER_OPS) -> torch.Tensor:
    """Routed rows sorted by expert through two grouped GEMMs: only the experts in use are read."""
    rows, place, sorted_experts, row_ends = ops.sort_by_expert(x, top_experts, weights.num_experts)
    hidden = ops.expert_activation(gate_up_mm(rows, row_ends), layer.gate_up_bias, sorted_experts,
                                   weights.swiglu_alpha, weights.swiglu_limit)
    return ops.combine_experts(down_mm(hidden, row_ends), layer.down_bias, sorted_experts, routing, place)


def chunked_attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, sinks: torch.Tensor, window: int | None,
                   chunk: int) -> torch.Tensor:
    """Causal attention of a whole prompt (q [Hq, T, D], k, v [Hkv, T, D]) in blocks of `chunk` queries,
    each against only the keys it may see: the scores of a block are [Hq, chunk, <= T], so memory grows
    with T * chunk, not T^2 (a long ARC prompt's full score matrix ran an H200 out of memory).
    Equal to one unchunked `attend`: each query's softmax sees the same keys and the sink."""
    length = q.shape[1]
    positions = torch.arange(length, device=q.device)
    blocks = []
    for begin in range(0, length, chunk):
        end = min(begin + chunk, length)
        first_key = 0 if window is None else max(0, begin - window + 1)
        queries, keys = positions[begin:end], positions[first_key:end]
        allowed = keys[None, :] <= queries[:, None]
        if window is not None:
            allowed &= keys[None, :] > queries[:, None] - window
        blocks.append(attend(q[None, :, begin:end], k[None, :, first_key:end], v[None, :, first_key:end],
                             allowed[None], sinks)[0])
    return blocks[0] if len(blocks) == 1 else torch.cat(blocks)


class StaticDecoder:
    """A KV cache for `batch` rows of up to `max_len` tokens and the forward passes that fill it."""

    def __init__(self, weights: DecoderWeights, batch: int, max_len: int, grouped_experts: bool = False,
                 fused_experts: bool = False, ops: DecodeOps = EAGER_OPS) -> None:
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
        # Compact experts are dequantized into one target shared by every layer in turn, made on first
        # need: where fused kernels read them (the GPU default) it is never needed (1.6 GB on 20B).
        self._gate_up_buffer: torch.Tensor | None = None
        self._down_buffer: torch.Tensor | None = None
        self.use_ops(ops, fused_experts)

    def use_ops(self, ops: DecodeOps, fused_experts: bool = True) -> None:
        """Decode with these ops (and fused expert kernels where asked and available), the cache kept."""
        self.ops = ops  # the decode step's functions, eager or compiled (the prefill's are always eager)
        # Decode steps with grouped experts may read compact experts through a fused kernel instead.
        self.fused_kernels: list[tuple[GroupedMatmul, GroupedMatmul]] | None = None
        self._prefill_kernels: list[tuple[GroupedMatmul, GroupedMatmul]] | None = None
        if fused_experts and self.grouped_experts and self.weights.compact_experts:
            kernels = self._fused_kernels(ops)
            if all(a is not None and b is not None for a, b in kernels):
                self.fused_kernels = kernels
                # Prompts vary in length: their kernels take eager helpers, since compiled ones are
                # compiled for the decode step's fixed shapes (a new shape would recompile mid-run).
                self._prefill_kernels = kernels if ops is EAGER_OPS else self._fused_kernels(EAGER_OPS)

    def _fused_kernels(self, ops: DecodeOps) -> list[tuple[GroupedMatmul | None, GroupedMatmul | None]]:
        dtype = self.weights.dtype
        return [(fused_expert_matmul(layer.gate_up, dtype, ops), fused_expert_matmul(layer.down, dtype, ops))
                for layer in self.weights.layers]

    def expert_matrices(self, layer: LayerWeights) -> tuple[torch.Tensor, torch.Tensor]:
        """The layer's experts as [E, H, 2I] and [E, I, H] (views of freshly dequantized buffers when compact)."""
        if isinstance(layer.gate_up, torch.Tensor) and isinstance(layer.down, torch.Tensor):
            return layer.gate_up, layer.down
        if self._gate_up_buffer is None or self._down_buffer is None:
            device, dtype = self.weights.embed.device, self.weights.dtype
            self._gate_up_buffer = torch.empty(layer.gate_up.buffer_shape, dtype=dtype, device=device)
            self._down_buffer = torch.empty(layer.down.buffer_shape, dtype=dtype, device=device)
        layer.gate_up.dequantize_into(self._gate_up_buffer)
        layer.down.dequantize_into(self._down_buffer)
        return layer.gate_up.matrices(self._gate_up_buffer), layer.down.matrices(self._down_buffer)

    @property
    def cache_bytes(self) -> int:
        """The KV cache and the dequantization buffers."""
        tensors = self.keys + self.values + [t for t in (self._gate_up_buffer, self._down_buffer) if t is not None]
        return sum(t.numel() * t.element_size() for t in tensors)

    def prefill(self, prompt: torch.Tensor, rows: slice, width: int, chunk: int = PREFILL_CHUNK_TOKENS) -> torch.Tensor:
        """Run one prompt [T] once, store its keys/values in `rows` at slots [width - T, width);
        returns the float32 logits after its last token. Attention runs `chunk` queries at a time."""
        w = self.weights
        length = prompt.shape[0]
        start = width - length
        self.pads[rows] = start
        positions = torch.arange(length, device=prompt.device)
        cos, sin = w.cos[positions], w.sin[positions]
        x = w.embed[prompt]
        for index, layer in enumerate(w.layers):
            q, k, v = self._qkv(layer, rms_norm(x, layer.input_norm, w.rms_eps), EAGER_OPS)
            q = q.view(length, w.num_heads, w.head_dim).transpose(0, 1)
            k = k.view(length, w.num_kv_heads, w.head_dim).transpose(0, 1)
            v = v.view(length, w.num_kv_heads, w.head_dim).transpose(0, 1)
            q, k = rotate(q, cos[None], sin[None]), rotate(k, cos[None], sin[None])
            self.keys[index][rows, :, start:width] = k
            self.values[index][rows, :, start:width] = v
            attended = chunked_attend(q, k, v, layer.sinks, layer.sliding_window, chunk)
            x = x + layer.o(attended)
            # Through the fused kernels, or one grouped GEMM, when decoding uses them: no host sync per expert.
            x = x + self._experts(rms_norm(x, layer.post_attention_norm, w.rms_eps), index, layer,
                                  self._prefill_kernels, EAGER_OPS)
        last = rms_norm(x[-1:], w.final_norm, w.rms_eps)
        return F.linear(last, w.lm_head).float()[0]

    @staticmethod
    def _qkv(layer: LayerWeights, normed: torch.Tensor, ops: DecodeOps) -> tuple[torch.Tensor, ...]:
        if layer.qkv is not None:
            return layer.qkv(normed, ops)
        return layer.q(normed, ops), layer.k(normed, ops), layer.v(normed, ops)

    def _experts(self, normed: torch.Tensor, index: int, layer: LayerWeights,
                 kernels: list[tuple[GroupedMatmul, GroupedMatmul]] | None, ops: DecodeOps) -> torch.Tensor:
        """The layer's MoE through its fused kernels where they serve, else through its (dequantized) matrices."""
        w = self.weights
        if self.grouped_experts and self.fused_kernels is not None and kernels is not None:
            _, top_experts, routing = ops.route(normed, layer.router_weight, layer.router_bias, w.experts_per_token)
            return moe_grouped(normed, layer, w, *kernels[index], top_experts, routing, ops)
        return moe(normed, layer, w, *self.expert_matrices(layer), grouped=self.grouped_experts)

    def decode(self, tokens: torch.Tensor, slot: torch.Tensor) -> torch.Tensor:
        """One token per row: tokens [B] go into cache slot `slot` (a 1-element device tensor);
        returns float32 logits [B, vocab]. Allocates nothing on the host, never synchronises."""
        w, ops = self.weights, self.ops
        positions = slot - self.pads  # [B]
        cos, sin = w.cos[positions][:, None, None], w.sin[positions][:, None, None]  # [B, 1, 1, D/2]
        visible = (self.slot_index[None, :] >= self.pads[:, None]) & (self.slot_index[None, :] <= slot)
        masks = {None: visible[:, None, :]}  # per sliding window, built once a step rather than once a layer
        for window in {layer.sliding_window for layer in w.layers} - {None}:
            masks[window] = (visible & (self.slot_index[None, :] > slot - window))[:, None, :]
        x = w.embed[tokens]
        for index, layer in enumerate(w.layers):
            q, k, v = self._qkv(layer, ops.rms_norm(x, layer.input_norm, w.rms_eps), ops)
            q = ops.rotate(q.reshape(self.batch, w.num_heads, 1, w.head_dim), cos, sin)
            k = ops.rotate(k.reshape(self.batch, w.num_kv_heads, 1, w.head_dim), cos, sin)
            v = v.reshape(self.batch, w.num_kv_heads, 1, w.head_dim)
            self.keys[index].index_copy_(2, slot, k)
            self.values[index].index_copy_(2, slot, v)
            attended = ops.attend(q, self.keys[index], self.values[index], masks[layer.sliding_window], layer.sinks)[:, 0]
            x = x + layer.o(attended, ops)
            x = x + self._experts(ops.rms_norm(x, layer.post_attention_norm, w.rms_eps), index, layer,
                                  self.fused_kernels, ops)
        return F.linear(ops.rms_norm(x, w.final_norm, w.rms_eps), w.lm_head).float()
