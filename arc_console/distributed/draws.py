"""A step's problem slots shared out among the ranks, their groups gathered back to every rank.

Slot j of a step is the j-th problem drawn in it (the cursor's problem + j) and keys its sampling,
so whichever rank rolls it out, its candidates are the same. Each round (the first draw, then
DAPO's refills) splits its slots into contiguous shares, one per rank; every rank then holds all
the round's groups and takes the same decision on the global count of informative groups.
"""

from __future__ import annotations

from collections.abc import Callable

from arc_console.distributed.ranks import Ranks
from arc_console.engine.dynamic_sampling import Draws, informative
from arc_console.engine.step_groups import Group, Problem

RollOut = Callable[[list[Problem], list[int]], "list[Group] | None"]


def share_of(start: int, count: int, rank: int, world_size: int) -> range:
    """This rank's contiguous share of the slots start .. start+count-1 (shares differ by at most one)."""
    return range(start + count * rank // world_size, start + count * (rank + 1) // world_size)


def draw_groups_across_ranks(roll_out: RollOut, problem_for_slot: Callable[[int], Problem], objective: str,
                             wanted: int, max_extra_draws: int, ranks: Ranks) -> tuple[Draws, list[Group]] | None:
    """dynamic_sampling.draw_groups over all ranks: the step's Draws (every group, in slot order) and the
    kept groups this rank rolled out (the ones it trains on). None on every rank when any rank's rollout
    was aborted by a stop request."""
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
        if objective != "dapo":
            break
        kept_count = len(informative(groups, objective))
        if kept_count >= wanted or extra >= max_extra_draws:
            break
        count = min(wanted - kept_count, max_extra_draws - extra)
        extra += count
    kept = informative(groups, objective)
    if objective == "dapo":
        kept = kept[:wanted]
    owned = {id(g) for g in mine}
    return Draws(groups, kept, rounds), [g for g in kept if id(g) in owned]
