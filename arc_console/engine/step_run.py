"""One training step's state, from its first rollout to its record, apart from the trainer's (which
outlives its steps): which problem each of its slots holds, its phase clock, its generated tokens."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from arc_console.engine.augmented_problems import ProblemViews
from arc_console.engine.phase_timer import PhaseTimer
from arc_console.engine.step_groups import Problem


class SlotProblems:
    """Slot j of a step holds the problem at the step's cursor + j, shown under the step's j-th view.

    The views are drawn in slot order from the step's own generator whichever slots a process asks for
    (a rank asks for its share only), so one process and every rank show slot j alike."""

    def __init__(self, problems: list[Problem], cursor: int, views: ProblemViews) -> None:
        self.problems = problems
        self.cursor = cursor  # the trainer's cursor when the step began
        self.views = views
        self._shown: list[Problem] = []

    def __call__(self, slot: int) -> Problem:
        while len(self._shown) <= slot:
            index = self.cursor + len(self._shown)
            self._shown.append(self.views.present(self.problems[index % len(self.problems)]))
        return self._shown[slot]


@dataclass
class StepRun:
    number: int
    problems: SlotProblems
    timer: PhaseTimer = field(default_factory=PhaseTimer)
    started: float = field(default_factory=time.perf_counter)
    tokens_generated: int = 0  # by this process's rollouts; the ranks' are summed when the step is recorded
    announced: bool = False  # StepStarted was emitted (at the step's first rollout)
