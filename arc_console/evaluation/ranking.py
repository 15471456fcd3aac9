"""Order pooled candidates; the first two become attempt_1 and attempt_2."""

from __future__ import annotations

from arc_console.arc.grids import Grid
from arc_console.evaluation.candidates import Candidate

# Kaggle wants two attempts for every test input; with fewer candidates the rest are this grid.
PLACEHOLDER_GRID: Grid = [[0]]


def rank_by_votes(candidates: list[Candidate]) -> list[Candidate]:
    """Most votes first; ties by the mean log-probability of the samples that answered them."""
    return sorted(candidates, key=lambda c: (-c.votes, -c.mean_sample_logprob))


def rank_by_logprob(candidates: list[Candidate]) -> list[Candidate]:
    """Highest summed log-probability under every view first (the product of experts); ties by votes."""
    def score(candidate: Candidate) -> float:
        return candidate.expert_logprob if candidate.expert_logprob is not None else float("-inf")

    return sorted(candidates, key=lambda c: (-score(c), -c.votes))


def rank(candidates: list[Candidate], method: str) -> list[Candidate]:
    if method == "votes":
        return rank_by_votes(candidates)
    if method == "logprob":
        return rank_by_logprob(candidates)
    raise ValueError(f"unknown ranking {method!r}")


def two_attempts(ranked: list[Candidate]) -> list[Grid]:
    grids = [c.grid for c in ranked[:2]]
    while len(grids) < 2:
        grids.append(grids[0] if grids else PLACEHOLDER_GRID)
    return grids
