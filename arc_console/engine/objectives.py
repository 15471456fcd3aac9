"""Policy-gradient losses as pure tensor code, each term named after its paper.

Shapes: G groups (one per problem) of K candidates, flattened to B = G*K rows, T completion tokens.
`logp`, `old_logp`, `mask` are [B, T]; `advantages` is [B] (one value per candidate).

Old log-probabilities with per-candidate temperatures: candidate i was sampled from the policy at
temperature T_i, so the behaviour distribution of its tokens is softmax(logits / T_i). Both the
current and the old log-probabilities are computed from logits divided by that candidate's own
T_i, by the same training forward pass (logprobs.py): the importance ratio then compares the
policy with itself at the temperature that generated the sample, and is exactly 1 on the first
update after a rollout. With one update per rollout, old log-probs are the detached current ones.

As verl's core_algos, the surrogate (a per-token loss matrix) is kept apart from its aggregation
(`agg_loss`): an objective is a surrogate, a way to aggregate it and the count it is divided by.
Which objective the trainer runs, and what else it decides (dynamic sampling, micro-batching), is
engine/objective_registry.py's.

References: DAPO (Yu et al. 2025, arXiv 2503.14476): clip-higher, token-level loss, dynamic
sampling, overlong reward shaping. GRPO (Shao et al. 2024, arXiv 2402.03300): group-normalised
advantages, symmetric clip, per-sequence mean (run here without the KL term, beta = 0). Dr. GRPO
(Liu et al. 2025, arXiv 2503.20783, "Understanding R1-Zero-Like Training"): advantages not divided by
the group's std, each sequence's token sum divided by a constant (the generation budget) instead of
its own length, so neither short nor long answers are favoured by the normalisation.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch


SCALE_REWARDS = ("group", "none")
# How a [B, T] loss matrix becomes a scalar (verl's loss_agg_mode names):
TOKEN_MEAN = "token-mean"  # every token of the step alike (DAPO)
SEQ_MEAN_TOKEN_MEAN = "seq-mean-token-mean"  # each sequence's mean, then the mean over sequences (GRPO)
SEQ_MEAN_TOKEN_SUM_NORM = "seq-mean-token-sum-norm"  # token sums over sequences x a constant length (Dr. GRPO)
AGGREGATIONS = (TOKEN_MEAN, SEQ_MEAN_TOKEN_MEAN, SEQ_MEAN_TOKEN_SUM_NORM)


@dataclass
class TokenCounts:
    """Sums over the loss's tokens behind LossStats' fractions. They add up across the micro-batches of
    one update, so the step's fractions are the same as those of one pass over every group."""

    tokens: float = 0.0
    clipped: float = 0.0
    clipped_low: float = 0.0
    clipped_high: float = 0.0
    ratio: float = 0.0
    approx_kl: float = 0.0

    def __add__(self, other: TokenCounts) -> TokenCounts:
        return TokenCounts(*(a + b for a, b in zip(dataclasses.astuple(self), dataclasses.astuple(other))))

    def stats(self, loss: float) -> LossStats:
        tokens = max(self.tokens, 1.0)
        return LossStats(loss=loss, clip_fraction=self.clipped / tokens, ratio_mean=self.ratio / tokens,
                         clip_low_fraction=self.clipped_low / tokens, clip_high_fraction=self.clipped_high / tokens,
                         approx_kl=self.approx_kl / tokens, counts=self)


@dataclass
class LossStats:
    loss: float
    clip_fraction: float  # share of tokens where the clipped surrogate was the one taken
    ratio_mean: float
    clip_low_fraction: float = 0.0  # tokens held at 1 - eps_low (ratio below it, advantage < 0)
    clip_high_fraction: float = 0.0  # tokens held at 1 + eps_high (ratio above it, advantage > 0)
    approx_kl: float = 0.0  # k3 estimate of KL(old || new) over the loss's tokens; 0 on a rollout's first update
    counts: TokenCounts | None = None  # the sums behind the fractions (None: the seed's rule has no ratio)


def group_advantages(rewards: torch.Tensor, scale: str = "group", eps: float = 1e-6) -> torch.Tensor:
    """GRPO/DAPO advantage: each reward minus its group's mean, divided by the group's population std
    (scale "group"; TRL divides by the sample std) or not divided at all (scale "none", Dr. GRPO).
    rewards: [G, K] -> [G, K]. A group whose rewards are all equal gets exactly 0: its float32 mean can
    differ from the rewards by rounding, and that noise divided by a std of ~0 is not a signal."""
    if scale not in SCALE_REWARDS:
        raise ValueError(f"scale must be one of {SCALE_REWARDS}, got {scale!r}")
    centred = rewards - rewards.mean(dim=1, keepdim=True)
    if scale == "group":
        centred = centred / (rewards.std(dim=1, keepdim=True, unbiased=False) + eps)
    flat = (rewards.max(dim=1, keepdim=True).values - rewards.min(dim=1, keepdim=True).values) == 0
    return torch.where(flat, torch.zeros_like(centred), centred)


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


def _masked_stats(was_clipped: torch.Tensor, ratio: torch.Tensor, mask: torch.Tensor, loss: torch.Tensor,
                  advantages: torch.Tensor, eps_low: float, eps_high: float) -> LossStats:
    ratio = ratio.detach()
    advantage = advantages.unsqueeze(1)
    low = ((ratio < 1.0 - eps_low) & (advantage < 0)).float()
    high = ((ratio > 1.0 + eps_high) & (advantage > 0)).float()
    approx_kl = (ratio - 1.0) - torch.log(ratio)  # Schulman's k3: unbiased, never negative
    sums = torch.stack([mask.sum(), (was_clipped * mask).sum(), (low * mask).sum(), (high * mask).sum(),
                        (ratio * mask).sum(), (approx_kl * mask).sum()])
    return TokenCounts(*sums.tolist()).stats(float(loss.detach()))


