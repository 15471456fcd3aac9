"""A step's unit of work: one problem and its K scored candidates."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from arc_console.arc import Task
from arc_console.arc.candidates import best_candidate
from arc_console.decoding.samples import Sample


@dataclass
class Problem:
    task: Task
    prompt: str
    examples_used: int


@dataclass
class Group:
    """One problem's K candidates, scored."""

    problem: Problem
    prompt_ids: list[int]
    samples: list[Sample]
    candidates: list[dict[str, Any]] = field(default_factory=list)
    rewards: list[float] = field(default_factory=list)  # what the policy is trained on
    task_rewards: list[float] = field(default_factory=list)  # the same before the overlong penalty

    @property
    def accuracies(self) -> list[float]:
        return [c["accuracy"] for c in self.candidates]

    def record(self, step: int) -> dict[str, Any]:
        """The seed's step schema (plus per-candidate extras and the test input)."""
        best = best_candidate(self.candidates)
        assert best is not None, "a group is scored before it is recorded"
        return {
            "step": step,
            "problem_id": self.problem.task.id,
            "prompt": self.problem.prompt,
            "target_grid": self.problem.task.test_output,
            "candidates": self.candidates,
            "best_candidate_id": best["candidate_id"],
            "best_accuracy": best["accuracy"],
            "timestamp": datetime.now().isoformat(timespec="seconds"),
            "test_input": self.problem.task.test_input,
            # --augment: the view the problem was shown under; every grid above is the view's.
            **({"view": {**view.to_dict(), "description": view.describe()}}
               if (view := getattr(self.problem, "view", None)) is not None else {}),
        }


def step_record(step: int, groups: list[Group], kept: list[Group], objective: str) -> dict[str, Any]:
    """The step file's record: the first group in the seed's schema, with the other groups drawn beside it."""
    head = groups[0]
    record = head.record(step)
    record["objective"] = objective
    record["skipped"] = head not in kept
    record["groups_drawn"] = len(groups)
    record["groups_kept"] = len(kept)
    if len(groups) > 1:
        record["extra_groups"] = [dict(g.record(step), kept=g in kept, skipped=g not in kept,
                                       dropped=None if g in kept else "degenerate") for g in groups[1:]]
    return record
