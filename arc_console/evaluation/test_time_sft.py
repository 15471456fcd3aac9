"""Supervised test-time training: before a task is answered, teach the model the task's own examples.

As the strong ARC systems do it (Akyurek et al. 2024, marc; the ARChitects, Franzen et al. 2024):
each train pair in turn is a pseudo-test, the other pairs its examples (leave-one-out); every step
draws a batch of these problems under random views (a dihedral transform, colours 1-9 permuted with 0
kept, the examples in a shuffled order) and takes one step of the training update (engine/update.py's
policy_update: AdamW, gradient clipping) under the "sft" objective: the cross-entropy of the answer the
prompt format expects (the output grid's text, then <|return|>), by teacher forcing, with the loss on
those answer tokens only. The weights trained and their reset between tasks belong to
adapter_reset.py; this module only trains them.
"""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from arc_console.arc import Task, build_prompt, grid_to_text
from arc_console.arc.leave_one_out import augmented_view, leave_one_out
from arc_console.arc.seeds import derived_seed
from arc_console.decoding.samples import ProgressCallback, Sample
from arc_console.distributed.ranks import single_process
from arc_console.engine.control import RunControl
from arc_console.engine.logprobs import Batch, build_batch, completion_logprobs
from arc_console.engine.phase_timer import PhaseTimer
from arc_console.engine.step_groups import Group, Problem
from arc_console.engine.update import policy_update
from arc_console.evaluation import events as ev
from arc_console.evaluation.adapter_reset import TrainableWeights
from arc_console.evaluation.expert_scores import answer_ids
from arc_console.evaluation.settings import EvalSettings
from arc_console.evaluation.solver import Stopped, context_limit
from arc_console.evaluation.test_time_settings import SftSettings, default_learning_rate
from arc_console.train_config import TrainConfig


@dataclass
class SftReport:
    steps: int  # optimizer steps taken
    problems: int  # leave-one-out problems (before views)
    loss_before: float | None  # mean answer-token loss on the leave-one-out problems as given, before training
    loss_after: float | None
    seconds: float
    fallback: str | None = None  # why the task was not trained on

    def to_dict(self) -> dict[str, Any]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class TeacherForced:
    """One problem, and as token ids its prompt and the answer the model should give to it."""

    problem: Task
    prompt: str
    prompt_ids: list[int]
    answer_ids: list[int]


def encode_problem(weights: TrainableWeights, problem: Task) -> TeacherForced:
    """The prompt as eval shows a task (every example) and the expected answer: the grid's text, then the stop token."""
    prompt = build_prompt(problem.train, problem.test_input)
    prompt_ids = weights.policy.tokenizer(prompt, add_special_tokens=False)["input_ids"]
    return TeacherForced(problem, prompt, prompt_ids, answer_ids(weights.policy, grid_to_text(problem.test_output)))


def fits(example: TeacherForced, limit: int) -> bool:
    return len(example.prompt_ids) + len(example.answer_ids) <= limit


def draw_batch(problems: list[Task], settings: SftSettings, rng: random.Random, step: int) -> list[Task]:
    """`settings.batch` views for one step: the leave-one-out problems in turn (so each is trained on
    equally), each under a view and example order drawn from `rng`."""
    first = (step - 1) * settings.batch
    return [augmented_view(problems[(first + i) % len(problems)], settings.augment, settings.shuffle_examples, rng)[0]
            for i in range(settings.batch)]


def teacher_forcing_batch(weights: TrainableWeights, examples: list[TeacherForced]) -> Batch:
    policy = weights.policy
    return build_batch([e.prompt_ids for e in examples], [e.answer_ids for e in examples], [1.0] * len(examples),
                       policy.tokenizer.pad_token_id, policy.device)


def answer_loss(weights: TrainableWeights, batch: Batch, chunk_tokens: int, with_grad: bool) -> torch.Tensor:
    """Mean cross-entropy over every answer token of the batch (a token-level mean, as SFT takes it)."""
    logp, _ = completion_logprobs(weights.policy, batch, chunk_tokens, with_grad=with_grad)
    return -(logp * batch.completion_mask).sum() / batch.completion_mask.sum().clamp(min=1.0)


