"""Candidate answers pooled across views: each distinct grid (in the task's own frame) once, with its votes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from arc_console.arc.grids import Grid


def grid_key(grid: Grid) -> tuple[tuple[int, ...], ...]:
    return tuple(tuple(row) for row in grid)


@dataclass
class Candidate:
    grid: Grid  # in the task's own frame
    votes: int = 0  # samples, over all views, that answered this grid
    views: set[int] = field(default_factory=set)  # the views whose samples answered it
    sample_logprobs: list[float] = field(default_factory=list)  # each such sample's log-probability
    expert_logprob: float | None = None  # summed over every view (product of experts), when scored

    @property
    def mean_sample_logprob(self) -> float:
        return sum(self.sample_logprobs) / len(self.sample_logprobs) if self.sample_logprobs else float("-inf")

    def to_dict(self) -> dict[str, Any]:
        return {"grid": self.grid, "votes": self.votes, "views": sorted(self.views),
                "mean_sample_logprob": round(self.mean_sample_logprob, 4),
                "expert_logprob": None if self.expert_logprob is None else round(self.expert_logprob, 4)}


class CandidatePool:
    """Adds answers one at a time; keeps first-seen order so ties stay deterministic."""

    def __init__(self) -> None:
        self._by_key: dict[tuple[tuple[int, ...], ...], Candidate] = {}

    def add(self, grid: Grid, view_index: int, sample_logprob: float) -> Candidate:
        key = grid_key(grid)
        candidate = self._by_key.get(key)
        if candidate is None:
            candidate = self._by_key[key] = Candidate([list(row) for row in grid])
        candidate.votes += 1
        candidate.views.add(view_index)
        candidate.sample_logprobs.append(sample_logprob)
        return candidate

    @property
    def candidates(self) -> list[Candidate]:
        return list(self._by_key.values())

    def __len__(self) -> int:
        return len(self._by_key)
