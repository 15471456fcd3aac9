"""Work the trainer runs at its step boundaries without knowing what it is: the command layer builds it
(the held-out evaluation of --eval-every, evaluation/during_training.py) and hands it to the Trainer,
so engine/ imports nothing from the packages above it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from arc_console.decoding.rollout_engine import RolloutEngine
from arc_console.engine.control import RunControl
from arc_console.engine.events import EventSink


@dataclass(frozen=True)
class HookContext:
    """What a hook may use, known once the trainer's setup has fitted its problems."""

    run_dir: Path
    emit: EventSink
    control: RunControl
    log: Callable[[str, str], None]  # (text, level): a line in training.log and on the event sink
    trained_task_ids: list[str]


class StepHook(Protocol):
    def attach(self, context: HookContext) -> None:
        """Called once in setup; raising (a TaskError, say) refuses the run before its first step."""

    def rewind_to(self, step: int) -> None:
        """A resume from `step`'s checkpoint: forget what was recorded after it."""

    def before_training(self, step: int, engine: RolloutEngine) -> None:
        """Before the loop's first step (`step` is the last completed one: 0 on a fresh run)."""

    def after_step(self, step: int, engine: RolloutEngine) -> None:
        """After each completed step."""

    def at_end(self, step: int, engine: RolloutEngine) -> None:
        """When the run ends by itself (max steps, early stop), not on a stop request or an error."""


class StepHooks:
    """Several hooks as one, called in the order given."""

    def __init__(self, hooks: Sequence[StepHook] = ()) -> None:
        self.hooks = list(hooks)

    def attach(self, context: HookContext) -> None:
        for hook in self.hooks:
            hook.attach(context)

    def rewind_to(self, step: int) -> None:
        for hook in self.hooks:
            hook.rewind_to(step)

    def before_training(self, step: int, engine: RolloutEngine) -> None:
        for hook in self.hooks:
            hook.before_training(step, engine)

    def after_step(self, step: int, engine: RolloutEngine) -> None:
        for hook in self.hooks:
            hook.after_step(step, engine)

    def at_end(self, step: int, engine: RolloutEngine) -> None:
        for hook in self.hooks:
            hook.at_end(step, engine)