def agg_loss(loss_mat: torch.Tensor, mask: torch.Tensor, mode: str, denominator: float | None = None) -> torch.Tensor:
    """The scalar loss of a [B, T] per-token loss matrix under `mask` [B, T].

    denominator: what the sum is divided by when these rows are a micro-batch of a larger step (the step's
    tokens for token-mean; its sequences for seq-mean-token-mean; its sequences x the constant length for
    seq-mean-token-sum-norm, which has no default and must be given). By default the rows' own count."""
    if mode == TOKEN_MEAN:
        tokens = mask.sum().clamp(min=1) if denominator is None else max(denominator, 1.0)
        return (loss_mat * mask).sum() / tokens
    if mode == SEQ_MEAN_TOKEN_MEAN:
        per_sequence = (loss_mat * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1)
        # Rows masked out by --mask-truncated count as zeros in the mean over sequences, as in TRL.
        return per_sequence.mean() if denominator is None else per_sequence.sum() / max(denominator, 1.0)
    if mode == SEQ_MEAN_TOKEN_SUM_NORM:
        if denominator is None:
            raise ValueError(f"{mode} divides by a constant: give the denominator (sequences x length)")
        return (loss_mat * mask).sum() / max(denominator, 1.0)
    raise ValueError(f"unknown aggregation {mode!r} (known: {', '.join(AGGREGATIONS)})")


def dapo_loss(logp: torch.Tensor, old_logp: torch.Tensor, advantages: torch.Tensor, mask: torch.Tensor,
              eps_low: float = 0.2, eps_high: float = 0.28,
              denominator: float | None = None) -> tuple[torch.Tensor, LossStats]:
    """DAPO eq. 8: clip-higher surrogate, averaged over every token of the batch (token-level loss),
    so long answers weigh by their length rather than being shrunk to one sequence's worth.
    denominator: the token count to divide by when these rows are a micro-batch of a larger step
    (the step's loss tokens); by default the tokens of `mask`."""
    per_token, was_clipped, ratio = clipped_surrogate(logp, old_logp, advantages, eps_low, eps_high)
    loss = agg_loss(per_token, mask, TOKEN_MEAN, denominator)
    return loss, _masked_stats(was_clipped, ratio, mask, loss, advantages, eps_low, eps_high)


def grpo_loss(logp: torch.Tensor, old_logp: torch.Tensor, advantages: torch.Tensor, mask: torch.Tensor,
              eps: float = 0.2, denominator: float | None = None) -> tuple[torch.Tensor, LossStats]:
    """GRPO eq. 3 (beta = 0): symmetric clip, mean over each sequence's tokens, then over sequences.
    denominator: the step's sequence count when these rows are a micro-batch of it; by default the rows'."""
    per_token, was_clipped, ratio = clipped_surrogate(logp, old_logp, advantages, eps, eps)
    loss = agg_loss(per_token, mask, SEQ_MEAN_TOKEN_MEAN, denominator)
    return loss, _masked_stats(was_clipped, ratio, mask, loss, advantages, eps, eps)


def dr_grpo_loss(logp: torch.Tensor, old_logp: torch.Tensor, advantages: torch.Tensor, mask: torch.Tensor,
                 max_length: int, eps: float = 0.2,
                 denominator: float | None = None) -> tuple[torch.Tensor, LossStats]:
    """Dr. GRPO (beta = 0): GRPO's symmetric clip, every sequence's token sum divided by the same constant,
    `max_length` (the generation budget), then the mean over sequences. Its advantages are the rewards
    less the group mean, not divided by the std (group_advantages(..., "none")).
    denominator: the step's sequences x max_length when these rows are a micro-batch of it; by default
    the rows' own count x max_length."""
    per_token, was_clipped, ratio = clipped_surrogate(logp, old_logp, advantages, eps, eps)
    constant = float(mask.shape[0] * max_length) if denominator is None else denominator
    loss = agg_loss(per_token, mask, SEQ_MEAN_TOKEN_SUM_NORM, constant)
    return loss, _masked_stats(was_clipped, ratio, mask, loss, advantages, eps, eps)


def preference_loss(logp: torch.Tensor, mask: torch.Tensor, accuracies: torch.Tensor, group_size: int,
                    denominator: float | None = None) -> tuple[torch.Tensor, LossStats]:
    """The seed's rule, per group: raise the mean log-likelihood of the most accurate candidate and
    lower the least accurate one, weighted by their accuracy difference. accuracies: [B].
    denominator: the step's group count when these groups are a micro-batch of it; by default theirs."""
    mean_logp = (logp * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1)
    groups = accuracies.view(-1, group_size)
    best = groups.argmax(dim=1)
    worst = groups.argmin(dim=1)
    offsets = torch.arange(groups.shape[0], device=logp.device) * group_size
    weight = groups.max(dim=1).values - groups.min(dim=1).values
    per_group = -weight * (mean_logp[offsets + best] - mean_logp[offsets + worst])
    loss = per_group.mean() if denominator is None else per_group.sum() / max(denominator, 1.0)
    return loss, LossStats(loss=float(loss.detach()), clip_fraction=0.0, ratio_mean=1.0)
