"""Candidate answers pooled across views (and models): each distinct grid (in the task's own frame) once, with its
votes, the models that answered it and its scores."""

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
    found_by: dict[str, int] = field(default_factory=dict)  # votes by the model that sampled them ("base", "tuned")
    expert_scores: dict[str, float] = field(default_factory=dict)  # product of experts, by the model that scored

    @property
    def expert_logprob(self) -> float | None:
        """Summed over every view and every model that scored it (the product of experts), when scored."""
        return sum(self.expert_scores.values()) if self.expert_scores else None

    def add_expert_score(self, label: str, score: float) -> None:
        self.expert_scores[label] = score

    @property
    def mean_sample_logprob(self) -> float:
        return sum(self.sample_logprobs) / len(self.sample_logprobs) if self.sample_logprobs else float("-inf")

    def to_dict(self) -> dict[str, Any]:
        logprob = self.expert_logprob
        return {"grid": self.grid, "votes": self.votes, "views": sorted(self.views),
                "mean_sample_logprob": round(self.mean_sample_logprob, 4),
                "expert_logprob": None if logprob is None else round(logprob, 4),
                **({"found_by": dict(self.found_by)} if len(self.found_by) > 1 or "model" not in self.found_by else {}),
                **({"expert_scores": {k: round(v, 4) for k, v in self.expert_scores.items()}}
                   if len(self.expert_scores) > 1 else {})}


class CandidatePool:
    """Adds answers one at a time; keeps first-seen order so ties stay deterministic."""

    def __init__(self) -> None:
        self._by_key: dict[tuple[tuple[int, ...], ...], Candidate] = {}

    def _entry(self, grid: Grid) -> Candidate:
        key = grid_key(grid)
        candidate = self._by_key.get(key)
        if candidate is None:
            candidate = self._by_key[key] = Candidate([list(row) for row in grid])
        return candidate

    def add(self, grid: Grid, view_index: int, sample_logprob: float, source: str = "model") -> Candidate:
        candidate = self._entry(grid)
        candidate.votes += 1
        candidate.views.add(view_index)
        candidate.sample_logprobs.append(sample_logprob)
        candidate.found_by[source] = candidate.found_by.get(source, 0) + 1
        return candidate

    def absorb(self, other: CandidatePool) -> None:
        """Every candidate of `other` (sampled from the same views) added to this pool: votes, views, samples and
        models summed per grid; scores are not carried (a pool is scored once it is whole)."""
        for theirs in other.candidates:
            mine = self._entry(theirs.grid)
            mine.votes += theirs.votes
            mine.views |= theirs.views
            mine.sample_logprobs.extend(theirs.sample_logprobs)
            for source, votes in theirs.found_by.items():
                mine.found_by[source] = mine.found_by.get(source, 0) + votes

    @property
    def candidates(self) -> list[Candidate]:
        return list(self._by_key.values())

    def __len__(self) -> int:
        return len(self._by_key)
