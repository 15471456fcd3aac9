"""Test-time training: before answering a task, fit a per-task adapter to its own train pairs.

Each train pair in turn is a pseudo-test whose output is known, the other pairs its examples
(leave-one-out); augmentation views multiply these problems. The adapter (adapter_reset.py) is reset,
adapted on them by each adapt phase in turn, and the task is answered as plain eval answers it; the
adapter is reset again after. The phases are the seam for the ways to adapt: test-time RL
(test_time_rl.py: the training step's draw, scoring and update) is one; a supervised fine-tune on the
same problems, teacher forcing through the same update (test_time_sft.py), is the other; eval's
--test-time-mode picks them (test_time_modes.py). A task with one train pair has no pseudo-test: it is
answered plainly and counted as such.
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
from arc_console.evaluation.adapter_reset import TrainableWeights
from arc_console.evaluation.settings import EvalSettings
from arc_console.evaluation.solver import (Stopped, add_expert_scores, answer_budget, context_limit, pooled,
                                           rank_task, sample_task)
from arc_console.evaluation.solver_types import TaskAnswer
from arc_console.evaluation.test_time_rl import TestTimeRL, roll_out_problems
from arc_console.evaluation.test_time_settings import TestTimeSettings, default_learning_rate, validate_test_time

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
    phases: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)  # each phase's own record, by label

    def to_dict(self) -> dict[str, Any]:
        rounded = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in dataclasses.asdict(self).items()
                   if k != "phases"}
        return {**rounded, **{label.lower(): record for label, record in self.phases.items()}}


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

    label: str  # named in the task's log line ("RL"); its record's key in eval.json, lower case

    def record(self) -> dict[str, Any]:
        """What its last adapt did beyond the trainer's own figures (eval.json's per-task record)."""

    def declines(self, task: Task) -> str | None:
        """Why it would not train on `task` at all (checked before the probes, which cost rollouts), or None."""

    def adapt(self, task: Task, problems: list[Problem], control: RunControl, on_progress: ProgressCallback | None,
              emit: ev.EvalSink, after_step: Callable[[int], None] | None = None) -> tuple[int, int]:
        """Train the adapter (raise Stopped on a stop request); returns (steps run, steps that updated it).
        `after_step(step)` runs after each step."""


class TestTimeTrainer:
    """Adapts the per-task adapter of one loaded model, task after task, and answers each task."""

    __test__ = False  # not a pytest test class, whatever its name

    def __init__(self, adapter: TrainableWeights, settings: TestTimeSettings, eval_settings: EvalSettings,
                 phases: Sequence[AdaptPhase] | None = None, mode: str = "rl", pool: str = "tuned") -> None:
        """`phases` run in order on each task; by default test-time RL for `settings.steps` steps. `mode`
        names them in eval.json. A learning rate not given is that of what trains (a LoRA or every weight).
        `pool` (TestTimePlan.pool): tuned, the task answered by the tuned weights alone; both, the base
        weights' candidates sampled before training pooled with the tuned weights' and ranked together."""
        self.adapter = adapter
        self.policy = adapter.policy
        self.engine = adapter.engine  # samples the policy with the live adapter folded in
        if settings.learning_rate is None:
            settings = dataclasses.replace(settings, learning_rate=default_learning_rate("rl", adapter.kind))
        self.settings = settings
        self.mode = mode
        self.pool = pool
        self.eval_settings = eval_settings
        self.phases = list(phases) if phases is not None else [TestTimeRL(adapter, settings, eval_settings)]

    def answer(self, task: Task, control: RunControl, on_progress: ProgressCallback | None,
               emit: ev.EvalSink) -> TaskAnswer:
        """Reset, adapt, answer as plain eval does (its views, samples and --rank), reset again. With pool both,
        the base weights answer first; their candidates join the tuned weights' and, ranked by logprob,
        every candidate is scored under both (the product of experts over views and the two models)."""
        started = time.perf_counter()
        seed, settings, policy = self.eval_settings.seed, self.eval_settings, self.policy
        by_logprob = settings.rank == "logprob"
        self.adapter.reset(seed, task.id)
        try:
            base = sample_task(task, self.engine, settings, control, on_progress, "base") if self.pool == "both" \
                else None
            report = self.train(task, control, on_progress, emit)
            if base is not None and report.fallback is not None:  # nothing trained: the tuned model is the base
                sampled, judges = base, ["base"]
            else:
                tuned = sample_task(task, self.engine, settings, control, on_progress,
                                    "model" if base is None else "tuned")
                sampled = tuned if base is None else pooled(base, tuned)
                judges = ["model"] if base is None else ["tuned", "base"]
            if by_logprob:
                add_expert_scores(policy, sampled, judges[0])
                if len(judges) > 1:
                    self.adapter.reset(seed, task.id)  # the base model again, bit for bit
                    add_expert_scores(policy, sampled, judges[1])
        finally:
            self.adapter.reset(seed, task.id)
        answer = rank_task(sampled, settings)
        answer.seconds = time.perf_counter() - started
        answer.test_time = {"mode": self.mode, "pool": self.pool, **report.to_dict(),
                            **({"attempts_found_by": _found_by(answer)} if base is not None else {})}
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
        declined = [phase.declines(task) for phase in self.phases]
        if declined and all(declined):  # e.g. SFT's whole prompts exceed the context where RL's trimmed ones fit
            return self._fallback(task, "; ".join(dict.fromkeys(declined)), started, emit)
        probe = [p for p in problems if p.task.id.endswith(":identity")] or problems
        before = self._probe(task, probe, control)
        steps = updates = 0
        for phase in self.phases:
            ran, changed = phase.adapt(task, problems, control, on_progress, emit, after_step)
            steps, updates = steps + ran, updates + changed
        after = self._probe(task, probe, control)
        report = TestTimeReport(steps, updates, len(problems), before, after, time.perf_counter() - started,
                                phases={phase.label: phase.record() for phase in self.phases})
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


def _found_by(answer: TaskAnswer) -> list[list[str]]:
    """Per test input, which model's samples gave each attempt: base, tuned or both."""
    def who(candidate) -> str:
        models = sorted(m for m, votes in candidate.found_by.items() if votes)
        return "both" if len(models) > 1 else (models[0] if models else "none")

    return [[who(c) for c in test.candidates[:2]] for test in answer.tests]
