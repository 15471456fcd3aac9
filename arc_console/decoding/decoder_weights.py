"""A GPT-OSS policy's weights as plain tensors for the static decoder.

The decoder reads the model's own tensors wherever they serve as they are, so training updates
(LoRA adapters, or every weight when there is no LoRA) reach it with no copying. It copies only
what it cannot compute with directly: 4-bit attention weights (dequantized once; the base never trains),
and q, k, v joined into one matrix where the base is frozen. 4-bit experts stay packed, dequantized layer
by layer as the decoder runs or read by a fused 4-bit kernel, unless a bf16 or fp8 copy is asked for.

With merge_lora, a frozen base's LoRA adapters are folded into copies of its attention weights (W + scale
* B A; the copies above where they exist, else new ones) instead of run beside them: a decode step then has no adapter kernels at all, and `refresh_lora` re-folds the live
adapters in place (the engine does so before every rollout, so training updates still reach it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from arc_console.decoding.decoder_ops import EAGER_OPS, DecodeOps
from arc_console.decoding.fp8_experts import Fp8Experts, quantize_experts
from arc_console.decoding.packed_experts import GroupedMatmul, PackedExperts, packed_split, packed_stack

EXPERT_FORMATS = ("packed", "bf16", "fp8")

# Experts the decoder cannot multiply as they are: each fills a [E, in, out] buffer layer by layer
# (dequantize_into, matrices), or a fused kernel reads them directly.
CompactExperts = PackedExperts | Fp8Experts


@dataclass
class MergedLoRA:
    """One projection's live adapter folded into the weight the decoder reads: target = base + scale * B A,
    computed in float32 and rounded once to the target's dtype. The target keeps its address (captured
    CUDA graphs read it); `base` gives the frozen base weight, dequantized anew for a 4-bit base so the
    fold costs no second copy of it."""

    target: torch.Tensor
    base: Callable[[], torch.Tensor]
    lora_a: torch.Tensor
    lora_b: torch.Tensor
    scale: float

    def refresh(self) -> None:
        with torch.no_grad():
            delta = torch.matmul(self.lora_b.float(), self.lora_a.float()).mul_(self.scale)
            self.target.copy_(delta.add_(self.base().float()))


class UnsupportedModel(RuntimeError):
    """The static decoder cannot run this model; the message says why."""


@dataclass
class Projection:
    """y = x W^T + b, plus the live LoRA term scale * (x A^T) B^T when an adapter is active."""

    weight: torch.Tensor
    bias: torch.Tensor | None
    lora_a: torch.Tensor | None = None
    lora_b: torch.Tensor | None = None
    lora_scale: float = 0.0

    def __call__(self, x: torch.Tensor, ops: DecodeOps = EAGER_OPS) -> torch.Tensor:
        return ops.project(x, self.weight, self.bias, self.lora_a, self.lora_b, self.lora_scale)


@dataclass
class JoinedQKV:
    """q, k and v with their base weights joined into one [q + k + v outputs, hidden] matrix (views of
    it serve each alone), so a decode step runs one GEMM where it ran three. Only for frozen bases:
    the join is a copy, which training updates of the base would not reach."""

    weight: torch.Tensor
    bias: torch.Tensor | None
    lora_as: tuple[torch.Tensor, ...]  # the live adapter parameters, or () without adapters
    lora_bs: tuple[torch.Tensor, ...]
    lora_scale: float
    sizes: tuple[int, int, int]

    def __call__(self, x: torch.Tensor, ops: DecodeOps = EAGER_OPS) -> tuple[torch.Tensor, ...]:
        joined = ops.project_joined(x, self.weight, self.bias, self.lora_as, self.lora_bs, self.lora_scale)
        return tuple(joined.split(self.sizes, dim=-1))


def join_qkv(q: Projection, k: Projection, v: Projection, base_frozen: bool) -> JoinedQKV | None:
    """The joined form of q, k, v, with q, k, v rewired to views of its weight; None where joining
    would change what the decoder computes (a trained base, mixed adapters or scales)."""
    parts = (q, k, v)
    adapters = [p.lora_a is not None and p.lora_b is not None for p in parts]
    if not base_frozen or len(set(adapters)) != 1 or len({p.lora_scale for p in parts}) != 1:
        return None
    if len({p.bias is None for p in parts}) != 1:
        return None
    weight = torch.cat([p.weight for p in parts])
    bias = None if q.bias is None else torch.cat([p.bias for p in parts])
    sizes = tuple(p.weight.shape[0] for p in parts)
    for part, piece in zip(parts, weight.split(sizes)):
        part.weight = piece
    if bias is not None:
        for part, piece in zip(parts, bias.split(sizes)):
            part.bias = piece
    with_lora = adapters[0]
    return JoinedQKV(weight, bias, tuple(p.lora_a for p in parts) if with_lora else (),
                     tuple(p.lora_b for p in parts) if with_lora else (), q.lora_scale, sizes)


@dataclass
class LayerWeights:
    input_norm: torch.Tensor
    post_attention_norm: torch.Tensor
    q: Projection
    k: Projection
    v: Projection
    o: Projection
    sinks: torch.Tensor
    sliding_window: int | None
    router_weight: torch.Tensor
    router_bias: torch.Tensor
    gate_up: torch.Tensor | CompactExperts  # [experts, hidden, 2 * intermediate], gate and up interleaved
    gate_up_bias: torch.Tensor  # [experts, 2 * intermediate]
    down: torch.Tensor | CompactExperts  # [experts, intermediate, hidden]
    down_bias: torch.Tensor  # [experts, hidden]
    qkv: JoinedQKV | None = None  # q, k, v in one GEMM, where the base is frozen


@dataclass
class DecoderWeights:
    embed: torch.Tensor
    layers: list[LayerWeights]
    final_norm: torch.Tensor
    lm_head: torch.Tensor
    cos: torch.Tensor  # [max_positions, head_dim / 2], rotary tables in the compute dtype
    sin: torch.Tensor
    num_heads: int
    num_kv_heads: int
    head_dim: int
    experts_per_token: int
    rms_eps: float
    swiglu_alpha: float
    swiglu_limit: float
    copied_bytes: int = 0  # memory the decoder holds beyond the model's own tensors
    dtype: torch.dtype = field(default=torch.float32)
    merged_lora: list[MergedLoRA] = field(default_factory=list)  # adapters folded into the weights

    def refresh_lora(self) -> None:
        """Fold the adapters' current values into the weights (in place): after training, before decoding."""
        for merged in self.merged_lora:
            merged.refresh()

    @property
    def num_experts(self) -> int:
        return self.layers[0].gate_up_bias.shape[0]

    @property
    def compact_experts(self) -> bool:
        """The experts are 4-bit packed or fp8: a decode step dequantizes them or reads them with a fused kernel."""
        return isinstance(self.layers[0].gate_up, (PackedExperts, Fp8Experts))

    @property
    def experts_format(self) -> str:
        first = self.layers[0].gate_up
        return "packed" if isinstance(first, PackedExperts) else "fp8" if isinstance(first, Fp8Experts) else "bf16"


