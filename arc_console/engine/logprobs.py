"""Per-token log-probabilities of sampled completions, computed a chunk of tokens at a time.

Full-vocabulary float logits are only ever built for `chunk_tokens` tokens at once; with gradients
on, a chunk whose logits are large is recomputed in the backward pass (activation checkpointing), so
the peak stays at one chunk of logits instead of batch x length x vocabulary. Small logits (the
built-in tiny model's 107-token vocabulary) are kept instead: recomputing them saves no memory worth
having and costs a second forward of the head on every step.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.utils.checkpoint import checkpoint

from arc_console.engine.backends import Policy

# Checkpoint a chunk's head only when its float logits hold at least this many values (16 MB).
CHECKPOINT_MIN_LOGITS = 4 * 1024 * 1024


@dataclass
class Batch:
    """Prompt + completion rows, left-padded prompts and right-padded completions."""

    input_ids: torch.Tensor  # [B, P + T]
    attention_mask: torch.Tensor  # [B, P + T]
    completion_mask: torch.Tensor  # [B, T] float, 1 on sampled tokens
    temperatures: torch.Tensor  # [B]
    prompt_width: int


def build_batch(prompt_ids: list[list[int]], completions: list[list[int]], temperatures: list[float],
                pad_id: int, device: torch.device) -> Batch:
    """One row per completion; prompt_ids[i] is the prompt of completion i."""
    prompt_width = max(len(p) for p in prompt_ids)
    completion_width = max(1, max(len(c) for c in completions))
    ids, attention, completion_mask = [], [], []
    for prompt, completion in zip(prompt_ids, completions):
        left = prompt_width - len(prompt)
        right = completion_width - len(completion)
        ids.append([pad_id] * left + prompt + completion + [pad_id] * right)
        attention.append([0] * left + [1] * (len(prompt) + len(completion)) + [0] * right)
        completion_mask.append([1.0] * len(completion) + [0.0] * right)
    return Batch(
        input_ids=torch.tensor(ids, device=device),
        attention_mask=torch.tensor(attention, device=device),
        completion_mask=torch.tensor(completion_mask, device=device),
        temperatures=torch.tensor(temperatures, dtype=torch.float32, device=device),
        prompt_width=prompt_width,
    )


def _chunk_logprobs(hidden: torch.Tensor, head: torch.nn.Module, targets: torch.Tensor,
                    temperatures: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    logits = head(hidden).float() / temperatures.unsqueeze(-1)
    log_probs = torch.log_softmax(logits, dim=-1)
    token_logp = log_probs.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    with torch.no_grad():
        entropy = -(log_probs.exp() * log_probs).sum(-1)
    return token_logp, entropy


def completion_logprobs(policy: Policy, batch: Batch, chunk_tokens: int, with_grad: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """(log-probs, entropies), each [B, T], zero where completion_mask is zero.

    Logits are divided by each row's sampling temperature, so log-probs are those of the
    distribution the candidate was actually drawn from (see objectives.py on old log-probs).
    The head (and the log-softmax) sees only the hidden states that predict completion tokens:
    never a prompt position, nor a padded one.
    """
    causal_lm = policy.base_causal_lm()
    position_ids = (batch.attention_mask.cumsum(-1) - 1).clamp(min=0)
    with torch.set_grad_enabled(with_grad):
        hidden = causal_lm.model(
            input_ids=batch.input_ids, attention_mask=batch.attention_mask, position_ids=position_ids, use_cache=False
        ).last_hidden_state
        # The token at position t is predicted from the hidden state at t - 1.
        completion_hidden = hidden[:, batch.prompt_width - 1 : -1]
        targets = batch.input_ids[:, batch.prompt_width :]
        mask = batch.completion_mask.bool()
        flat_hidden = completion_hidden[mask]
        flat_targets = targets[mask]
        flat_temps = batch.temperatures.unsqueeze(1).expand_as(mask)[mask]
        head = causal_lm.lm_head
        recompute = with_grad and chunk_tokens * head.weight.shape[0] >= CHECKPOINT_MIN_LOGITS
        pieces_logp, pieces_entropy = [], []
        for start in range(0, flat_targets.shape[0], chunk_tokens):
            part = slice(start, start + chunk_tokens)
            args = (flat_hidden[part], head, flat_targets[part], flat_temps[part])
            if recompute:
                logp, entropy = checkpoint(_chunk_logprobs, *args, use_reentrant=False)
            else:
                logp, entropy = _chunk_logprobs(*args)
            pieces_logp.append(logp)
            pieces_entropy.append(entropy)
        token_logp = torch.zeros(mask.shape, dtype=torch.float32, device=mask.device)
        token_entropy = torch.zeros(mask.shape, dtype=torch.float32, device=mask.device)
        if pieces_logp:
            token_logp = token_logp.masked_scatter(mask, torch.cat(pieces_logp))
            token_entropy = token_entropy.masked_scatter(mask, torch.cat(pieces_entropy).detach())
    return token_logp, token_entropy
