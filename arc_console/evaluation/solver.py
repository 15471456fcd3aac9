"""The per-task answer step: (task, model, settings) -> attempts for every test input.

Each view of the task is prompted as training prompts it (arc/prompt.py), all views in one batched
rollout by the trainer's engine; each answer is mapped back by its view's inverse, pooled, ranked,
and the top two are the attempts. Test-time training can wrap this function.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from arc_console.arc import Task, grid_to_text, parse_response
from arc_console.arc.augment import View, task_views
from arc_console.arc.grids import Grid, GridError, validate_grid
from arc_console.arc.prompt import fit_prompt
from arc_console.arc.seeds import derived_seed
from arc_console.engine.backends import Policy
from arc_console.engine.control import RunControl
from arc_console.engine.prompt_fitting import token_counter
from arc_console.decoding.rollout_engine import RolloutEngine
from arc_console.decoding.samples import ProgressCallback
from arc_console.evaluation.candidates import CandidatePool
from arc_console.evaluation.expert_scores import answer_ids, answers_logprobs, sequence_logprobs
from arc_console.evaluation.ranking import rank, two_attempts
from arc_console.evaluation.settings import EvalSettings
from arc_console.evaluation.solver_types import TaskAnswer, TestAnswer


class Stopped(Exception):
    """Generation was aborted by a stop request; the task has no answer."""


@dataclass
class ViewPrompt:
    view: View
    prompt: str | None  # None: not even one train example fits the context
    examples_used: int


@dataclass
class SampledTest:
    """One test input's answers before ranking: the pool, each view's answers and the prompts they answered."""

    test_index: int
    target: Grid | None
    fitted: list[ViewPrompt]  # the views whose prompt fitted, in order
    prompt_ids: list[list[int]]  # their prompts as token ids (the expert scores' prefixes)
    pool: CandidatePool
    view_grids: list[list[Grid | None]]  # per view, each sample's answer mapped back
    tokens: int


@dataclass
class SampledTask:
    task_id: str
    tests: list[SampledTest]
    notes: list[str]
    seconds: float

    @property
    def tokens(self) -> int:
        return sum(t.tokens for t in self.tests)


def answer_budget(task: Task, settings: EvalSettings) -> int:
    """New tokens for an answer: the setting, or room for the task's largest grid as text plus a margin."""
    if settings.max_new_tokens:
        return settings.max_new_tokens
    grids = [g for p in task.train for g in (p.input, p.output)] + [p.input for p in task.test]
    largest = max(len(g) * len(g[0]) for g in grids if g is not None)
    return 2 * largest + 16


def context_limit(policy: Policy, settings: EvalSettings) -> int:
    """The setting, never beyond the model's own context (0 asks for the model's own)."""
    own = int(getattr(policy.base_causal_lm().config, "max_position_embeddings", 4096))
    return min(settings.max_seq_length, own) if settings.max_seq_length else own


def answer_task(task: Task, engine: RolloutEngine, settings: EvalSettings, control: RunControl | None = None,
                on_progress: ProgressCallback | None = None) -> TaskAnswer:
    """Two attempts for every test input of `task`, sampled with `engine` (and its policy's log-probs where the
    ranking asks). Raises Stopped when a stop request aborts a rollout."""
    started = time.perf_counter()
    sampled = sample_task(task, engine, settings, control, on_progress)
    if settings.rank == "logprob":
        add_expert_scores(engine.policy, sampled)
    answer = rank_task(sampled, settings)
    answer.seconds = time.perf_counter() - started
    return answer


def sample_task(task: Task, engine: RolloutEngine, settings: EvalSettings, control: RunControl | None = None,
                on_progress: ProgressCallback | None = None, source: str = "model") -> SampledTask:
    """Every test input of `task` sampled under its views and pooled, not yet ranked; `source` names the model
    in each candidate's `found_by`. Raises Stopped when a stop request aborts a rollout."""
    policy = engine.policy
    started = time.perf_counter()
    views = task_views(settings.augment, settings.seed, task.id)
    new_tokens = answer_budget(task, settings)
    prompt_budget = context_limit(policy, settings) - new_tokens
    count = token_counter(policy.tokenizer)
    tests, notes = [], []
    for test_index in range(len(task.test)):
        prompts = []
        for view in views:
            seen = view.apply_task(task)
            prompt, used = fit_prompt(seen.train, seen.test[test_index].input, prompt_budget, count) or (None, 0)
            prompts.append(ViewPrompt(view, prompt, used))
        dropped = min(p.examples_used for p in prompts)
        if dropped < len(task.train):
            notes.append(f"test {test_index}: " + ("no prompt fits the context" if dropped == 0 else
                                                   f"kept {dropped} of {len(task.train)} examples to fit the context"))
        tests.append(_sample_test_input(task, test_index, prompts, engine, settings, new_tokens, control,
                                        on_progress, source))
    return SampledTask(task.id, tests, notes, time.perf_counter() - started)


