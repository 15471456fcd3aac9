"""Sampling on the device, with no host synchronisation, so it can live inside a CUDA graph.

Same semantics as the generate path (rollout.py): each row's logits divided by that row's
temperature, then top-p over the result (transformers' TopPLogitsWarper rule: keep the most likely
tokens until their mass reaches top_p, at least one), then a draw by inverse CDF: one uniform per
row and token, the first token whose cumulative probability reaches it.

The uniform is counter-based: a hash of the row's key and the token's position. A row keyed by
(seed, step, problem slot, candidate) (sampling_key) samples the same tokens whichever process
or batch it is generated in, which is what makes N data-parallel ranks equal one process.
"""

from __future__ import annotations

import torch

_MASK32 = 0xFFFFFFFF


def sampling_key(*parts: int) -> int:
    """A 63-bit key from integers (seed, step, slot, candidate): splitmix64 over them, in Python."""
    value = 0x243F6A8885A308D3
    for part in parts:
        value = (value ^ (part & 0xFFFFFFFFFFFFFFFF)) + 0x9E3779B97F4A7C15 & 0xFFFFFFFFFFFFFFFF
        value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
        value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
        value ^= value >> 31
    return value >> 1


def _fmix32(h: torch.Tensor) -> torch.Tensor:
    """MurmurHash3's finaliser on int64 tensors holding 32-bit values (products wrap, low bits kept)."""
    h = h ^ (h >> 16)
    h = (h * 0x85EBCA6B) & _MASK32
    h = h ^ (h >> 13)
    h = (h * 0xC2B2AE35) & _MASK32
    return h ^ (h >> 16)


def counter_uniform(row_keys: torch.Tensor, position: torch.Tensor) -> torch.Tensor:
    """A uniform in (0, 1) per row: a function of (row key, position) alone. row_keys [B] int64, position [1]."""
    low, high = row_keys & _MASK32, (row_keys >> 32) & _MASK32
    h = _fmix32((low + (position * 0x9E3779B1 & _MASK32)) & _MASK32)
    h = _fmix32(h ^ high)
    h = _fmix32((h + (position & _MASK32)) & _MASK32)
    return (h.to(torch.float64) + 0.5).div_(2.0**32).to(torch.float32)


def top_p_mask(logprobs: torch.Tensor, top_p: float) -> torch.Tensor:
    """True for the tokens top-p sampling drops: those whose more likely tokens already hold top_p."""
    sorted_logprobs, order = torch.sort(logprobs, dim=-1, descending=True)
    sorted_probs = sorted_logprobs.exp()
    mass_before = sorted_probs.cumsum(dim=-1) - sorted_probs
    drop_sorted = mass_before >= top_p
    drop_sorted[..., 0] = False
    return torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)


def sample_rows(logits: torch.Tensor, temperatures: torch.Tensor, top_p: float, row_keys: torch.Tensor | None = None,
                position: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """One token per row from float32 logits [B, V]; returns (tokens [B], their log-probabilities [B]).

    With row_keys and position the draw is counter-based (counter_uniform); without, its uniforms
    come from torch's generator. The log-probability is under the temperature-scaled distribution
    before top-p, the quantity the trainer's forward pass computes for the same token (logprobs.py).
    """
    logprobs = torch.log_softmax(logits / temperatures[:, None], dim=-1)
    probs = logprobs.exp()
    if top_p < 1.0:
        probs = probs.masked_fill(top_p_mask(logprobs, top_p), 0.0)
    if row_keys is None or position is None:
        uniform = torch.rand(logits.shape[0], device=logits.device)
    else:
        uniform = counter_uniform(row_keys, position)
    cumulative = probs.cumsum(dim=-1)
    target = (uniform * cumulative[:, -1]).clamp_(min=torch.finfo(torch.float32).tiny)
    tokens = torch.searchsorted(cumulative, target[:, None]).clamp_(max=logits.shape[-1] - 1)[:, 0]
    return tokens, logprobs.gather(-1, tokens[:, None])[:, 0]
