"""The events a run emits: the only interface between the trainer and any UI.

Plain dataclasses of plain data (no tensors), so the dashboard, the headless printer and the
replay of a run directory all speak the same vocabulary.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from arc_console.arc.grids import Grid


@dataclass(frozen=True)
class RunStarted:
    run_dir: str
    model: str
    backend: str
    device: str
    objective: str
    start_step: int  # the first step this process will run
    max_steps: int
    num_candidates: int
    problems: list[str]
    resumed_from: str | None = None
    early_stop_perfect: int | None = None  # the run's target (watch reads it from run.json); None: not told


@dataclass(frozen=True)
class StepStarted:
    step: int
    problem_id: str
    test_input: Grid
    target: Grid
    temperatures: list[float]


@dataclass(frozen=True)
class PhaseChanged:
    step: int
    phase: str  # generating | scoring | updating | checkpointing | paused


@dataclass(frozen=True)
class RolloutProgress:
    step: int
    tokens: int  # new tokens generated so far, per candidate (the longest)
    max_tokens: int
    tokens_per_s: float  # all candidates together


@dataclass(frozen=True)
class CandidateScored:
    step: int
    problem_id: str
    candidate: dict[str, Any]  # one entry of the step file's "candidates"


@dataclass(frozen=True)
class StepFinished:
    step: int
    problem_id: str
    metrics: dict[str, Any]  # the step's line of metrics.jsonl
    record: dict[str, Any]  # the step file's content


@dataclass(frozen=True)
class CheckpointSaved:
    step: int
    path: str
    reason: str  # periodic | requested | final


@dataclass(frozen=True)
class HistoryLoaded:
    """Every step's metrics at once: what watch and replay read from metrics.jsonl."""

    history: list[dict[str, Any]]


@dataclass(frozen=True)
class LogLine:
    text: str
    level: str = "info"


@dataclass(frozen=True)
class Paused:
    step: int


@dataclass(frozen=True)
class Resumed:
    step: int


@dataclass(frozen=True)
class Stopped:
    step: int  # the last complete step
    reason: str  # max_steps | early_stop | stop_requested | error
    checkpoint: str | None = None
    final_model: str | None = None
    perfect_problems: list[str] = field(default_factory=list)
    error: str | None = None


@dataclass(frozen=True)
class TrainerLiveness:
    """What watch concluded about the trainer of the run it follows, when that changes."""

    state: str  # running | died | silent
    detail: str


@dataclass(frozen=True)
class HeldOutEvaluated:
    """A held-out evaluation during training (--eval-every): the line it appended to logs/eval.jsonl."""

    step: int
    row: dict[str, Any]  # step, pass_at_2, pass_at_1, oracle, tasks, seconds, tokens, source, settings


Event = (
    RunStarted
    | StepStarted
    | PhaseChanged
    | RolloutProgress
    | CandidateScored
    | StepFinished
    | HistoryLoaded
    | CheckpointSaved
    | LogLine
    | Paused
    | Resumed
    | Stopped
    | TrainerLiveness
    | HeldOutEvaluated
)
EventSink = Callable[[Event], None]
