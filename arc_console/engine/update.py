"""One policy update over a step's kept groups: advantages, the objective's loss, backward, clip, step.

A pure step of the optimisation, apart from the trainer's loop, shared by the trainer, its ranks and
test-time training: the objective (objective_registry.py) gives the loss, its denominator and its
advantages; DAPO's overlong filtering (--mask-truncated) and, across ranks, the global normalisation and
summed gradients (UpdateShare) apply to every objective. Forward and backward run over micro-batches
of groups (--update-micro-groups), cut into rows where asked (--update-micro-rows), whose gradients add
up to the step's: the loss of each is divided by the whole step's count, and the logged figures are
summed over them before they are divided.
"""

from __future__ import annotations

from typing import Any

import torch

from arc_console.config import TrainConfig
from arc_console.distributed.ranks import Ranks
from arc_console.distributed.update_sync import UpdateShare
from arc_console.engine.logprobs import completion_logprobs
from arc_console.engine.micro_batches import micro_batches
from arc_console.engine.objective_registry import get_objective
from arc_console.engine.objectives import LossStats, TokenCounts
from arc_console.engine.phase_timer import PhaseTimer
from arc_console.engine.step_groups import Group
from arc_console.engine.warm_up import symbolic_lengths


def policy_update(policy: Any, optimizer: torch.optim.Optimizer, scheduler: Any, config: TrainConfig,
                  groups: list[Group], ranks: Ranks, timer: PhaseTimer) -> dict[str, float | None]:
    """Update the policy on `groups`; returns the figures step_metrics logs (loss, grad_norm, clip, KL, ...).
    `scheduler` None: a constant learning rate (test-time training)."""
    objective = get_objective(config.objective)
    params = list(policy.trainable_parameters().values())
    share = UpdateShare(ranks, objective, config)  # distributed: global normalisation, summed gradients
    if not groups:  # distributed: none of the step's kept groups is this rank's
        return share.follow_update(optimizer, scheduler, params, config.updates_per_rollout,
                                   config.max_grad_norm)
    parts, counts = micro_batches(groups, config.update_micro_groups, objective.reward_scale(config),
                                  config.mask_truncated, policy.tokenizer.pad_token_id, policy.device,
                                  config.update_micro_rows)
    share.set_local(counts)
    denominator = objective.denominator(counts, config)
    policy.for_training()
    old_logps = None
    if config.updates_per_rollout > 1 and objective.has_ratio:
        with timer.phase("old_logprobs"), symbolic_lengths():
            old_logps = [completion_logprobs(policy, part.batch, config.logprob_chunk_tokens, with_grad=False)[0]
                         for part in parts]
    stats: dict[str, float | None] = {}
    with timer.phase("update"):
        for update in range(config.updates_per_rollout):
            optimizer.zero_grad(set_to_none=True)
            loss_total, token_counts, entropy_sum = 0.0, TokenCounts(), 0.0
            for index, part in enumerate(parts):
                with symbolic_lengths():  # each step brings new lengths to a backend's compiled code
                    logp, entropy = completion_logprobs(policy, part.batch, config.logprob_chunk_tokens, with_grad=True)
                    reference = old_logps[index] if old_logps is not None else logp.detach()
                    loss, part_stats = objective.loss(logp, reference, part, denominator, config)
                    (loss * share.loss_scale).backward()  # gradients accumulate over the micro-batches
                loss_total += part_stats.loss
                token_counts = token_counts + (part_stats.counts or TokenCounts())
                if update == 0:
                    entropy_sum += float((entropy * part.batch.completion_mask).sum())
            share.sum_gradients(params)
            grad_norm = torch.nn.utils.clip_grad_norm_(params, config.max_grad_norm)
            optimizer.step()
            if update == 0:
                stats = {"entropy": entropy_sum / max(counts.completion_tokens, 1.0)}
            step_stats = (token_counts.stats(loss_total) if objective.has_ratio
                          else LossStats(loss=loss_total, clip_fraction=0.0, ratio_mean=1.0))
            step_stats = share.reduce_stats(step_stats, stats, first=update == 0)
            # The last update's figures: with several updates per rollout that is where the policy
            # has moved furthest from the one that sampled.
            stats.update(loss=step_stats.loss, grad_norm=float(grad_norm), clip_fraction=step_stats.clip_fraction,
                         clip_low_fraction=step_stats.clip_low_fraction,
                         clip_high_fraction=step_stats.clip_high_fraction, ratio_mean=step_stats.ratio_mean,
                         approx_kl=step_stats.approx_kl if old_logps is not None else None)
        if scheduler is not None:
            scheduler.step()
        optimizer.zero_grad(set_to_none=True)
    return stats
