"""A checkpoint's files and trainer state, read without torch: finding a run's latest complete
checkpoint and its saved settings is what `train --resume`, `eval` and `export` check before they
load anything. checkpoint.py (saving and restoring tensors) re-exports these."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from arc_console import UserError

WEIGHTS = "trainable.safetensors"
OPTIMIZER = "optimizer.pt"
RNG = "rng.pt"
STATE = "trainer_state.json"  # written last: its presence marks a complete checkpoint


class CheckpointError(UserError, RuntimeError):
    pass


@dataclass
class TrainerState:
    step: int  # last completed step
    problem_cursor: int
    perfect_problems: list[str]
    history: list[dict[str, Any]]  # metrics of every step so far
    config: dict[str, Any]

    def to_json(self) -> str:
        return json.dumps(self.__dict__, indent=2)


def checkpoint_dir(checkpoints: Path, step: int) -> Path:
    return checkpoints / f"step_{step}"


def latest_checkpoint(checkpoints: Path) -> Path | None:
    complete = []
    for path in checkpoints.glob("step_*"):
        try:
            number = int(path.name.split("_", 1)[1])
        except ValueError:
            continue
        if (path / STATE).exists():
            complete.append((number, path))
    return max(complete)[1] if complete else None


def find_checkpoint(path: Path) -> Path:
    """A checkpoint folder, or the latest complete one of a run directory."""
    if (path / STATE).exists():
        return path
    if (path / "checkpoints").is_dir():
        found = latest_checkpoint(path / "checkpoints")
        if found is not None:
            return found
        raise CheckpointError(f"{path}: the run has no complete checkpoint to resume from")
    raise CheckpointError(f"{path}: neither a run directory nor a checkpoint")


def read_state(checkpoint: Path) -> TrainerState:
    try:
        data = json.loads((checkpoint / STATE).read_text(encoding="utf-8"))
        return TrainerState(**data)
    except (OSError, ValueError, TypeError) as exc:
        raise CheckpointError(f"{checkpoint}: unreadable trainer state ({exc})") from None
