"""Sampling on the device, with no host synchronisation, so it can live inside a CUDA graph.

Same semantics as the generate path (rollout.py): each row's logits divided by that row's
temperature, then top-p over the result (transformers' TopPLogitsWarper rule: keep the most likely
tokens until their mass reaches top_p, at least one), then a draw. The draw is the Gumbel-max
trick, argmax(log p + Gumbel noise), which picks token i with probability p_i using only
elementwise kernels and one argmax.
"""

from __future__ import annotations

import torch


def top_p_mask(logprobs: torch.Tensor, top_p: float) -> torch.Tensor:
    """True for the tokens top-p sampling drops: those whose more likely tokens already hold top_p."""
    sorted_logprobs, order = torch.sort(logprobs, dim=-1, descending=True)
    sorted_probs = sorted_logprobs.exp()
    mass_before = sorted_probs.cumsum(dim=-1) - sorted_probs
    drop_sorted = mass_before >= top_p
    drop_sorted[..., 0] = False
    return torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)


def sample_rows(logits: torch.Tensor, temperatures: torch.Tensor, top_p: float) -> tuple[torch.Tensor, torch.Tensor]:
    """One token per row from float32 logits [B, V]; returns (tokens [B], their log-probabilities [B]).

    The log-probability is under the temperature-scaled distribution before top-p, the quantity
    the trainer's forward pass computes for the same token (logprobs.py).
    """
    logprobs = torch.log_softmax(logits / temperatures[:, None], dim=-1)
    candidates = logprobs if top_p >= 1.0 else logprobs.masked_fill(top_p_mask(logprobs, top_p), float("-inf"))
    uniform = torch.rand_like(logprobs).clamp_(min=torch.finfo(torch.float32).tiny, max=1.0 - 1e-7)
    tokens = torch.argmax(candidates - torch.log(-torch.log(uniform)), dim=-1)
    return tokens, logprobs.gather(-1, tokens[:, None])[:, 0]
