"""One policy update over a step's kept groups: advantages, the objective's loss, backward, clip, step.

A pure step of the optimisation, apart from the trainer's loop: DAPO (token-level mean, clip-higher),
GRPO (sequence mean, symmetric clip) or the seed's preference rule, with DAPO's overlong filtering
(--mask-truncated) and, across ranks, the global normalisation and summed gradients (UpdateShare).
"""

from __future__ import annotations

from typing import Any

import torch

from arc_console.config import TrainConfig
from arc_console.distributed.ranks import Ranks
from arc_console.distributed.update_sync import UpdateShare
from arc_console.engine.logprobs import build_batch, completion_logprobs
from arc_console.engine.objectives import dapo_loss, grpo_loss, group_advantages, preference_loss
from arc_console.engine.phase_timer import PhaseTimer
from arc_console.engine.step_groups import Group


def policy_update(policy: Any, optimizer: torch.optim.Optimizer, scheduler: Any, config: TrainConfig,
                  groups: list[Group], ranks: Ranks, timer: PhaseTimer) -> dict[str, float | None]:
    """Update the policy on `groups`; returns the figures step_metrics logs (loss, grad_norm, clip, KL, ...)."""
    k = config.num_candidates
    params = list(policy.trainable_parameters().values())
    share = UpdateShare(ranks, config.objective)  # distributed: global normalisation, summed gradients
    if not groups:  # distributed: none of the step's kept groups is this rank's
        return share.follow_update(optimizer, scheduler, params, config.updates_per_rollout,
                                   config.max_grad_norm)
    samples = [s for g in groups for s in g.samples]
    batch = build_batch([g.prompt_ids for g in groups for _ in g.samples], [s.completion_ids for s in samples],
                        [s.temperature for s in samples], policy.tokenizer.pad_token_id, policy.device)
    rewards = torch.tensor([g.rewards for g in groups], dtype=torch.float32, device=policy.device)
    advantages = group_advantages(rewards, config.scale_rewards).flatten()
    accuracies = torch.tensor([a for g in groups for a in g.accuracies], device=policy.device)
    loss_mask = batch.completion_mask
    if config.mask_truncated:
        # DAPO's overlong filtering: a truncated completion still shaped its group's advantages above,
        # but none of its tokens enters the loss or the token count.
        kept_rows = torch.tensor([not s.truncated for s in samples], device=loss_mask.device)
        loss_mask = loss_mask * kept_rows.unsqueeze(1).to(loss_mask.dtype)
    share.set_local(groups=len(groups), rows=len(samples), loss_tokens=float(loss_mask.sum()),
                    completion_tokens=float(batch.completion_mask.sum()))
    policy.for_training()
    old_logp = None
    if config.updates_per_rollout > 1 and config.objective != "preference":
        with timer.phase("old_logprobs"):
            old_logp, _ = completion_logprobs(policy, batch, config.logprob_chunk_tokens, with_grad=False)
    stats: dict[str, float | None] = {}
    with timer.phase("update"):
        for update in range(config.updates_per_rollout):
            logp, entropy = completion_logprobs(policy, batch, config.logprob_chunk_tokens, with_grad=True)
            reference = old_logp if old_logp is not None else logp.detach()
            if config.objective == "dapo":
                loss, loss_stats = dapo_loss(logp, reference, advantages, loss_mask, config.eps_low, config.eps_high)
            elif config.objective == "grpo":
                loss, loss_stats = grpo_loss(logp, reference, advantages, loss_mask, config.grpo_eps)
            else:
                loss, loss_stats = preference_loss(logp, loss_mask, accuracies, k)
            optimizer.zero_grad(set_to_none=True)
            (loss * share.loss_scale).backward()
            share.sum_gradients(params)
            grad_norm = torch.nn.utils.clip_grad_norm_(params, config.max_grad_norm)
            optimizer.step()
            if update == 0:
                mask = batch.completion_mask
                stats = {"entropy": float((entropy * mask).sum() / mask.sum().clamp(min=1))}
            loss_stats = share.reduce_stats(loss_stats, stats, first=update == 0)
            # The last update's figures: with several updates per rollout that is where the policy
            # has moved furthest from the one that sampled.
            stats.update(loss=loss_stats.loss, grad_norm=float(grad_norm), clip_fraction=loss_stats.clip_fraction,
                         clip_low_fraction=loss_stats.clip_low_fraction,
                         clip_high_fraction=loss_stats.clip_high_fraction, ratio_mean=loss_stats.ratio_mean,
                         approx_kl=loss_stats.approx_kl if old_logp is not None else None)
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
    return stats
