"""Which tasks a run trained on, and the held-out tasks left once they are taken out.

One rule for `eval` of a run directory or checkpoint and for the held-out evaluation during training
(--eval-every): a task is trained on when its id is one of the run's problems (its --problems, or
every task of its --tasks when --problems is empty). Augmented views (--augment) are views of the
same tasks, so they change nothing here. Torch-free: `eval` decides before it loads a model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from arc_console.arc import Task, TaskError, load_tasks


@dataclass(frozen=True)
class TrainedOn:
    """A run's training problems, as its saved settings name them."""

    source: str  # the run's --tasks
    problem_ids: tuple[str, ...]  # its --problems; () means every task of `source`

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> TrainedOn | None:
        """From a run's saved settings (logs/run.json's config or a checkpoint's); None without a task source."""
        source = config.get("tasks")
        if not isinstance(source, str) or not source:
            return None
        problems = config.get("problems") or []
        if isinstance(problems, str):
            problems = [item.strip() for item in problems.split(",")]
        return cls(source, tuple(str(item) for item in problems if str(item).strip()))

    def task_ids(self) -> set[str]:
        """The ids trained on; every task of the source is loaded when --problems was empty (TaskError
        when the source cannot be loaded any more)."""
        if self.problem_ids:
            return set(self.problem_ids)
        return {task.id for task in load_tasks(self.source)}

    def describe(self) -> str:
        if self.problem_ids:
            return f"{len(self.problem_ids)} problem{'s' if len(self.problem_ids) != 1 else ''} of {self.source}"
        return f"every task of {self.source}"


@dataclass
class HeldOut:
    """`kept`: the tasks not trained on, in their order; `excluded`: the ids left out, in their order."""

    kept: list[Task]
    excluded: list[str] = field(default_factory=list)


def leave_out_trained(tasks: list[Task], trained_ids: set[str] | list[str]) -> HeldOut:
    """The tasks whose ids were not trained on (the one rule of this module)."""
    trained = set(trained_ids)
    return HeldOut([t for t in tasks if t.id not in trained], [t.id for t in tasks if t.id in trained])


def held_out_or_refuse(tasks: list[Task], trained_ids: set[str] | list[str], what: str) -> HeldOut:
    """leave_out_trained, raising a one-line TaskError when no task is left (`what` names the tasks)."""
    held_out = leave_out_trained(tasks, trained_ids)
    if tasks and not held_out.kept:
        raise TaskError(f"{what}: all {len(tasks)} tasks were trained on; nothing is held out")
    return held_out


__all__ = ["HeldOut", "TaskError", "TrainedOn", "held_out_or_refuse", "leave_out_trained"]
