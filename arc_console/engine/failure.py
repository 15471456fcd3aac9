"""What to say when a step raises: one line for the user, a hint for CUDA out-of-memory, and test hooks
that make a chosen step fail or the final save wait (for the crash and signal tests; not user settings)."""

from __future__ import annotations

import os
import time
import traceback

import torch

from arc_console.engine.objective_registry import get_objective, objective_names

# ARC_CONSOLE_TEST_RAISE_AT_STEP=N makes step N raise inside its update; N:oom raises torch's CUDA
# out-of-memory error instead, so both paths run on a CPU.
RAISE_AT_STEP = "ARC_CONSOLE_TEST_RAISE_AT_STEP"

# ARC_CONSOLE_TEST_STALL_FINAL_SAVE=S holds the final model's save back S seconds, so that a test's second
# stop signal lands while a stop is being saved, however fast the tiny model saves.
STALL_FINAL_SAVE = "ARC_CONSOLE_TEST_STALL_FINAL_SAVE"

_CUTTABLE = ", ".join(name for name in objective_names() if get_objective(name).splits_groups)
OOM_HINT = ("hint: CUDA ran out of memory: lower --max-new-tokens or --problems-per-step, "
            f"or use --rollout-experts packed and ({_CUTTABLE}) cut the update with --update-micro-rows 4")


class InjectedFailure(RuntimeError):
    """Raised by the test hook."""


def raise_if_injected(step: int) -> None:
    wanted = os.environ.get(RAISE_AT_STEP, "")
    number, _, kind = wanted.partition(":")
    if not number.strip().isdigit() or int(number) != step:
        return
    if kind == "oom":
        raise torch.OutOfMemoryError(f"CUDA out of memory (injected at step {step} by {RAISE_AT_STEP})")
    raise InjectedFailure(f"injected failure at step {step} ({RAISE_AT_STEP})")


def stall_final_save_if_injected() -> None:
    try:
        seconds = float(os.environ.get(STALL_FINAL_SAVE, "0"))
    except ValueError:
        return
    if 0 < seconds < 3600:
        time.sleep(seconds)


def is_out_of_memory(exc: BaseException) -> bool:
    return isinstance(exc, torch.OutOfMemoryError) or "CUDA out of memory" in str(exc)


def one_line(exc: BaseException) -> str:
    """`Type: first line of the message`, at most 300 characters."""
    lines = str(exc).strip().splitlines()
    text = f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
    return text[:300]


def traceback_lines(exc: BaseException) -> list[str]:
    return "".join(traceback.format_exception(exc)).rstrip().splitlines()


def failure_lines(error: str, checkpoint: str | None, final_model: str | None) -> list[str]:
    """What the command line prints when a run ended on an exception: one error line, and the hint
    line for CUDA out-of-memory."""
    saved = f"; checkpoint {checkpoint}, final model {final_model}" if checkpoint or final_model else "; nothing saved"
    lines = [f"error: {error}{saved} (traceback in training.log)"]
    if "OutOfMemoryError" in error or "CUDA out of memory" in error:
        lines.append(OOM_HINT)
    return lines
