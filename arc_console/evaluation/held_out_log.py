"""logs/eval.jsonl: one line per held-out evaluation made during training (--eval-every).

Each line: step, pass_at_2, pass_at_1, oracle, tasks (scored), seconds, tokens, source, final,
settings, time, per_task_pass_at_2 (task id -> score). `runs`, the --report-to reporters and `watch` read it back. Torch-free.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from arc_console.rundir.atomic import atomic_write_text
from arc_console.rundir.files import EVAL_LOG, parse_step_rows



def eval_log_path(run_dir: Path) -> Path:
    return run_dir / EVAL_LOG





def read_rows(run_dir: Path) -> list[dict[str, Any]]:
    try:
        data = eval_log_path(run_dir).read_bytes()
    except OSError:
        return []
    return parse_step_rows(data[: data.rfind(b"\n") + 1])


def append_row(run_dir: Path, row: dict[str, Any]) -> None:
    path = eval_log_path(run_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(row) + "\n")


def rewind_to(run_dir: Path, step: int) -> int:
    """Drop the lines of evaluations after `step` (a resume from an earlier checkpoint redoes them).
    Returns how many were dropped."""
    rows = read_rows(run_dir)
    kept = [row for row in rows if row["step"] <= step]
    if len(kept) < len(rows):
        atomic_write_text(eval_log_path(run_dir), "".join(json.dumps(row) + "\n" for row in kept))
    return len(rows) - len(kept)
