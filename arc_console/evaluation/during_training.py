"""Held-out evaluation during training (--eval-every N --eval-tasks SOURCE --eval-limit M).

The command layer builds it from the settings and hands it to the Trainer as a step hook
(engine/step_hooks.py). Before the first step of a fresh run, every N steps and at the end, the
trainer's own policy (no reload) answers a fixed subset of held-out tasks the ARC Prize way (evaluation/runner.py); the
totals go to logs/eval.jsonl and out as a HeldOutEvaluated event. The policy is put in inference
mode for it and back in training mode after.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from arc_console.arc import Task, load_tasks
from arc_console.config import TrainConfig
from arc_console.engine import events as ev
from arc_console.decoding.rollout_engine import RolloutEngine
from arc_console.engine.step_hooks import HookContext
from arc_console.evaluation import events as eval_events
from arc_console.evaluation.held_out_log import append_row, read_rows, rewind_to
from arc_console.evaluation.runner import run_evaluation
from arc_console.evaluation.settings import EvalSettings
from arc_console.evaluation.trained_problems import held_out_or_refuse

def held_out_subset(tasks: list[Task], limit: int) -> list[Task]:
    """`limit` tasks spread evenly over the source (0: all): the same ones at every evaluation, and
    not all from the first family when a source is ordered by family."""
    if limit <= 0 or limit >= len(tasks):
        return list(tasks)
    return [tasks[index * len(tasks) // limit] for index in range(limit)]


def eval_settings(config: TrainConfig) -> EvalSettings:
    # top_p as training samples: the static engine's one decode state is built for one top_p.
    return EvalSettings(augment=config.eval_augment, samples=config.eval_samples, rank=config.eval_rank,
                        seed=config.seed, max_seq_length=config.max_seq_length, top_p=config.top_p,
                        logprob_chunk_tokens=config.logprob_chunk_tokens)


@dataclass
class HeldOutEvaluation:
    """A StepHook (engine/step_hooks.py): off (every == 0) unless --eval-every."""

    every: int  # 0: off
    source: str = ""
    limit: int = 0
    settings: EvalSettings = field(default_factory=EvalSettings)
    tasks: list[Task] = field(default_factory=list)  # chosen by attach
    context: HookContext | None = None

    @classmethod
    def from_config(cls, config: TrainConfig) -> HeldOutEvaluation:
        return cls(max(config.eval_every, 0), config.eval_tasks, config.eval_limit, eval_settings(config))

    def attach(self, context: HookContext) -> None:
        """Choose the held-out tasks: the problems being trained on are never among them."""
        self.context = context
        if self.every <= 0:
            return
        every_task = load_tasks(self.source)
        held_out = held_out_or_refuse(every_task, context.trained_task_ids, f"--eval-tasks {self.source}")
        if held_out.excluded:
            context.log(f"held-out evaluation: {len(held_out.excluded)} tasks of {self.source} are trained "
                        "on and left out", "warning")
        self.tasks = held_out_subset(held_out.kept, self.limit)
        context.log(f"held-out evaluation every {self.every} steps and at the end: {len(self.tasks)} tasks of "
                    f"{self.source}, {self.settings.augment}, {self.settings.samples} samples a view, "
                    f"ranked by {self.settings.rank}", "info")

    @property
    def active(self) -> bool:
        return self.every > 0 and bool(self.tasks) and self.context is not None

    @property
    def _attached(self) -> HookContext:
        assert self.context is not None, "attach() first"
        return self.context

    def _done_at(self, step: int) -> bool:
        return any(row["step"] == step for row in read_rows(self._attached.run_dir))

    def rewind_to(self, step: int) -> None:
        if self.active and rewind_to(self._attached.run_dir, step):
            self._attached.log(f"logs/eval.jsonl: evaluations after step {step} dropped; they will be made again", "info")

    def before_training(self, step: int, engine: RolloutEngine) -> None:
        """The baseline, once: a fresh run's model before its first update."""
        if self.active and step == 0 and not self._done_at(0):
            self._evaluate(step, engine, final=False)

    def after_step(self, step: int, engine: RolloutEngine) -> None:
        if self.active and step % self.every == 0:
            self._evaluate(step, engine, final=False)

    def at_end(self, step: int, engine: RolloutEngine) -> None:
        if self.active and not self._done_at(step):
            self._evaluate(step, engine, final=True)

    def _evaluate(self, step: int, engine: RolloutEngine, final: bool) -> None:
        context = self._attached
        count = len(self.tasks)
        finished: list[eval_events.EvalFinished] = []

        def on_event(event: eval_events.EvalEvent) -> None:
            if isinstance(event, eval_events.TaskStarted):
                context.emit(ev.PhaseChanged(step, f"held-out eval {event.index + 1}/{count}"))
            elif isinstance(event, eval_events.EvalFinished):
                finished.append(event)

        context.emit(ev.PhaseChanged(step, f"held-out eval 0/{count}"))
        started = time.perf_counter()
        policy = engine.policy
        was_training = bool(getattr(policy.model, "training", True))
        policy.for_inference()
        try:
            totals = run_evaluation(self.tasks, engine, self.settings, None, on_event, context.control,
                                    reserve=False)  # the trainer's engine: eval fits its rows, not the reverse
        finally:
            if was_training:
                policy.for_training()
        seconds = time.perf_counter() - started
        if finished and finished[0].stopped:
            context.log(f"held-out evaluation at step {step} stopped by request: not recorded", "warning")
            return
        row: dict[str, Any] = {
            "step": step, "pass_at_2": totals.pass_at_2, "pass_at_1": totals.pass_at_1, "oracle": totals.oracle,
            "tasks": len(totals.scored), "seconds": round(seconds, 3), "tokens": totals.tokens,
            "source": self.source, "final": final, "settings": self.settings.to_dict(),
            "per_task_pass_at_2": {answer.task_id: answer.score(2) for answer in totals.scored},
            "time": datetime.now().isoformat(timespec="seconds"),
        }
        append_row(context.run_dir, row)
        context.log(f"held-out eval at step {step}: pass@2 {_score(totals.pass_at_2)} pass@1 {_score(totals.pass_at_1)} "
                    f"oracle {_score(totals.oracle)} on {len(totals.scored)} tasks of {self.source} in {seconds:.1f}s",
                    "info")
        context.emit(ev.HeldOutEvaluated(step, row))


def _score(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"
