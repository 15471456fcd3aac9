"""Policy-gradient losses as pure tensor code, each term named after its paper.

Shapes: G groups (one per problem) of K candidates, flattened to B = G*K rows, T completion tokens.
`logp`, `old_logp`, `mask` are [B, T]; `advantages` is [B] (one value per candidate).

Old log-probabilities with per-candidate temperatures: candidate i was sampled from the policy at
temperature T_i, so the behaviour distribution of its tokens is softmax(logits / T_i). Both the
current and the old log-probabilities are computed from logits divided by that candidate's own
T_i, by the same training forward pass (logprobs.py): the importance ratio then compares the
policy with itself at the temperature that generated the sample, and is exactly 1 on the first
update after a rollout. With one update per rollout, old log-probs are the detached current ones.

References: DAPO (Yu et al. 2025, arXiv 2503.14476): clip-higher, token-level loss, dynamic
sampling, overlong reward shaping. GRPO (Shao et al. 2024, arXiv 2402.03300): group-normalised
advantages, symmetric clip, per-sequence mean (run here without the KL term, beta = 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class LossStats:
    loss: float
    clip_fraction: float  # share of tokens where the clipped surrogate was the one taken
    ratio_mean: float
    # The two sides of clip_fraction: ratio below 1-eps_low with a negative advantage, above 1+eps_high with a positive one.
    clip_low_fraction: float = 0.0
    clip_high_fraction: float = 0.0


def group_advantages(rewards: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """GRPO/DAPO advantage: each reward standardised within its group. rewards: [G, K] -> [G, K]."""
    mean = rewards.mean(dim=1, keepdim=True)
    std = rewards.std(dim=1, keepdim=True, unbiased=False)
    return (rewards - mean) / (std + eps)


def informative_groups(rewards: torch.Tensor) -> torch.Tensor:
    """DAPO dynamic sampling: a group whose rewards are all equal has zero advantage everywhere. [G] bool."""
    return (rewards.max(dim=1).values - rewards.min(dim=1).values) > 0


def clipped_surrogate(logp: torch.Tensor, old_logp: torch.Tensor, advantages: torch.Tensor, eps_low: float,
                      eps_high: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """PPO's per-token objective max(-r A, -clip(r, 1-eps_low, 1+eps_high) A); DAPO's clip-higher when eps_high > eps_low.

    Returns (per-token loss, clipped-branch indicator, ratio), all [B, T].
    """
    ratio = torch.exp(logp - old_logp)
    advantage = advantages.unsqueeze(1)
    unclipped = -ratio * advantage
    clipped = -torch.clamp(ratio, 1.0 - eps_low, 1.0 + eps_high) * advantage
    per_token = torch.maximum(unclipped, clipped)
    return per_token, (clipped > unclipped).float(), ratio


def _masked_stats(per_token: torch.Tensor, was_clipped: torch.Tensor, ratio: torch.Tensor, mask: torch.Tensor,
                  loss: torch.Tensor, advantages: torch.Tensor) -> LossStats:
    tokens = mask.sum().clamp(min=1)
    clipped = was_clipped * mask
    # The clipped branch wins only above 1+eps_high when A > 0 and only below 1-eps_low when A < 0.
    negative = (advantages < 0).float().unsqueeze(1)
    return LossStats(
        loss=float(loss.detach()),
        clip_fraction=float(clipped.sum() / tokens),
        ratio_mean=float((ratio.detach() * mask).sum() / tokens),
        clip_low_fraction=float((clipped * negative).sum() / tokens),
        clip_high_fraction=float((clipped * (1 - negative)).sum() / tokens),
    )


def dapo_loss(logp: torch.Tensor, old_logp: torch.Tensor, advantages: torch.Tensor, mask: torch.Tensor,
              eps_low: float = 0.2, eps_high: float = 0.28) -> tuple[torch.Tensor, LossStats]:
    """DAPO eq. 8: clip-higher surrogate, averaged over every token of the batch (token-level loss),
    so long answers weigh by their length rather than being shrunk to one sequence's worth."""
    per_token, was_clipped, ratio = clipped_surrogate(logp, old_logp, advantages, eps_low, eps_high)
    loss = (per_token * mask).sum() / mask.sum().clamp(min=1)
    return loss, _masked_stats(per_token, was_clipped, ratio, mask, loss, advantages)


def grpo_loss(logp: torch.Tensor, old_logp: torch.Tensor, advantages: torch.Tensor, mask: torch.Tensor,
              eps: float = 0.2) -> tuple[torch.Tensor, LossStats]:
    """GRPO eq. 3 (beta = 0): symmetric clip, mean over each sequence's tokens, then over sequences."""
    per_token, was_clipped, ratio = clipped_surrogate(logp, old_logp, advantages, eps, eps)
    per_sequence = (per_token * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1)
    loss = per_sequence.mean()
    return loss, _masked_stats(per_token, was_clipped, ratio, mask, loss, advantages)


def preference_loss(logp: torch.Tensor, mask: torch.Tensor, accuracies: torch.Tensor,
                    group_size: int) -> tuple[torch.Tensor, LossStats]:
    """The seed's rule, per group: raise the mean log-likelihood of the most accurate candidate and
    lower the least accurate one, weighted by their accuracy difference. accuracies: [B]."""
    mean_logp = (logp * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1)
    groups = accuracies.view(-1, group_size)
    best = groups.argmax(dim=1)
    worst = groups.argmin(dim=1)
    offsets = torch.arange(groups.shape[0], device=logp.device) * group_size
    weight = groups.max(dim=1).values - groups.min(dim=1).values
    per_group = -weight * (mean_logp[offsets + best] - mean_logp[offsets + worst])
    loss = per_group.mean()
    return loss, LossStats(loss=float(loss.detach()), clip_fraction=0.0, ratio_mean=1.0)