def pooled(first: SampledTask, second: SampledTask) -> SampledTask:
    """Both samplings of one task (the same views: two models, say) as one pool per test input, the first's
    candidates first; each view's answers are the first's then the second's. Not scored: score the whole pool."""
    tests = []
    for one, two in zip(first.tests, second.tests, strict=True):
        pool = CandidatePool()
        pool.absorb(one.pool)
        pool.absorb(two.pool)
        view_grids = [a + b for a, b in zip(one.view_grids, two.view_grids, strict=True)]
        tests.append(SampledTest(one.test_index, one.target, two.fitted, two.prompt_ids, pool, view_grids,
                                 one.tokens + two.tokens))
    notes = list(dict.fromkeys(first.notes + second.notes))
    return SampledTask(first.task_id, tests, notes, first.seconds + second.seconds)


def rank_task(sampled: SampledTask, settings: EvalSettings) -> TaskAnswer:
    """The sampled pools ranked by `settings.rank` (logprob: by the expert scores already added), two attempts each."""
    tests = []
    for test in sampled.tests:
        ranked = rank(test.pool.candidates, settings.rank)
        answered = sum(1 for grids in test.view_grids if any(g is not None for g in grids))
        tests.append(TestAnswer(test.test_index, two_attempts(ranked), ranked, test.target, answered,
                                test.view_grids))
    return TaskAnswer(sampled.task_id, tests, sampled.tokens, sampled.seconds, list(sampled.notes))


def _sample_test_input(task: Task, test_index: int, prompts: list[ViewPrompt], engine: RolloutEngine,
                       settings: EvalSettings, new_tokens: int, control: RunControl | None,
                       on_progress: ProgressCallback | None, source: str) -> SampledTest:
    target = task.test[test_index].output
    fitted = [p for p in prompts if p.prompt is not None]
    pool = CandidatePool()
    view_grids: list[list] = [[] for _ in prompts]
    tokens = 0
    prompt_ids: list[list[int]] = []
    if fitted:
        torch.manual_seed(derived_seed(settings.seed, task.id, test_index))
        rollout = engine.generate([p.prompt for p in fitted], [settings.temperature] * settings.samples, new_tokens,
                                  settings.top_p, control, on_progress, fit_reserved=True)
        if rollout.aborted:
            raise Stopped(task.id)
        tokens = rollout.tokens_generated
        prompt_ids = rollout.prompt_ids
        logprobs = _sample_logprobs(engine.policy, rollout, settings)
        for sample, sample_logprob in zip(rollout.samples, logprobs):
            view_index = prompts.index(fitted[sample.group])
            grid = _as_grid(parse_response(sample.text))
            original = None if grid is None else fitted[sample.group].view.invert(grid)
            view_grids[view_index].append(original)
            if original is not None:
                pool.add(original, view_index, sample_logprob, source)
    return SampledTest(test_index, target, fitted, prompt_ids, pool, view_grids, tokens)


def _as_grid(parsed: list[list[int]] | None) -> list[list[int]] | None:
    if parsed is None:
        return None
    try:
        return validate_grid(parsed)
    except GridError:
        return None


def _sample_logprobs(policy: Policy, rollout, settings: EvalSettings) -> list[float]:
    """Each sample's log-probability as drawn: the static engine reports it, generate's is recomputed."""
    if all(s.logprobs is not None for s in rollout.samples):
        return [sum(s.logprobs) for s in rollout.samples]
    return sequence_logprobs(policy, [rollout.prompt_ids[s.group] for s in rollout.samples],
                             [s.completion_ids for s in rollout.samples], [s.temperature for s in rollout.samples],
                             settings.logprob_chunk_tokens)


def expert_view_scores(policy: Policy, test: SampledTest) -> list[list[float]]:
    """Each pooled candidate's log-probability under each view that fitted (in `test.fitted`'s order), in the
    pool's order."""
    candidates = test.pool.candidates
    per_view: list[list[float]] = [[] for _ in candidates]
    if not candidates:
        return per_view
    for view_prompt, ids in zip(test.fitted, test.prompt_ids):
        answers = [answer_ids(policy, grid_to_text(view_prompt.view.apply(c.grid))) for c in candidates]
        for index, score in enumerate(answers_logprobs(policy, ids, answers)):
            per_view[index].append(score)
    return per_view


def expert_scores(policy: Policy, test: SampledTest) -> list[float]:
    """Product of experts: each pooled candidate's log-probability under every view that fitted, summed
    (Franzen et al. 2025), in the pool's order."""
    return [sum(views) for views in expert_view_scores(policy, test)]


def add_expert_scores(policy: Policy, sampled: SampledTask, label: str = "model") -> None:
    """Score every pooled candidate of `sampled` under `policy` (expert_scores), recorded by `label`; a
    candidate's expert_logprob is the sum over every label scored so far."""
    for test in sampled.tests:
        for candidate, score in zip(test.pool.candidates, expert_scores(policy, test)):
            candidate.add_expert_score(label, score)
