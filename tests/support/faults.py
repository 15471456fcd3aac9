"""Faults the tests inject into the trainer: in this process with monkeypatch, or in a child process and
every torchrun rank it starts through `fault_env` (fault_injection/sitecustomize.py). The package itself
reads no test variable and has no test parameter."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

RAISE_AT_STEP = "ARC_FAULT_RAISE_AT_STEP"  # N: step N's update raises; N:oom: torch's CUDA out-of-memory error
STALL_FINAL_SAVE = "ARC_FAULT_STALL_FINAL_SAVE"  # S: the final model's save waits S seconds first
SUPPORT = Path(__file__).resolve().parent


class InjectedFailure(RuntimeError):
    """What a step's update raises where a test asked for a failure."""


def failing_update(update: Callable[..., Any], step: int, oom: bool = False) -> Callable[..., Any]:
    """Trainer._update that raises at `step`, before the optimizer moves: the weights stay the last step's."""
    import torch

    def _update(trainer: Any, run: Any, draws: Any) -> Any:
        if run.number == step:
            if oom:
                raise torch.OutOfMemoryError(f"CUDA out of memory (injected by the test at step {step})")
            raise InjectedFailure(f"injected failure at step {step}")
        return update(trainer, run, draws)

    return _update


def stalled_save(save: Callable[..., Any], seconds: float) -> Callable[..., Any]:
    """save_final_model held back `seconds`, so a signal can land while a stop is being saved."""

    def save_final_model(*args: Any, **kwargs: Any) -> Any:
        time.sleep(seconds)
        return save(*args, **kwargs)

    return save_final_model


def install_from_environment(trainer_module: ModuleType) -> None:
    """Patch the trainer module as the child's environment asks (called by fault_injection/sitecustomize.py)."""
    wanted = os.environ.get(RAISE_AT_STEP, "")
    if wanted:
        number, _, kind = wanted.partition(":")
        trainer_module.Trainer._update = failing_update(trainer_module.Trainer._update, int(number), kind == "oom")
    seconds = os.environ.get(STALL_FINAL_SAVE, "")
    if seconds:
        trainer_module.save_final_model = stalled_save(trainer_module.save_final_model, float(seconds))


def fault_env(raise_at_step: str | None = None, stall_final_save: float | None = None) -> dict[str, str]:
    """The environment of a child process with these faults: os.environ, the fault variables, and
    fault_injection/ first on PYTHONPATH (torchrun's ranks inherit it)."""
    paths = [str(SUPPORT / "fault_injection")]
    if os.environ.get("PYTHONPATH"):
        paths.append(os.environ["PYTHONPATH"])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    if raise_at_step is not None:
        env[RAISE_AT_STEP] = raise_at_step
    if stall_final_save is not None:
        env[STALL_FINAL_SAVE] = str(stall_final_save)
    return env
