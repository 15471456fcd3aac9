"""Training under augmentation: each problem a step draws is shown under a random view of its task.

The view (a dihedral transform, with --augment dihedral+colors also a permutation of colours 1-9)
transforms every grid of the task; the prompt, the test input and the target are the view's, so the
candidates are scored against the view's target. The views a step draws come from (seed, step) and
the order of its draws alone, so a resumed run draws exactly what an uninterrupted one would.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from arc_console.arc.augment import View, random_view
from arc_console.arc.prompt import fit_prompt
from arc_console.arc.seeds import derived_rng
from arc_console.engine.step_groups import Problem

TokenCounter = Callable[[str], int]


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
        self._rng = derived_rng("augment", seed, 0)

    @property
    def active(self) -> bool:
        return self.augment != "none"

    def begin_step(self, step: int) -> None:
        self._rng = derived_rng("augment", self.seed, step)  # its own: the sampling randomness is untouched

    def present(self, problem: Problem) -> Problem:
        """`problem` under the next view of this step; the original when there is no augmentation or when
        not even one example of the view fits the prompt budget (then the identity view is recorded)."""
        if not self.active:
            return problem
        view = random_view(self.augment, self._rng)
        task = view.apply_task(problem.task)
        # A transpose or a quarter turn changes the number of rows, so the view's prompt may be a few
        # tokens longer than the original's: it is fitted again rather than assumed to fit.
        fitted = fit_prompt(task.train, task.test_input, self.budget, self.count_tokens, problem.examples_used)
        if fitted is None:
            return ViewedProblem(problem.task, problem.prompt, problem.examples_used, View(), problem)
        prompt, used = fitted
        return ViewedProblem(task, prompt, used, view, problem)


def view_record(problem: Problem) -> dict[str, object] | None:
    """What a step file records about the view its problem was shown under (None: no augmentation)."""
    if isinstance(problem, ViewedProblem):
        return {**problem.view.to_dict(), "description": problem.view.describe()}
    return None
