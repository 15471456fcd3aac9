"""A step's draws: its problem slots rolled out, shared among the ranks, and DAPO's dynamic sampling (Yu et
al. 2025, sec. 3.2; verl's filter_groups): over-sample until the batch holds P groups that carry a gradient.

One loop for one process, the ranks and test-time training: a single process is the world of one
(distributed.ranks.single_process answers every collective locally). Slot j of a step is the j-th
problem drawn in it and keys its sampling, so whichever rank rolls it out, its candidates are the same.
Each round (the first draw, then the refills of an objective that refills) splits its slots into
contiguous shares, one per rank; every rank then holds all the round's groups and takes the same
decision on the global count of kept groups. Which groups are kept is the objective's (`keeps`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from arc_console.engine.objective_registry import Objective
from arc_console.engine.step_groups import Group, Problem

# (the problems of these slots, the slots) -> their scored groups, or None when a stop aborted the rollout
RollOut = Callable[[list[Problem], list[int]], "list[Group] | None"]


class Collectives(Protocol):
    """What the draws need of distributed.ranks.Ranks."""

    rank: int
    world_size: int

    def all_reduce_max(self, value: int) -> int: ...

    def all_gather(self, item: Any) -> list[Any]: ...


@dataclass
class Draws:
    groups: list[Group]  # every group rolled out this step, by every rank, in slot order
    kept: list[Group]  # the ones trained on
    rollouts: int  # batched rollouts it took (1 when the first draw filled the batch)
    mine: list[Group] = field(default_factory=list)  # the kept groups this rank rolled out: the ones it trains on


def share_of(start: int, count: int, rank: int, world_size: int) -> range:
    """This rank's contiguous share of the slots start .. start+count-1 (shares differ by at most one)."""
    return range(start + count * rank // world_size, start + count * (rank + 1) // world_size)


def kept_groups(groups: list[Group], objective: Objective, wanted: int) -> list[Group]:
    """The groups the objective trains on; at most `wanted` of them where it refills."""
    kept = [g for g in groups if objective.keeps(g)]
    return kept[:wanted] if objective.refills else kept


def draw_groups(roll_out: RollOut, problem_for_slot: Callable[[int], Problem], objective: Objective, wanted: int,
                max_extra_draws: int, ranks: Collectives) -> Draws | None:
    """Roll out `wanted` problems; where the objective refills, while fewer than `wanted` groups are kept and
    fewer than `max_extra_draws` extra groups were drawn, roll out the next problems (one batch per round).
    None on every rank when any rank's rollout was aborted by a stop request."""
    groups: list[Group] = []
    mine: list[Group] = []
    extra, rounds = 0, 0
    count = wanted
    while True:
        start = len(groups)
        share = share_of(start, count, ranks.rank, ranks.world_size)
        local = roll_out([problem_for_slot(slot) for slot in share], list(share)) if share else []
        if ranks.all_reduce_max(int(local is None)):
            return None
        assert local is not None
        rounds += 1
        everyone = ranks.all_gather(local)
        everyone[ranks.rank] = local  # this rank's own objects: it trains on them
        for part in everyone:
            groups += part
        mine += local
        if not objective.refills:
            break
        kept_count = len([g for g in groups if objective.keeps(g)])
        if kept_count >= wanted or extra >= max_extra_draws:
            break
        count = min(wanted - kept_count, max_extra_draws - extra)
        extra += count
    kept = kept_groups(groups, objective, wanted)
    owned = {id(g) for g in mine}
    return Draws(groups, kept, rounds, [g for g in kept if id(g) in owned])
