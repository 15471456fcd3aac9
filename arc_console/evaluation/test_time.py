"""Test-time RL: before answering a task, train on its own train pairs with DAPO.

Each train pair in turn is a pseudo-test whose output is known, the other pairs its examples
(leave-one-out); augmentation views multiply these problems. For `steps` steps the trainer's DAPO
pieces run on them (rollout, rewards, dynamic sampling, token-level clip-higher loss) through the
per-task weights (adapter_reset.py) and a new optimizer. test_time_modes.py runs it as a phase (alone
or after test-time SFT), then answers the task as plain eval answers it. A task with one train pair
has no pseudo-test: it is answered plainly and counted as such.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from arc_console.arc import Task, parse_response, score_grid
from arc_console.arc.augment import task_views
from arc_console.arc.tasks import Pair
from arc_console.engine.control import RunControl
from arc_console.engine.dynamic_sampling import draw_groups
from arc_console.engine.logprobs import build_batch, completion_logprobs
from arc_console.engine.objectives import dapo_loss, group_advantages
from arc_console.engine.rewards import RewardWeights, grid_reward, reward_accuracy
from arc_console.decoding.samples import ProgressCallback
from arc_console.engine.step_groups import Group, Problem
from arc_console.engine.warm_up import symbolic_lengths
from arc_console.evaluation import events as ev
from arc_console.evaluation.adapter_reset import TrainableWeights, task_seed
from arc_console.evaluation.settings import EvalSettings
from arc_console.evaluation.solver import Stopped, answer_budget, context_limit, fit_prompt
from arc_console.evaluation.test_time_settings import TestTimeSettings, default_learning_rate, validate_test_time

__all__ = ["TestTimeReport", "TestTimeSettings", "TestTimeTrainer", "leave_one_out_tasks", "validate_test_time"]


@dataclass
class TestTimeReport:
    steps: int  # steps run (each a rollout and, when a group differed, an update)
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


class TestTimeTrainer:
    """Trains the per-task weights of one loaded model on one task at a time (the caller resets them)."""

    def __init__(self, adapter: TrainableWeights, settings: TestTimeSettings, eval_settings: EvalSettings) -> None:
        self.adapter = adapter
        self.policy = adapter.policy
        self.engine = adapter.engine  # samples the policy with the live adapter folded in
        self.settings = settings if settings.learning_rate is not None else dataclasses.replace(
            settings, learning_rate=default_learning_rate("rl", adapter.kind))  # the rate for what trains
        self.eval_settings = eval_settings
        self.weights = RewardWeights()

    # ------------------------------------------------------------------ training on one task

    def train(self, task: Task, control: RunControl, on_progress: ProgressCallback | None,
              emit: ev.EvalSink, after_step: Callable[[int], None] | None = None) -> TestTimeReport:
        """`after_step(step)` runs after each step (the benchmark answers there): every step reseeds, so
        what it draws does not change the steps that follow."""
        started = time.perf_counter()
        if len(task.train) < 2:
            return self._fallback(task, "a single train pair: no pseudo-test", started, emit)
        problems = self._problems(task)
        if not problems:
            return self._fallback(task, "no leave-one-out prompt fits the context", started, emit)
        probe = [p for p in problems if p.task.id.endswith(":identity")] or problems
        before = self._probe(task, probe, control)
        optimizer = torch.optim.AdamW(list(self.adapter.parameters().values()), lr=self.settings.learning_rate,
                                      weight_decay=0.0)
        cursor, updates, history = 0, 0, []
        for step in range(1, self.settings.steps + 1):
            if control.stop_requested:
                raise Stopped(task.id)
            torch.manual_seed(task_seed(self.eval_settings.seed, task.id, f"step{step}"))

            def next_problem() -> Problem:
                nonlocal cursor
                problem = problems[cursor % len(problems)]
                cursor += 1
                return problem

            draws = draw_groups(lambda chosen: self._rollout(chosen, control, on_progress), next_problem, "dapo",
                                self.settings.problems_per_step, self.settings.max_extra_draws)
            if draws is None:
                raise Stopped(task.id)
            loss = self._update(draws.kept, optimizer) if draws.kept else None
            updates += loss is not None
            history.append(self._step_metrics(step, draws.groups[0], loss))
            head = draws.groups[0]
            emit(ev.TestTimeStep(task.id, step, self.settings.steps, head.problem.task.id,
                                 head.problem.task.test_input, head.problem.task.test_output,
                                 self.settings.temperatures(), head.candidates, list(history)))
            if after_step is not None:
                after_step(step)
        after = self._probe(task, probe, control)
        report = TestTimeReport(self.settings.steps, updates, len(problems), before, after,
                                time.perf_counter() - started)
        emit(ev.EvalLog(f"{task.id}: test-time RL {report.steps} steps ({updates} updates) on {len(problems)} "
                        f"problems, pseudo-test reward {before:.3f} -> {after:.3f}"))
        return report

    def _fallback(self, task: Task, reason: str, started: float, emit: ev.EvalSink) -> TestTimeReport:
        emit(ev.EvalLog(f"{task.id}: plain eval ({reason})"))
        return TestTimeReport(0, 0, 0, None, None, time.perf_counter() - started, fallback=reason)

    def _problems(self, task: Task) -> list[Problem]:
        problems = []
        for loo in leave_one_out_tasks(task, self.settings.augment, self.eval_settings.seed):
            budget = context_limit(self.policy, self.eval_settings) - answer_budget(loo, self.eval_settings)
            prompt, used = fit_prompt(self.policy, loo, 0, budget)
            if prompt is not None:
                problems.append(Problem(loo, prompt, used))
        return problems

    def _rollout(self, problems: list[Problem], control: RunControl,
                 on_progress: ProgressCallback | None) -> list[Group] | None:
        new_tokens = max(answer_budget(p.task, self.eval_settings) for p in problems)
        self.policy.for_inference()
        rollout = self.engine.generate([p.prompt for p in problems], self.settings.temperatures(),
                                       new_tokens, self.eval_settings.top_p, control, on_progress)
        if rollout.aborted:
            return None
        k = self.settings.candidates
        groups = []
        for index, problem in enumerate(problems):
            group = Group(problem, rollout.prompt_ids[index], rollout.samples[index * k: (index + 1) * k])
            self._score(group)
            groups.append(group)
        return groups

    def _score(self, group: Group) -> None:
        target, test_input = group.problem.task.test_output, group.problem.task.test_input
        for number, sample in enumerate(group.samples, start=1):
            predicted = parse_response(sample.text)
            score = score_grid(predicted, target)
            accuracy = reward_accuracy(self.settings.reward, predicted, target, test_input, score)
            reward = grid_reward(score, self.weights, accuracy)
            group.candidates.append({"candidate_id": number, "response_text": sample.text, "predicted_grid": predicted,
                                     "accuracy": score.accuracy, "has_grid": score.has_grid,
                                     "correct_size": score.correct_size, "perfect_match": score.perfect_match,
                                     "temperature": sample.temperature, "reward": round(reward, 6),
                                     "tokens": sample.num_tokens, "truncated": sample.truncated})
            group.rewards.append(reward)
            group.task_rewards.append(reward)

    def _update(self, groups: list[Group], optimizer: torch.optim.Optimizer) -> float:
        """One DAPO update on the kept groups (one update per rollout: old log-probs are the current, detached)."""
        policy = self.policy
        samples = [s for g in groups for s in g.samples]
        batch = build_batch([g.prompt_ids for g in groups for _ in g.samples], [s.completion_ids for s in samples],
                            [s.temperature for s in samples], policy.tokenizer.pad_token_id, policy.device)
        rewards = torch.tensor([g.rewards for g in groups], dtype=torch.float32, device=policy.device)
        advantages = group_advantages(rewards).flatten()
        policy.for_training()
        optimizer.zero_grad(set_to_none=True)
        with symbolic_lengths():  # every task brings new lengths to a backend's compiled code
            logp, _ = completion_logprobs(policy, batch, self.settings.logprob_chunk_tokens, with_grad=True)
            loss, stats = dapo_loss(logp, logp.detach(), advantages, batch.completion_mask, self.settings.eps_low,
                                    self.settings.eps_high)
            loss.backward()
        torch.nn.utils.clip_grad_norm_(list(self.adapter.parameters().values()), self.settings.max_grad_norm)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        policy.for_inference()
        return stats.loss

    def _probe(self, task: Task, problems: list[Problem], control: RunControl) -> float:
        """Mean pseudo-test task reward over the unaugmented leave-one-out problems, from the same random draws."""
        torch.manual_seed(task_seed(self.eval_settings.seed, task.id, "probe"))
        groups = self._rollout(problems, control, None)
        if groups is None:
            raise Stopped(task.id)
        rewards = [r for g in groups for r in g.rewards]
        return sum(rewards) / len(rewards)

    @staticmethod
    def _step_metrics(step: int, head: Group, loss: float | None) -> dict[str, Any]:
        accuracies = head.accuracies
        return {"step": step, "problem_id": head.problem.task.id, "best_accuracy": max(accuracies),
                "mean_accuracy": sum(accuracies) / len(accuracies),
                "reward_mean": sum(head.rewards) / len(head.rewards), "loss": loss,
                "perfect": any(c["perfect_match"] for c in head.candidates)}
