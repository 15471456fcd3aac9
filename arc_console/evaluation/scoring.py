"""The ARC Prize score: two attempts per test output; a task scores the fraction of its test outputs
that an attempt matches exactly; the total is the mean over tasks."""

from __future__ import annotations

from typing import Any

from arc_console.arc.grids import Grid
from arc_console.arc.tasks import Task


def task_score(attempts: list[list[Grid]], targets: list[Grid], tries: int = 2) -> float:
    """Fraction of `targets` matched by one of the first `tries` attempts given for it."""
    right = sum(any(a == target for a in given[:tries]) for given, target in zip(attempts, targets))
    return right / len(targets)


def has_known_outputs(task: Task) -> bool:
    return all(pair.output is not None for pair in task.test)


def score_submission(submission: dict[str, Any], tasks: list[Task]) -> dict[str, Any]:
    """Score a Kaggle submission.json against the tasks' real test outputs, as the ARC Prize does.

    Tasks with hidden test outputs are not scored; a task missing from the submission scores 0.
    """
    scored = [task for task in tasks if has_known_outputs(task)]
    per_task = {}
    for task in scored:
        entries = submission.get(task.id) or []
        attempts = [[entry.get("attempt_1"), entry.get("attempt_2")] if isinstance(entry, dict) else []
                    for entry in entries]
        attempts += [[]] * (len(task.test) - len(attempts))
        per_task[task.id] = task_score(attempts, [pair.output for pair in task.test])  # type: ignore[misc]
    total = sum(per_task.values()) / len(per_task) if per_task else None
    return {"pass_at_2": total, "tasks_scored": len(per_task), "per_task": per_task}
