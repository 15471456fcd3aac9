"""Test-time training: before answering a task, fit a per-task adapter to its own train pairs.

Each train pair in turn is a pseudo-test whose output is known, the other pairs its examples
(leave-one-out); augmentation views multiply these problems. The adapter (adapter_reset.py) is reset,
adapted on them by each adapt phase in turn, and the task is answered as plain eval answers it; the
adapter is reset again after. The phases are the seam for the ways to adapt: test-time RL
(test_time_rl.py: the training step's draw, scoring and update) is one; a supervised fine-tune on the
same problems would be another, before it or instead of it. A task with one train pair has no
pseudo-test: it is answered plainly and counted as such.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import torch

from arc_console.arc import Task
from arc_console.arc.augment import task_views
from arc_console.arc.prompt import fit_prompt
from arc_console.arc.seeds import derived_seed
from arc_console.arc.tasks import Pair
from arc_console.decoding.samples import ProgressCallback
from arc_console.engine.control import RunControl
from arc_console.engine.prompt_fitting import token_counter
from arc_console.engine.step_groups import Problem
from arc_console.evaluation import events as ev
from arc_console.evaluation.adapter_reset import TestTimeAdapter
from arc_console.evaluation.settings import EvalSettings
from arc_console.evaluation.solver import Stopped, answer_budget, answer_task, context_limit
from arc_console.evaluation.solver_types import TaskAnswer
from arc_console.evaluation.test_time_rl import TestTimeRL, roll_out_problems
from arc_console.evaluation.test_time_settings import TestTimeSettings, validate_test_time

__all__ = ["AdaptPhase", "TestTimeReport", "TestTimeSettings", "TestTimeTrainer", "leave_one_out_tasks",
           "validate_test_time"]


@dataclass
class TestTimeReport:
    steps: int  # steps run by the adapt phases (an RL step: a rollout and, when a group differed, an update)
    updates: int  # steps that changed the weights
    problems: int  # leave-one-out problems that fitted the context
    reward_before: float | None  # mean pseudo-test task reward before training
    reward_after: float | None
    seconds: float
    fallback: str | None = None  # why the task was answered plainly

    def to_dict(self) -> dict[str, Any]:
        rounded = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in dataclasses.asdict(self).items()}
        return rounded


def leave_one_out_tasks(task: Task, augment: str, seed: int) -> list[Task]:
    """Per view, per train pair: that pair as the test, the other pairs as the examples."""
    problems = []
    for view in task_views(augment, seed, task.id):
        seen = view.apply_task(task)
        for held in range(len(seen.train)):
            examples = [p for i, p in enumerate(seen.train) if i != held]
            problems.append(Task(f"{task.id}:pair{held + 1}:{view.describe()}", examples,
                                 [Pair(seen.train[held].input, seen.train[held].output)], task.source))
    return problems


class AdaptPhase(Protocol):
    """One way to fit the per-task adapter to a task before it is answered, on its leave-one-out problems."""

    label: str  # named in the task's log line ("RL")

    def adapt(self, task: Task, problems: list[Problem], control: RunControl, on_progress: ProgressCallback | None,
              emit: ev.EvalSink, after_step: Callable[[int], None] | None = None) -> tuple[int, int]:
        """Train the adapter (raise Stopped on a stop request); returns (steps run, steps that updated it).
        `after_step(step)` runs after each step."""


class TestTimeTrainer:
    """Adapts the per-task adapter of one loaded model, task after task, and answers each task."""

    def __init__(self, adapter: TestTimeAdapter, settings: TestTimeSettings, eval_settings: EvalSettings,
                 phases: Sequence[AdaptPhase] | None = None) -> None:
        """`phases` run in order on each task; by default test-time RL for `settings.steps` steps."""
        self.adapter = adapter
        self.policy = adapter.policy
        self.engine = adapter.engine  # samples the policy with the live adapter folded in
        self.settings = settings
        self.eval_settings = eval_settings
        self.phases = list(phases) if phases is not None else [TestTimeRL(adapter, settings, eval_settings)]

    def answer(self, task: Task, control: RunControl, on_progress: ProgressCallback | None,
               emit: ev.EvalSink) -> TaskAnswer:
        started = time.perf_counter()
        self.adapter.reset(self.eval_settings.seed, task.id)
        try:
            report = self.train(task, control, on_progress, emit)
            answer = answer_task(task, self.engine, self.eval_settings, control, on_progress)
        finally:
            self.adapter.reset(self.eval_settings.seed, task.id)
        answer.seconds = time.perf_counter() - started
        answer.test_time = report.to_dict()
        return answer

    def train(self, task: Task, control: RunControl, on_progress: ProgressCallback | None,
              emit: ev.EvalSink, after_step: Callable[[int], None] | None = None) -> TestTimeReport:
        """Adapt on `task`'s leave-one-out problems, phase after phase, between two probes of the pseudo-test
        reward. `after_step(step)` runs after each step (the benchmark answers there)."""
        started = time.perf_counter()
        if len(task.train) < 2:
            return self._fallback(task, "a single train pair: no pseudo-test", started, emit)
        problems = self._problems(task)
        if not problems:
            return self._fallback(task, "no leave-one-out prompt fits the context", started, emit)
        probe = [p for p in problems if p.task.id.endswith(":identity")] or problems
        before = self._probe(task, probe, control)
        steps = updates = 0
        for phase in self.phases:
            ran, changed = phase.adapt(task, problems, control, on_progress, emit, after_step)
            steps, updates = steps + ran, updates + changed
        after = self._probe(task, probe, control)
        report = TestTimeReport(steps, updates, len(problems), before, after, time.perf_counter() - started)
        labels = " + ".join(phase.label for phase in self.phases)
        emit(ev.EvalLog(f"{task.id}: test-time {labels} {report.steps} steps ({updates} updates) on {len(problems)} "
                        f"problems, pseudo-test reward {before:.3f} -> {after:.3f}"))
        return report

    def _fallback(self, task: Task, reason: str, started: float, emit: ev.EvalSink) -> TestTimeReport:
        emit(ev.EvalLog(f"{task.id}: plain eval ({reason})"))
        return TestTimeReport(0, 0, 0, None, None, time.perf_counter() - started, fallback=reason)

    def _problems(self, task: Task) -> list[Problem]:
        problems = []
        count = token_counter(self.policy.tokenizer)
        for loo in leave_one_out_tasks(task, self.settings.augment, self.eval_settings.seed):
            budget = context_limit(self.policy, self.eval_settings) - answer_budget(loo, self.eval_settings)
            fitted = fit_prompt(loo.train, loo.test[0].input, budget, count)
            if fitted is not None:
                problems.append(Problem(loo, *fitted))
        return problems

    def _probe(self, task: Task, problems: list[Problem], control: RunControl) -> float:
        """Mean pseudo-test task reward over the unaugmented leave-one-out problems, from the same random draws."""
        torch.manual_seed(derived_seed("probe", self.eval_settings.seed, task.id))
        groups = roll_out_problems(self.adapter, problems, self.settings, self.eval_settings, control, None)
        if groups is None:
            raise Stopped(task.id)
        rewards = [r for g in groups for r in g.rewards]
        return sum(rewards) / len(rewards)