class SupervisedPhase:
    """An adapt phase (test_time.AdaptPhase): trains the weights on one task's leave-one-out problems by
    teacher forcing, one update a step through the training update (engine/update.py's policy_update with
    the "sft" objective); the caller resets the weights between tasks."""

    label = "SFT"

    def __init__(self, weights: TrainableWeights, settings: SftSettings, eval_settings: EvalSettings) -> None:
        self.weights = weights
        self.settings = settings if settings.learning_rate is not None else dataclasses.replace(
            settings, learning_rate=default_learning_rate("sft", weights.kind))  # the rate for what trains
        self.eval_settings = eval_settings
        self.last: SftReport | None = None

    def record(self) -> dict[str, Any]:
        return self.last.to_dict() if self.last is not None else {}

    def declines(self, task: Task) -> str | None:
        problems = leave_one_out(task, self.settings.repeat_examples)
        if not problems:
            return "a single train pair: no pseudo-test"
        return None if self._fitting(problems) else "no leave-one-out problem fits the context"

    def _fitting(self, problems: list[Task]) -> list[TeacherForced]:
        limit = context_limit(self.weights.policy, self.eval_settings)
        return [e for e in (encode_problem(self.weights, p) for p in problems) if fits(e, limit)]

    def update_config(self) -> TrainConfig:
        """The update's settings: the "sft" objective, this phase's rate and clip, every problem in one pass."""
        return TrainConfig(objective="sft", learning_rate=self.settings.learning_rate,
                           max_grad_norm=self.settings.max_grad_norm,
                           logprob_chunk_tokens=self.settings.logprob_chunk_tokens, num_candidates=1,
                           update_micro_groups=0, update_micro_rows=0, mask_truncated=False)

    def adapt(self, task: Task, problems: list[Any], control: RunControl, on_progress: ProgressCallback | None,
              emit: ev.EvalSink, after_step: Callable[[int], None] | None = None) -> tuple[int, int]:
        """Train on `task`'s own leave-one-out problems (not the RL phase's `problems`: SFT draws a view per
        problem per step); returns (steps, updates). `after_step(step)` runs after each step (the benchmarks
        answer there): the views come from the task's own generator and the learning rate is constant, so
        the weights after N steps are those of a run of exactly N steps."""
        self.last = report = self.train(task, control, emit, after_step)
        return report.steps, report.steps

    def train(self, task: Task, control: RunControl, emit: ev.EvalSink,
              after_step: Callable[[int], None] | None = None) -> SftReport:
        started = time.perf_counter()
        problems = leave_one_out(task, self.settings.repeat_examples)
        if not problems:
            return SftReport(0, 0, None, None, time.perf_counter() - started, "a single train pair: no pseudo-test")
        probe = self._fitting(problems)
        if not probe:
            return SftReport(0, len(problems), None, None, time.perf_counter() - started,
                             "no leave-one-out problem fits the context")
        before = self.probe_loss(probe)
        emit(ev.EvalLog(f"{task.id}: test-time SFT, {self.settings.steps} steps on {len(problems)} leave-one-out "
                        f"problems, answer loss {before:.3f} before"))
        rng = random.Random(derived_seed("sft", self.eval_settings.seed, task.id))
        optimizer = torch.optim.AdamW(self._trained(), lr=self.settings.learning_rate,
                                      weight_decay=self.settings.weight_decay)
        config = self.update_config()
        steps = 0
        for step in range(1, self.settings.steps + 1):
            if control.stop_requested:
                raise Stopped(task.id)
            examples = self._fitting(draw_batch(problems, self.settings, rng, step))
            if examples:
                self.step(examples, optimizer, config)
                steps += 1
            if after_step is not None:
                after_step(step)
        after = self.probe_loss(probe)
        report = SftReport(steps, len(problems), before, after, time.perf_counter() - started)
        emit(ev.EvalLog(f"{task.id}: test-time SFT {steps} steps on {len(problems)} leave-one-out problems x "
                        f"{self.settings.batch} views a step, answer loss {before:.3f} -> {after:.3f} "
                        f"in {report.seconds:.1f}s"))
        return report

    def _trained(self) -> list[torch.nn.Parameter]:
        return [p for p in self.weights.parameters().values() if p.requires_grad]

    def step(self, examples: list[TeacherForced], optimizer: torch.optim.Optimizer,
             config: TrainConfig | None = None) -> float:
        """One update on the answer loss of `examples` (the training update, "sft" objective); returns the
        loss before the step."""
        policy = self.weights.policy
        stats = policy_update(policy, optimizer, None, config or self.update_config(), known_answers(examples),
                              single_process(), PhaseTimer())
        policy.for_inference()
        return float(stats["loss"])

    def probe_loss(self, examples: list[TeacherForced]) -> float:
        """The answer loss on the leave-one-out problems as the task gives them (no view, examples in order)."""
        self.weights.policy.for_inference()
        with torch.no_grad():
            return float(answer_loss(self.weights, teacher_forcing_batch(self.weights, examples),
                                     self.settings.logprob_chunk_tokens, with_grad=False))


def known_answers(examples: list[TeacherForced]) -> list[Group]:
    """Each example as a group of one candidate, its known answer: what policy_update's "sft" objective trains."""
    return [Group(Problem(e.problem, e.prompt, len(e.problem.train)), e.prompt_ids,
                  [Sample(0, 1.0, e.answer_ids, grid_to_text(e.problem.test_output), False)], [{"accuracy": 1.0}],
                  [0.0], [0.0])
            for e in examples]
