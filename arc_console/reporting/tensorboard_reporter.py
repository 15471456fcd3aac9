"""TensorBoard: event files in RUN_DIR/tensorboard/ (`tensorboard --logdir RUN_DIR/tensorboard`)."""

from __future__ import annotations

import json
from typing import Any

from arc_console.reporting.base import RunInfo

SUBFOLDER = "tensorboard"


def as_markdown_code(text: str) -> str:
    """TensorBoard renders text as Markdown: indent every line so model output shows verbatim, as code."""
    return "\n".join("    " + line for line in text.splitlines() or [""])


class TensorBoardReporter:
    name = "tensorboard"

    def __init__(self) -> None:
        self._writer: Any = None

    def start(self, run: RunInfo) -> None:
        from torch.utils.tensorboard import SummaryWriter

        # purge_step hides what an earlier process logged from this step on: a resumed run rewrites those steps.
        self._writer = SummaryWriter(log_dir=str(run.run_dir / SUBFOLDER), purge_step=run.start_step,
                                     flush_secs=10)
        self._writer.add_text("config", as_markdown_code(json.dumps(run.config, indent=2)), run.start_step)

    def log_scalars(self, step: int, scalars: dict[str, float]) -> None:
        for name, value in scalars.items():
            self._writer.add_scalar(name, value, step)

    def log_text(self, step: int, key: str, text: str) -> None:
        self._writer.add_text(key, as_markdown_code(text), step)
        self._writer.flush()  # text comes last in a step: a crash loses at most the step in progress

    def finish(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
