"""Test-time RL, one of the ways a task's adapter is fitted before it is answered: the training step's own
functions run on the task's leave-one-out problems.

Each step draws, scores and updates as a training step does (engine: draw_groups with dynamic sampling,
scored_groups, policy_update with the objective's loss), in one process, on the per-task adapter and
its own optimizer, and reports the step as the trainer's panels draw it. Every step reseeds from
(seed, task, step), so what a caller does between steps does not change the steps that follow.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from arc_console.arc import Task
from arc_console.arc.seeds import derived_seed
from arc_console.decoding.samples import ProgressCallback
from arc_console.distributed.ranks import single_process
from arc_console.engine.control import RunControl
from arc_console.engine.dynamic_sampling import draw_groups
from arc_console.engine.objective_registry import get_objective
from arc_console.engine.phase_timer import PhaseTimer
from arc_console.engine.scoring import RewardRule, scored_groups
from arc_console.engine.step_groups import Group, Problem
from arc_console.engine.update import policy_update
from arc_console.evaluation import events as ev
from arc_console.evaluation.adapter_reset import TrainableWeights
from arc_console.evaluation.settings import EvalSettings
from arc_console.evaluation.solver import Stopped, answer_budget
from arc_console.evaluation.test_time_settings import TestTimeSettings


def roll_out_problems(adapter: TrainableWeights, problems: list[Problem], settings: TestTimeSettings,
                      eval_settings: EvalSettings, control: RunControl,
                      on_progress: ProgressCallback | None) -> list[Group] | None:
    """K candidates for each problem through the live adapter, scored as training scores them (no overlong
    penalty: each answer's budget is its own grid's). None when a stop aborted the rollout."""
    new_tokens = max(answer_budget(p.task, eval_settings) for p in problems)
    adapter.policy.for_inference()
    rollout = adapter.engine.generate([p.prompt for p in problems], settings.temperatures(), new_tokens,
                                      eval_settings.top_p, control, on_progress)
    if rollout.aborted:
        return None
    return scored_groups(problems, rollout, RewardRule(settings.reward))


class TestTimeRL:
    """`settings.steps` RL steps on a task's leave-one-out problems (an AdaptPhase of test_time.py)."""

    label = "RL"

    def __init__(self, adapter: TrainableWeights, settings: TestTimeSettings, eval_settings: EvalSettings) -> None:
        """`settings.learning_rate` is set (TestTimeTrainer fills one not given)."""
        self.adapter = adapter
        self.settings = settings
        self.eval_settings = eval_settings
        self._last: dict[str, Any] = {}

    def record(self) -> dict[str, Any]:
        return dict(self._last)

    def declines(self, task: Task) -> str | None:
        return None  # it trains on whatever leave-one-out prompts the trainer fitted

    def adapt(self, task: Task, problems: list[Problem], control: RunControl, on_progress: ProgressCallback | None,
              emit: ev.EvalSink, after_step: Callable[[int], None] | None = None) -> tuple[int, int]:
        """Train the adapter on `problems`; returns (steps run, steps that updated the weights)."""
        settings, policy = self.settings, self.adapter.policy
        config = settings.update_config(max(answer_budget(p.task, self.eval_settings) for p in problems))
        objective = get_objective(config.objective)
        optimizer = torch.optim.AdamW(list(self.adapter.parameters().values()), lr=settings.learning_rate,
                                      weight_decay=0.0)
        cursor, updates, history = 0, 0, []
        for step in range(1, settings.steps + 1):
            if control.stop_requested:
                raise Stopped(task.id)
            torch.manual_seed(derived_seed(f"step{step}", self.eval_settings.seed, task.id))
            first = cursor
            draws = draw_groups(
                lambda chosen, slots: roll_out_problems(self.adapter, chosen, settings, self.eval_settings, control,
                                                        on_progress),
                lambda slot: problems[(first + slot) % len(problems)], objective, settings.problems_per_step,
                settings.max_extra_draws, single_process())
            if draws is None:
                raise Stopped(task.id)
            cursor += len(draws.groups)
            update: dict[str, Any] = {}
            if draws.kept:
                update = policy_update(policy, optimizer, None, config, draws.mine, single_process(), PhaseTimer())
                policy.for_inference()  # a caller may answer between steps (benchmarks/test_time.py)
                updates += 1
            head = draws.groups[0]
            history.append(_step_metrics(step, head, update.get("loss")))
            emit(ev.TestTimeStep(task.id, step, settings.steps, head.problem.task.id, head.problem.task.test_input,
                                 head.problem.task.test_output, settings.temperatures(), head.candidates,
                                 list(history)))
            if after_step is not None:
                after_step(step)
        self._last = {"steps": settings.steps, "updates": updates}
        return settings.steps, updates


def _step_metrics(step: int, head: Group, loss: float | None) -> dict[str, Any]:
    accuracies = head.accuracies
    return {"step": step, "problem_id": head.problem.task.id, "best_accuracy": max(accuracies),
            "mean_accuracy": sum(accuracies) / len(accuracies), "reward_mean": sum(head.rewards) / len(head.rewards),
            "loss": loss, "perfect": any(c["perfect_match"] for c in head.candidates)}
