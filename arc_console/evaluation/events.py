"""The events an evaluation emits: plain data, so the Textual console and the headless printer draw the same."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from arc_console.arc.grids import Grid


@dataclass(frozen=True)
class EvalStarted:
    model: str
    device: str
    tasks: list[str]
    settings: dict[str, Any]
    out_dir: str
    views: int


@dataclass(frozen=True)
class TaskStarted:
    index: int  # 0-based position in the task list
    task_id: str
    test_input: Grid
    target: Grid | None


@dataclass(frozen=True)
class EvalProgress:
    tokens: int
    max_tokens: int
    tokens_per_s: float


@dataclass(frozen=True)
class TaskAnswered:
    index: int
    task_id: str
    answer: dict[str, Any]  # TaskAnswer.to_dict()
    view_grids: list[list[list[Grid | None]]]  # per test input, per view, each sample's answer (task frame)
    totals: dict[str, Any]  # EvalTotals.as_dict() after this task


@dataclass(frozen=True)
class TestTimeStep:
    """One test-time RL step on the task at hand (evaluation/test_time.py), drawn with the train panels."""

    task_id: str
    step: int
    steps: int
    problem_id: str  # the leave-one-out problem shown
    test_input: Grid
    target: Grid
    temperatures: list[float]
    candidates: list[dict[str, Any]]  # the trainer's candidate records
    history: list[dict[str, Any]]  # this task's step metrics so far


@dataclass(frozen=True)
class EvalLog:
    text: str
    level: str = "info"


@dataclass(frozen=True)
class EvalFinished:
    totals: dict[str, Any]
    stopped: bool
    out_dir: str
    files: list[str] = field(default_factory=list)
    error: str | None = None


EvalEvent = EvalStarted | TaskStarted | EvalProgress | TestTimeStep | TaskAnswered | EvalLog | EvalFinished
EvalSink = Callable[[EvalEvent], None]
