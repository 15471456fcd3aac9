"""What a run directory records of its steps so far, read one way for every view of a run: the metrics
of each step (logs/metrics.jsonl) and the held-out evaluations (logs/eval.jsonl).

The dashboard of `train --resume` starts from it (the steps before the resume are on the chart from the
first frame), replay draws it, and watch's follower reads the same two files with the same readers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from arc_console.engine import events as ev
from arc_console.evaluation.held_out_log import read_rows
from arc_console.rundir.files import read_metrics


@dataclass(frozen=True)
class RecordedHistory:
    metrics: list[dict[str, Any]]  # metrics.jsonl's lines, in step order
    held_out: list[dict[str, Any]]  # eval.jsonl's lines

    def events(self) -> list[ev.Event]:
        """The events that show it, as watch's follower sends them when it opens a run."""
        return [ev.HistoryLoaded(self.metrics), *(ev.HeldOutEvaluated(row["step"], row) for row in self.held_out)]


def read_recorded_history(run_dir: Path, through_step: int | None = None) -> RecordedHistory:
    """The run's recorded steps (those up to `through_step` where given: a resume redoes the later ones)."""
    metrics, held_out = read_metrics(run_dir), read_rows(run_dir)
    if through_step is not None:
        metrics = [row for row in metrics if row["step"] <= through_step]
        held_out = [row for row in held_out if row["step"] <= through_step]
    return RecordedHistory(sorted(metrics, key=lambda row: row["step"]), held_out)
