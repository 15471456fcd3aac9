"""Training under augmentation: each problem a step draws is shown under a random view of its task.

The view (a dihedral transform, with --augment dihedral+colors also a permutation of colours 1-9)
transforms every grid of the task; the prompt, the test input and the target are the view's, so the
candidates are scored against the view's target. The views a step draws come from (seed, step) and
the order of its draws alone, so a resumed run draws exactly what an uninterrupted one would.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from typing import Callable

from arc_console.arc import Task, build_prompt
from arc_console.arc.augment import View, random_view
from arc_console.engine.step_groups import Problem

TokenCounter = Callable[[str], int]


def step_rng(seed: int, step: int) -> random.Random:
    """The generator of a step's views: its own, so the step's sampling randomness is untouched."""
    digest = hashlib.sha256(f"augment:{seed}:{step}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def fit_view_prompt(task: Task, most_examples: int, budget: int, count_tokens: TokenCounter) -> tuple[str, int] | None:
    """The view's prompt with as many train examples (up to `most_examples`) as fit `budget` tokens.

    A transpose or a quarter turn changes the number of rows, so the view's prompt may be a few
    tokens longer than the original's: it is fitted again rather than assumed to fit.
    """
    for used in range(min(most_examples, len(task.train)), 0, -1):
        prompt = build_prompt(task.train[:used], task.test_input)
        if count_tokens(prompt) <= budget:
            return prompt, used
    return None


@dataclass
class ViewedProblem(Problem):
    """A problem as the model is shown it: its task (every grid) under `view`."""

    view: View = View()
    original: Problem | None = None


class ProblemViews:
    """Turns each drawn problem into a ViewedProblem under a random view; `begin_step` before each step."""

    def __init__(self, augment: str, seed: int, budget: int, count_tokens: TokenCounter) -> None:
        self.augment = augment
        self.seed = seed
        self.budget = budget
        self.count_tokens = count_tokens
        self._rng = step_rng(seed, 0)

    @property
    def active(self) -> bool:
        return self.augment != "none"

    def begin_step(self, step: int) -> None:
        self._rng = step_rng(self.seed, step)

    def present(self, problem: Problem) -> Problem:
        """`problem` under the next view of this step; the original when there is no augmentation or when
        not even one example of the view fits the prompt budget (then the identity view is recorded)."""
        if not self.active:
            return problem
        view = random_view(self.augment, self._rng)
        task = view.apply_task(problem.task)
        fitted = fit_view_prompt(task, problem.examples_used, self.budget, self.count_tokens)
        if fitted is None:
            return ViewedProblem(problem.task, problem.prompt, problem.examples_used, View(), problem)
        prompt, used = fitted
        return ViewedProblem(task, prompt, used, view, problem)


def view_record(problem: Problem) -> dict[str, object] | None:
    """What a step file records about the view its problem was shown under (None: no augmentation)."""
    if isinstance(problem, ViewedProblem):
        return {**problem.view.to_dict(), "description": problem.view.describe()}
    return None
