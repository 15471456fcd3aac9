"""Weights & Biases: one W&B run per run directory (resumed with it); WANDB_MODE=offline works without a network."""

from __future__ import annotations

import hashlib
import os
import re
from typing import Any

from arc_console.reporting.base import RunInfo

DEFAULT_PROJECT = "arc-console"


def run_id(run: RunInfo) -> str:
    """Stable across resumes of the same run directory, so W&B continues one run."""
    digest = hashlib.sha1(str(run.run_dir.resolve()).encode()).hexdigest()[:8]
    return re.sub(r"[^A-Za-z0-9_-]", "-", run.name)[:40] + "-" + digest


class WandbReporter:
    name = "wandb"

    def __init__(self) -> None:
        self._run: Any = None

    def start(self, run: RunInfo) -> None:
        import wandb

        self._run = wandb.init(project=os.environ.get("WANDB_PROJECT", DEFAULT_PROJECT), name=run.name,
                               id=run_id(run), resume="allow", dir=str(run.run_dir), config=run.config)

    def log_scalars(self, step: int, scalars: dict[str, float]) -> None:
        self._run.log(scalars, step=step)

    def log_text(self, step: int, key: str, text: str) -> None:
        import wandb

        self._run.log({key: wandb.Table(columns=["step", "text"], data=[[step, text]])}, step=step)

    def finish(self) -> None:
        if self._run is not None:
            self._run.finish()
            self._run = None
