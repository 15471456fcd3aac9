"""RunView: what the dashboard knows about a run, rebuilt from events. Pure Python, no Textual.

The live trainer, a run directory being watched and a replayed step all feed the same events in,
and the widgets read the same state out.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from arc_console.arc.candidates import best_candidate_id
from arc_console.engine import events as ev


def view_description(record: dict[str, Any]) -> str:
    """'rot90 colours 312...' for a step trained under --augment (its grids are the view's), else ''."""
    view = record.get("view")
    if not isinstance(view, dict) or (view.get("dihedral") == "identity" and view.get("colors") == list(range(10))):
        return ""
    return str(view.get("description") or view.get("dihedral") or "")


@dataclass
class RunView:
    run_dir: str = ""
    model: str = ""
    backend: str = ""
    device: str = ""
    objective: str = ""
    max_steps: int = 0
    num_candidates: int = 0
    step: int = 0  # the step being run or shown
    completed_step: int = 0
    problem_id: str = ""
    test_input: list[list[int]] = field(default_factory=list)
    target: list[list[int]] = field(default_factory=list)
    temperatures: list[float] = field(default_factory=list)
    candidates: list[dict[str, Any]] = field(default_factory=list)
    phase: str = "starting"
    tokens: int = 0
    max_tokens: int = 0
    tokens_per_s: float = 0.0
    step_started_at: float | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    perfect_problems: list[str] = field(default_factory=list)
    early_stop_perfect: int = 0
    paused: bool = False
    pause_pending: bool = False
    stopping: bool = False
    finished: ev.Stopped | None = None
    last_checkpoint: str | None = None
    step_durations: list[float] = field(default_factory=list)
    lost: ev.TrainerLiveness | None = None  # watch: the trainer died or went silent without a stop
    held_out: list[dict[str, Any]] = field(default_factory=list)  # logs/eval.jsonl's lines (--eval-every)
    view_description: str = ""  # --augment: the view the shown step's problem was seen under

    def apply(self, event: ev.Event) -> set[str]:
        """Fold one event in; returns which parts changed: status, candidates, history, log."""
        if isinstance(event, ev.RunStarted):
            self.run_dir, self.model, self.backend = event.run_dir, event.model, event.backend
            self.device, self.objective, self.max_steps = event.device, event.objective, event.max_steps
            self.num_candidates = event.num_candidates
            if event.early_stop_perfect is not None:
                self.early_stop_perfect = event.early_stop_perfect
            self.completed_step = event.start_step - 1
            self.phase = "running"
            self.finished, self.lost = None, None  # started again (watch follows a resume)
            return {"status"}
        if isinstance(event, ev.StepStarted):
            self.step, self.problem_id = event.step, event.problem_id
            self.test_input, self.target, self.temperatures = event.test_input, event.target, event.temperatures
            self.candidates = []
            self.view_description = ""
            self.tokens, self.step_started_at = 0, time.monotonic()
            return {"status", "candidates"}
        if isinstance(event, ev.PhaseChanged):
            self.phase = event.phase
            return {"status"}
        if isinstance(event, ev.RolloutProgress):
            self.tokens, self.max_tokens, self.tokens_per_s = event.tokens, event.max_tokens, event.tokens_per_s
            return {"status"}
        if isinstance(event, ev.CandidateScored):
            if event.step == self.step and event.problem_id == self.problem_id:
                self.candidates.append(event.candidate)
                return {"candidates"}
            return set()
        if isinstance(event, ev.StepFinished):
            return self._finish_step(event)
        if isinstance(event, ev.HistoryLoaded):
            self.history = list(event.history)
            self.perfect_problems = list(dict.fromkeys(str(m.get("problem_id")) for m in self.history if m.get("perfect")))
            self.step_durations = [float(m["step_time_s"]) for m in self.history[-20:] if m.get("step_time_s")]
            if self.history:
                self.completed_step = int(self.history[-1].get("step", 0))
            return {"status", "history"}
        if isinstance(event, ev.CheckpointSaved):
            self.last_checkpoint = event.path
            return {"status"}
        if isinstance(event, ev.Paused):
            self.paused, self.pause_pending, self.phase = True, False, "paused"
            return {"status"}
        if isinstance(event, ev.Resumed):
            self.paused, self.phase = False, "running"
            return {"status"}
        if isinstance(event, ev.Stopped):
            self.finished, self.phase = event, "finished"
            # A source that cannot name them (watch, from files) sends fewer: never forget what the steps showed.
            self.perfect_problems = list(dict.fromkeys([*self.perfect_problems, *event.perfect_problems]))
            self.last_checkpoint = event.checkpoint or self.last_checkpoint
            return {"status"}
        if isinstance(event, ev.HeldOutEvaluated):
            # A resumed run evaluates again from its checkpoint's step: later lines are replaced.
            self.held_out = [row for row in self.held_out if row.get("step", 0) < event.step] + [event.row]
            return {"status", "history"}
        if isinstance(event, ev.LogLine):
            return {"log"}
        if isinstance(event, ev.TrainerLiveness):
            self.lost = None if event.state == "running" else event
            return {"status"}
        return set()

    def _finish_step(self, event: ev.StepFinished) -> set[str]:
        record, metrics = event.record, event.metrics
        self.step = self.completed_step = event.step
        self.problem_id = event.problem_id
        self.step_started_at = None
        if self.finished is not None and event.step > self.finished.step:
            self.finished = None  # a watched run was resumed
        self.lost = None  # a step came: whoever wrote it is alive
        self.target = record.get("target_grid") or self.target
        self.test_input = record.get("test_input") or self.test_input
        self.candidates = list(record.get("candidates", []))
        self.view_description = view_description(record)
        self.temperatures = [c.get("temperature") for c in self.candidates]
        self.history = [m for m in self.history if m.get("step", 0) < event.step] + [metrics]
        if metrics.get("step_time_s") is not None:
            self.step_durations = (self.step_durations + [float(metrics["step_time_s"])])[-20:]
        if metrics.get("perfect") and event.problem_id not in self.perfect_problems:
            self.perfect_problems.append(event.problem_id)
        if metrics.get("tokens_per_s"):
            self.tokens_per_s = float(metrics["tokens_per_s"])
        return {"status", "candidates", "history"}

    # Derived values for the status line.

    def perfect_count(self) -> int:
        """Problems solved perfectly so far: the trainer's count in metrics.jsonl where it is larger than the
        names seen (with --problems-per-step > 1 a step's metrics name only its first problem)."""
        counted = self.history[-1].get("perfect_problems") if self.history else None
        if isinstance(counted, int) and not isinstance(counted, bool):
            return max(counted, len(self.perfect_problems))
        return len(self.perfect_problems)

    def latest_held_out(self) -> dict[str, Any] | None:
        return self.held_out[-1] if self.held_out else None

    def eta_seconds(self) -> float | None:
        if not self.step_durations or not self.max_steps or self.lost is not None:
            return None
        remaining = max(0, self.max_steps - self.completed_step)
        return sum(self.step_durations) / len(self.step_durations) * remaining

    def step_elapsed(self) -> float | None:
        return None if self.step_started_at is None else time.monotonic() - self.step_started_at

    def best_candidate_id(self) -> int | None:
        return best_candidate_id(self.candidates)