def _dense(weight: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """The weight as a plain tensor of `dtype`: 4-bit bitsandbytes weights dequantized, others as they are."""
    quant_state = getattr(weight, "quant_state", None)
    if quant_state is not None:
        import bitsandbytes.functional as bnb_functional

        dense = bnb_functional.dequantize_4bit(weight.data, quant_state)
        shape = getattr(weight, "_original_shape", None)
        return (dense if shape is None else dense.reshape(shape)).to(dtype)
    return weight.detach().to(dtype)


def _base_weight(module: Any) -> torch.Tensor:
    """A projection's base weight, under a peft LoRA layer or not."""
    return getattr(module, "base_layer", module).weight


def _projection(module: Any, dtype: torch.dtype) -> Projection:
    base = module
    lora_a = lora_b = None
    scale = 0.0
    if hasattr(module, "base_layer") and hasattr(module, "lora_A"):  # a peft LoRA layer
        base = module.base_layer
        if getattr(module, "use_dora", {}) and any(module.use_dora.values()):
            raise UnsupportedModel("DoRA adapters are not supported by the static decoder")
        active = [name for name in module.active_adapters if name in module.lora_A]
        if active and not module.merged and not module.disable_adapters:
            name = active[0]
            lora_a = module.lora_A[name].weight  # the live parameters: updates reach the decoder
            lora_b = module.lora_B[name].weight
            scale = float(module.scaling[name])
    bias = None if base.bias is None else base.bias.detach().to(dtype)
    return Projection(_dense(base.weight, dtype), bias, lora_a, lora_b, scale)


def _merge_lora(projection: Projection, module: Any, dtype: torch.dtype) -> MergedLoRA | None:
    """Fold the projection's adapter into its weight (a copy, made here if the weight is the model's own
    tensor); the projection then runs without adapter. None where it has no adapter."""
    if projection.lora_a is None or projection.lora_b is None:
        return None
    base = _base_weight(module)
    if projection.weight.data_ptr() == base.data_ptr():
        projection.weight = projection.weight.clone()
    quantized = getattr(base, "quant_state", None) is not None
    merged = MergedLoRA(projection.weight, (lambda: _dense(base, dtype)) if quantized else base.detach,
                        projection.lora_a, projection.lora_b, projection.lora_scale)
    projection.lora_a = projection.lora_b = None
    return merged


ExpertTensors = tuple[torch.Tensor | CompactExperts, torch.Tensor, torch.Tensor | CompactExperts, torch.Tensor]


def _as_fp8(experts: torch.Tensor | PackedExperts, dtype: torch.dtype) -> Fp8Experts:
    if isinstance(experts, PackedExperts):
        buffer = torch.empty(experts.buffer_shape, dtype=dtype, device=experts.packed[0].device)
        experts.dequantize_into(buffer)
        return quantize_experts(experts.matrices(buffer))
    return quantize_experts(experts)


def _experts(experts: Any, dtype: torch.dtype, keep_packed: bool) -> ExpertTensors:
    stacked = getattr(experts, "gate_up_proj", None)
    if isinstance(stacked, torch.Tensor) and stacked.numel() > 0:  # transformers' layout: x @ W
        biases = _dense(experts.gate_up_proj_bias, dtype), _dense(experts.down_proj_bias, dtype)
        quantized = getattr(stacked, "quant_state", None) is not None
        if keep_packed and quantized and getattr(experts.down_proj, "quant_state", None) is not None:
            return packed_stack(experts.gate_up_proj), biases[0], packed_stack(experts.down_proj), biases[1]
        return _dense(experts.gate_up_proj, dtype), biases[0], _dense(experts.down_proj, dtype), biases[1]
    if hasattr(experts, "gate_up_projs"):  # Unsloth's 4-bit layout: one Linear per expert, W x
        def stack(linears: Any) -> tuple[torch.Tensor, torch.Tensor]:
            weights = torch.stack([_dense(m.weight, dtype).t() for m in linears]).contiguous()
            biases = torch.stack([_dense(m.bias, dtype) for m in linears])
            return weights, biases

        if keep_packed:
            packed_gate_up, packed_down = packed_split(experts.gate_up_projs), packed_split(experts.down_projs)
            if packed_gate_up is not None and packed_down is not None:
                gate_up_bias = torch.stack([_dense(m.bias, dtype) for m in experts.gate_up_projs])
                down_bias = torch.stack([_dense(m.bias, dtype) for m in experts.down_projs])
                return packed_gate_up, gate_up_bias, packed_down, down_bias
        gate_up, gate_up_bias = stack(experts.gate_up_projs)
        down, down_bias = stack(experts.down_projs)
        return gate_up, gate_up_bias, down, down_bias
    raise UnsupportedModel(f"unknown experts layout {type(experts).__name__}")


def extract_weights(causal_lm: Any, max_positions: int, experts_format: str = "packed",
                    merge_lora: bool = False) -> DecoderWeights:
    """The decoder's view of a GptOssForCausalLM (plain, peft-wrapped or Unsloth-patched).

    experts_format: "packed" leaves 4-bit experts packed, dequantized layer by layer or read by a
    fused kernel as the decoder runs (little memory; 16-bit experts are used as they are); "bf16"
    copies 4-bit experts once into the compute dtype (2 bytes a parameter); "fp8" copies every
    expert into float8 with per-column scales (1 byte a parameter, read by a scaled grouped GEMM).
    merge_lora: fold the adapters of a frozen base into the attention weights (see MergedLoRA); the
    caller refreshes them after each update with DecoderWeights.refresh_lora.
    """
    if experts_format not in EXPERT_FORMATS:
        raise ValueError(f"experts_format must be one of {', '.join(EXPERT_FORMATS)}, got {experts_format!r}")
    config = causal_lm.config
    if getattr(config, "model_type", None) != "gpt_oss":
        raise UnsupportedModel(f"the static decoder runs GPT-OSS models, not {getattr(config, 'model_type', '?')}")
    body = causal_lm.model
    dtype = body.embed_tokens.weight.dtype
    own = {p.data_ptr() for p in causal_lm.parameters()} | {b.data_ptr() for b in causal_lm.buffers()}

    layers = []
    merged: list[MergedLoRA] = []
    for index, layer in enumerate(body.layers):
        attention, mlp = layer.self_attn, layer.mlp
        gate_up, gate_up_bias, down, down_bias = _experts(mlp.experts, dtype, experts_format != "bf16")
        if experts_format == "fp8":
            gate_up, down = _as_fp8(gate_up, dtype), _as_fp8(down, dtype)
        modules = (attention.q_proj, attention.k_proj, attention.v_proj, attention.o_proj)
        q, k, v, o = (_projection(m, dtype) for m in modules)
        base_frozen = not _base_weight(attention.q_proj).requires_grad
        qkv = join_qkv(q, k, v, base_frozen)
        if merge_lora and base_frozen:  # after the join: q, k and v fold into views of the joined copy
            merged += [m for m in map(_merge_lora, (q, k, v, o), modules, [dtype] * 4) if m is not None]
            if qkv is not None:
                qkv.lora_as = qkv.lora_bs = ()
        layers.append(LayerWeights(
            input_norm=layer.input_layernorm.weight.detach(),
            post_attention_norm=layer.post_attention_layernorm.weight.detach(),
            q=q, k=k, v=v, o=o,
            sinks=attention.sinks.detach(),
            sliding_window=config.sliding_window if config.layer_types[index] == "sliding_attention" else None,
            router_weight=_dense(mlp.router.weight, dtype),
            router_bias=_dense(mlp.router.bias, dtype),
            gate_up=gate_up, gate_up_bias=gate_up_bias, down=down, down_bias=down_bias,
            qkv=qkv,
        ))

    cos, sin = _rotary_tables(body.rotary_emb, max_positions, dtype, body.embed_tokens.weight.device)
    weights = DecoderWeights(
        embed=body.embed_tokens.weight.detach(),
        layers=layers,
        final_norm=body.norm.weight.detach(),
        lm_head=_dense(causal_lm.lm_head.weight, dtype),
        cos=cos,
        sin=sin,
        num_heads=config.num_attention_heads,
        num_kv_heads=config.num_key_value_heads,
        head_dim=getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads,
        experts_per_token=config.num_experts_per_tok,
        rms_eps=config.rms_norm_eps,
        swiglu_alpha=getattr(config, "swiglu_alpha", 1.702),
        swiglu_limit=getattr(config, "swiglu_limit", 7.0),
        dtype=dtype,
        merged_lora=merged,
    )
    weights.refresh_lora()
    copied = {t.data_ptr(): t.numel() * t.element_size() for t in _tensors(weights) if t.data_ptr() not in own}
    weights.copied_bytes = sum(copied.values())
    return weights


def _rotary_tables(rotary: Any, positions: int, dtype: torch.dtype, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin for every position, as transformers' GptOssRotaryEmbedding computes them.

    From its inverse frequencies and scaling (YaRN's included) rather than by calling it, since
    backends may patch its forward; the call is the fallback for a module without them."""
    with torch.no_grad():
        inv_freq = getattr(rotary, "inv_freq", None)
        scaling = getattr(rotary, "attention_scaling", None)
        position = torch.arange(positions, device=device)
        if inv_freq is None or scaling is None:
            cos, sin = rotary(torch.zeros(1, dtype=dtype, device=device), position[None])
            return cos[0].contiguous(), sin[0].contiguous()
        angles = position[:, None].float() * inv_freq.to(device=device, dtype=torch.float32)[None, :]
        return (angles.cos() * scaling).to(dtype), (angles.sin() * scaling).to(dtype)


def _tensors(weights: DecoderWeights) -> list[torch.Tensor]:
    found = [weights.embed, weights.final_norm, weights.lm_head, weights.cos, weights.sin]
    for layer in weights.layers:
        for projection in (layer.q, layer.k, layer.v, layer.o):
            found += [t for t in (projection.weight, projection.bias) if t is not None]
        found += [layer.input_norm, layer.post_attention_norm, layer.sinks, layer.router_weight, layer.router_bias,
                  layer.gate_up_bias, layer.down_bias]
        for experts in (layer.gate_up, layer.down):
            if isinstance(experts, torch.Tensor):
                found.append(experts)
            elif isinstance(experts, Fp8Experts):
                found += [experts.data, experts.scale]
    return found
