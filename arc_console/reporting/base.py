"""What every reporting backend implements, and what it is told about the run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol


@dataclass(frozen=True)
class RunInfo:
    run_dir: Path
    name: str  # the run directory's name: how the run is called in every backend
    config: dict[str, Any]
    start_step: int  # the first step this process runs (after a resume, steps from here are rewritten)


class Reporter(Protocol):
    name: str

    def start(self, run: RunInfo) -> None: ...

    def log_scalars(self, step: int, scalars: dict[str, float]) -> None: ...

    def log_text(self, step: int, key: str, text: str) -> None: ...

    def finish(self) -> None: ...
