"""The answer to one task: per test input, two attempts, the pooled candidates and how they scored."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from arc_console.arc.grids import Grid
from arc_console.evaluation.candidates import Candidate


@dataclass
class TestAnswer:
    test_index: int
    attempts: list[Grid]  # attempt_1, attempt_2, in the task's own frame
    candidates: list[Candidate]  # ranked, best first
    target: Grid | None  # None when the test output is hidden
    views_answered: int  # views whose prompt fitted and produced at least one grid
    view_grids: list[list[Grid | None]] = field(default_factory=list)  # per view, each sample's answer mapped back

    @property
    def attempt_right(self) -> list[bool] | None:
        return None if self.target is None else [a == self.target for a in self.attempts]

    @property
    def oracle(self) -> bool | None:
        return None if self.target is None else any(c.grid == self.target for c in self.candidates)

    def to_dict(self) -> dict[str, Any]:
        return {"test_index": self.test_index, "attempt_1": self.attempts[0], "attempt_2": self.attempts[1],
                "right": self.attempt_right, "distinct_candidates": len(self.candidates),
                "top_votes": self.candidates[0].votes if self.candidates else 0, "oracle": self.oracle,
                "views_answered": self.views_answered, "candidates": [c.to_dict() for c in self.candidates[:8]]}


@dataclass
class TaskAnswer:
    task_id: str
    tests: list[TestAnswer]
    tokens: int
    seconds: float
    notes: list[str] = field(default_factory=list)  # e.g. examples dropped to fit the context
    test_time: dict[str, Any] | None = None  # TestTimeReport.to_dict() when test-time RL ran

    @property
    def scored(self) -> bool:
        return all(t.target is not None for t in self.tests)

    def score(self, tries: int) -> float:
        """Fraction of test outputs one of the first `tries` attempts matches (the ARC Prize rule)."""
        return sum(any(a == t.target for a in t.attempts[:tries]) for t in self.tests) / len(self.tests)

    def oracle_score(self) -> float:
        return sum(bool(t.oracle) for t in self.tests) / len(self.tests)

    def to_dict(self) -> dict[str, Any]:
        return {"task_id": self.task_id, "pass_at_2": self.score(2) if self.scored else None,
                "pass_at_1": self.score(1) if self.scored else None,
                "oracle": self.oracle_score() if self.scored else None, "tokens": self.tokens,
                "seconds": round(self.seconds, 3), "notes": self.notes, "tests": [t.to_dict() for t in self.tests],
                **({"test_time": self.test_time} if self.test_time is not None else {})}
