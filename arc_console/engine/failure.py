"""What to say when a step raises: one line for the user and a hint for CUDA out-of-memory."""

from __future__ import annotations

import traceback

import torch

from arc_console.engine.objective_registry import get_objective, objective_names

_CUTTABLE = ", ".join(name for name in objective_names() if get_objective(name).splits_groups)
OOM_HINT = ("hint: CUDA ran out of memory: lower --max-new-tokens or --problems-per-step, "
            f"or use --rollout-experts packed and ({_CUTTABLE}) cut the update with --update-micro-rows 4")


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
