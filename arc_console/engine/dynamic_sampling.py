"""DAPO's dynamic sampling (Yu et al. 2025, sec. 3.2; verl's filter_groups): over-sample until the batch
holds P groups that carry a gradient.

A group is informative when its task rewards (accuracy and the size/perfect/no-grid terms, before the
overlong penalty) are not all equal, as the paper filters on accuracy: a group that differs only by the
overlong penalty teaches length, not the task, and is dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from arc_console.engine.step_groups import Group, Problem


def is_informative(values: list[float]) -> bool:
    return max(values) - min(values) > 0


def informative(groups: list[Group], objective: str) -> list[Group]:
    """The groups that carry a gradient. GRPO keeps every group (an all-equal group has advantage 0 but
    counts in its mean over sequences); DAPO keeps those whose task rewards differ; the seed's rule
    needs a best and a worst accuracy that differ."""
    if objective == "grpo":
        return list(groups)
    if objective == "dapo":
        return [g for g in groups if is_informative(g.task_rewards)]
    return [g for g in groups if is_informative(g.accuracies)]


@dataclass
class Draws:
    groups: list[Group]  # every group rolled out this step, in draw order
    kept: list[Group]  # the ones trained on
    rollouts: int  # batched rollouts it took (1 when the first draw filled the batch)


def draw_groups(roll_out: Callable[[list[Problem]], list[Group] | None], next_problem: Callable[[], Problem],
                objective: str, wanted: int, max_extra_draws: int) -> Draws | None:
    """Roll out `wanted` problems; under DAPO, while fewer than `wanted` informative groups are kept and
    fewer than `max_extra_draws` extra groups were drawn, roll out the next problems (one batch per round).
    None when a rollout was aborted by a stop request."""
    groups = roll_out([next_problem() for _ in range(wanted)])
    if groups is None:
        return None
    kept = informative(groups, objective)
    extra, rollouts = 0, 1
    while objective == "dapo" and len(kept) < wanted and extra < max_extra_draws:
        count = min(wanted - len(kept), max_extra_draws - extra)
        extra += count
        more = roll_out([next_problem() for _ in range(count)])
        if more is None:
            return None
        rollouts += 1
        groups += more
        kept = informative(groups, objective)
    if objective == "dapo":
        kept = kept[:wanted]
    return Draws(groups, kept, rollouts)
