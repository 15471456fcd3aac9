"""One update over every rank's groups: the loss normalised by the step's global count, gradients
summed, the logged figures reduced, so N ranks take the step one process with all the groups takes.

Each objective divides its summed loss by a count of the whole step (DAPO its tokens, GRPO its
sequences, ...: the objective's `denominator`): each rank scales its own mean by its share of that
count, and the sum of the ranks' gradients is the gradient of the global loss.
"""

from __future__ import annotations

import dataclasses
import torch

from arc_console.config import TrainConfig
from arc_console.distributed.ranks import Ranks
from arc_console.engine.micro_batches import StepCounts
from arc_console.engine.objective_registry import Objective
from arc_console.engine.objectives import LossStats

_TOKEN_FIGURES = ("clip_fraction", "clip_low_fraction", "clip_high_fraction", "ratio_mean", "approx_kl")


class UpdateShare:
    def __init__(self, ranks: Ranks, objective: Objective, settings: TrainConfig) -> None:
        self.ranks = ranks
        self.objective = objective
        self.settings = settings  # what the objective's denominator may read (Dr. GRPO: --max-new-tokens)
        self.loss_scale = 1.0
        self.token_share = 1.0
        self.completion_share = 1.0

    def set_local(self, counts: StepCounts) -> None:
        """This rank's counts; learns the global ones (a collective: every rank calls it once per update)."""
        if not self.ranks.distributed:
            return
        total = StepCounts(*self.ranks.all_reduce_sum(list(dataclasses.astuple(counts))))
        denominator = self.objective.denominator
        self.loss_scale = denominator(counts, self.settings) / max(denominator(total, self.settings), 1.0)
        self.token_share = counts.loss_tokens / max(total.loss_tokens, 1.0)
        self.completion_share = counts.completion_tokens / max(total.completion_tokens, 1.0)

    def sum_gradients(self, params: list[torch.nn.Parameter]) -> None:
        self.ranks.sum_gradients(params)

    def reduce_stats(self, stats: LossStats, update_stats: dict[str, float | None], first: bool) -> LossStats:
        """The step's loss and token-weighted figures over all ranks; on the first update also the entropy."""
        if not self.ranks.distributed:
            return stats
        values = [stats.loss * self.loss_scale] + [getattr(stats, name) * self.token_share for name in _TOKEN_FIGURES]
        values.append((update_stats.get("entropy") or 0.0) * self.completion_share if first else 0.0)
        reduced = self.ranks.all_reduce_sum(values)
        if first:
            update_stats["entropy"] = reduced[-1]
        return LossStats(loss=reduced[0], **dict(zip(_TOKEN_FIGURES, reduced[1:-1])))

    def follow_update(self, optimizer: torch.optim.Optimizer, scheduler: torch.optim.lr_scheduler.LRScheduler | None,
                      params: list[torch.nn.Parameter], updates: int, max_grad_norm: float) -> dict[str, float | None]:
        """The update of a rank that holds none of the step's kept groups: the same collectives and optimizer
        steps as the others, with a zero gradient of its own, so its weights stay identical to theirs."""
        self.set_local(StepCounts(0, 0, 0.0, 0.0))
        update_stats: dict[str, float | None] = {}
        for update in range(updates):
            optimizer.zero_grad(set_to_none=True)
            self.sum_gradients(params)
            grad_norm = torch.nn.utils.clip_grad_norm_(params, max_grad_norm)
            optimizer.step()
            stats = self.reduce_stats(LossStats(loss=0.0, clip_fraction=0.0, ratio_mean=0.0), update_stats,
                                      first=update == 0)
            update_stats.update(loss=stats.loss, grad_norm=float(grad_norm), clip_fraction=stats.clip_fraction,
                                clip_low_fraction=stats.clip_low_fraction, clip_high_fraction=stats.clip_high_fraction,
                                ratio_mean=stats.ratio_mean,
                                approx_kl=stats.approx_kl if updates > 1 and self.objective.has_ratio else None)
        if scheduler is not None:
            scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        return update_stats
