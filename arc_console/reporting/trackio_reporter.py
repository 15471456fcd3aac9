"""trackio: local by default (a SQLite database under TRACKIO_DIR, `trackio show` to browse it)."""

from __future__ import annotations

import os
from typing import Any

from arc_console.reporting.base import RunInfo

DEFAULT_PROJECT = "arc-console"


class TrackioReporter:
    name = "trackio"

    def __init__(self) -> None:
        self._run: Any = None

    def start(self, run: RunInfo) -> None:
        import trackio

        self._run = trackio.init(project=os.environ.get("TRACKIO_PROJECT", DEFAULT_PROJECT), name=run.name,
                                 config=run.config, resume="allow", auto_log_gpu=False, auto_log_cpu=False)

    def log_scalars(self, step: int, scalars: dict[str, float]) -> None:
        self._run.log(scalars, step=step)

    def log_text(self, step: int, key: str, text: str) -> None:
        import trackio

        self._run.log({key: trackio.Markdown("```\n" + text.replace("```", "ˋˋˋ") + "\n```")}, step=step)

    def finish(self) -> None:
        if self._run is not None:
            self._run.finish()
            self._run = None
