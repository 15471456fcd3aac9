"""A GPT-OSS forward pass over whole right-padded sequences, for teacher forcing at scale.

transformers' GptOssForCausalLM launches thousands of small kernels a step and synchronises with the
host in its expert loop; on a GPU that, not arithmetic, bounds the warm start of a small model. This
forward reads the same parameters (so the model trains and saves as itself) and computes the same
function with few, large ops and no host synchronisation: every expert runs densely on every token
(the models it serves have a handful of experts), attention is one masked matmul with GPT-OSS's sinks.
Right padding needs no padding mask: causal attention keeps padding out of every real token's view.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from arc_console.decoding.decoder_ops import attend, rms_norm, rotate, route, swiglu
from arc_console.decoding.decoder_weights import _rotary_tables


class FastGptOss(torch.nn.Module):
    """Logits (and the answer-token loss) of a transformers GptOssForCausalLM, from its own parameters."""

    def __init__(self, causal_lm: torch.nn.Module, max_positions: int) -> None:
        super().__init__()
        self.causal_lm = causal_lm
        config = causal_lm.config
        self.heads, self.kv_heads = config.num_attention_heads, config.num_key_value_heads
        self.head_dim = getattr(config, "head_dim", None) or config.hidden_size // self.heads
        self.windows = [config.sliding_window if kind == "sliding_attention" else None for kind in config.layer_types]
        self.top_k, self.eps = config.num_experts_per_tok, config.rms_norm_eps
        self.alpha, self.limit = getattr(config, "swiglu_alpha", 1.702), getattr(config, "swiglu_limit", 7.0)
        body = causal_lm.model
        cos, sin = _rotary_tables(body.rotary_emb, max_positions, torch.float32, body.embed_tokens.weight.device)
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)

    def allowed(self, length: int, window: int | None, device: torch.device) -> torch.Tensor:
        positions = torch.arange(length, device=device)
        mask = positions[None, :] <= positions[:, None]
        if window is not None:
            mask &= positions[None, :] > positions[:, None] - window
        return mask[None]

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        batch, length = ids.shape
        body = self.causal_lm.model
        x = body.embed_tokens(ids)
        cos, sin = self.cos[:length].to(x.dtype)[None, None], self.sin[:length].to(x.dtype)[None, None]
        masks = {w: self.allowed(length, w, ids.device) for w in set(self.windows)}
        for layer, window in zip(body.layers, self.windows):
            attention = layer.self_attn
            h = rms_norm(x, layer.input_layernorm.weight, self.eps)
            q = attention.q_proj(h).view(batch, length, self.heads, self.head_dim).transpose(1, 2)
            k = attention.k_proj(h).view(batch, length, self.kv_heads, self.head_dim).transpose(1, 2)
            v = attention.v_proj(h).view(batch, length, self.kv_heads, self.head_dim).transpose(1, 2)
            q, k = rotate(q, cos, sin), rotate(k, cos, sin)
            x = x + attention.o_proj(attend(q, k, v, masks[window], attention.sinks))
            h = rms_norm(x, layer.post_attention_layernorm.weight, self.eps)
            x = x + self.experts(h.reshape(batch * length, -1), layer.mlp).view(batch, length, -1)
        return self.causal_lm.lm_head(rms_norm(x, body.norm.weight, self.eps))

    def experts(self, x: torch.Tensor, mlp: torch.nn.Module) -> torch.Tensor:
        experts = mlp.experts
        router_logits, top_experts, routing = route(x, mlp.router.weight, mlp.router.bias, self.top_k)
        count = experts.gate_up_proj.shape[0]
        inputs = x.unsqueeze(0).expand(count, -1, -1)
        hidden = swiglu(torch.baddbmm(experts.gate_up_proj_bias.unsqueeze(1).to(x.dtype), inputs,
                                      experts.gate_up_proj.to(x.dtype)), self.alpha, self.limit)
        outputs = torch.baddbmm(experts.down_proj_bias.unsqueeze(1).to(x.dtype), hidden, experts.down_proj.to(x.dtype))
        mixing = torch.zeros_like(routing[:, :1]).expand_as(router_logits).contiguous().scatter(1, top_experts, routing)
        return torch.einsum("enh,ne->nh", outputs, mixing.to(outputs.dtype))

    def loss(self, ids: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy of each labelled token given the tokens before it (labels -100 are left out)."""
        logits = self(ids)[:, :-1].float()
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1), ignore_index=-100)
