"""What the run directories under a folder are doing: state, progress, results. Reads files only.

State, from the most to the least reliable sign: a stop record in logs/run.json ("stopped": {"reason"}),
the recorded process id ("pid": alive or not), the last "stopped (...)" line of training.log, and
last of all how recently the run wrote anything.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from arc_console.rundir.files import first_started, read_metrics, read_run_settings, stop_record, stop_words

QUIET_S = 600  # a run without pid or stop record that wrote nothing for this long is taken as dead
LOG_TAIL_BYTES = 256 * 1024
PASS_AT_2_KEYS = ("pass@2", "pass_at_2", "pass2")


@dataclass
class RunSummary:
    path: str
    name: str
    state: str  # running | stopped | crashed | empty
    why: str  # the stop reason, or what the state was judged from
    step: int  # last completed step (0: none)
    max_steps: int | None
    best_pass_at_2: float | None  # best held-out pass@2 in logs/eval.jsonl
    perfect_problems: int
    last_checkpoint: str | None
    started: str | None  # when the run first started
    resumed: str | None  # when it was last resumed (None: never)
    model: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def is_run_dir(path: Path) -> bool:
    return (path / "logs").is_dir() or (path / "checkpoints").is_dir()


def find_run_dirs(folder: Path) -> list[Path]:
    """`folder` itself when it is a run directory, else its subfolders that are."""
    if is_run_dir(folder):
        return [folder]
    return sorted(p for p in folder.iterdir() if p.is_dir() and is_run_dir(p))


def process_alive(pid: Any, started: str | None) -> bool:
    """Whether `pid` is still the process that started the run (not a later one given the same id)."""
    import psutil

    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    try:
        created = psutil.Process(pid).create_time()
    except (psutil.Error, OSError):
        return False
    started_at = _timestamp(started)
    return started_at is None or created <= started_at + 5


def _timestamp(text: Any) -> float | None:
    try:
        return datetime.fromisoformat(text).timestamp() if isinstance(text, str) else None
    except ValueError:
        return None


def last_stop_line(training_log: Path) -> str | None:
    """The reason in the last "stopped (...)" line of training.log, unless training started again after it."""
    try:
        with training_log.open("rb") as handle:
            handle.seek(max(0, training_log.stat().st_size - LOG_TAIL_BYTES))
            lines = handle.read().decode("utf-8", errors="replace").splitlines()
    except OSError:
        return None
    reason = None
    for line in lines:
        if " INFO    stopped (" in line:
            reason = line.split(" stopped (", 1)[1].split(")", 1)[0]
        elif " INFO    training " in line:
            reason = None
    return reason


def best_pass_at_2(eval_log: Path) -> float | None:
    best = None
    try:
        lines = eval_log.read_bytes().splitlines()
    except OSError:
        return None
    for line in lines:
        try:
            row = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            continue
        if not isinstance(row, dict):
            continue
        value = next((row[k] for k in PASS_AT_2_KEYS if k in row), None)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            best = value if best is None else max(best, value)
    return float(best) if best is not None else None


def last_checkpoint(run_dir: Path) -> str | None:
    steps = []
    try:
        for path in (run_dir / "checkpoints").iterdir():
            number = path.name.removeprefix("step_")
            if path.name.startswith("step_") and number.isdigit() and (path / "trainer_state.json").exists():
                steps.append(int(number))
    except OSError:
        return None
    return f"step_{max(steps)}" if steps else None


def _last_write(run_dir: Path) -> float | None:
    times = []
    for path in (run_dir / "logs" / "training.log", run_dir / "logs" / "metrics.jsonl", run_dir / "logs" / "run.json"):
        try:
            times.append(path.stat().st_mtime)
        except OSError:
            continue
    return max(times) if times else None


def _ago(seconds: float) -> str:
    seconds = int(max(0, seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"


def _state(run_dir: Path, settings: dict[str, Any], now: float) -> tuple[str, str]:
    stop = stop_record(settings)
    if stop is not None:
        detail = stop.get("error") if isinstance(stop.get("error"), str) else None
        return "stopped", stop_words(stop["reason"]) + (f": {detail}" if detail else "")
    if "pid" in settings:
        if process_alive(settings["pid"], settings.get("started")):
            return "running", f"pid {settings['pid']}"
        reason = last_stop_line(run_dir / "logs" / "training.log")
        if reason is not None:
            return "stopped", stop_words(reason)
        return "crashed", f"pid {settings['pid']} is gone without a stop record"
    reason = last_stop_line(run_dir / "logs" / "training.log")
    if reason is not None:
        return "stopped", stop_words(reason)
    written = _last_write(run_dir)
    if written is None:
        return "empty", "nothing written yet"
    if now - written < QUIET_S:
        return "running", f"no pid recorded; last write {_ago(now - written)}"
    return "crashed", f"no stop recorded; last write {_ago(now - written)}"


def summarize(run_dir: Path, now: float | None = None) -> RunSummary:
    settings = read_run_settings(run_dir)
    metrics = read_metrics(run_dir)
    state, why = _state(run_dir, settings, time.time() if now is None else now)
    last = metrics[-1] if metrics else {}
    max_steps = settings.get("max_steps")
    perfect = last.get("perfect_problems", 0)
    stop = stop_record(settings)
    if stop is not None and isinstance(stop.get("perfect_problems"), list):
        perfect = len(stop["perfect_problems"])
    return RunSummary(
        path=str(run_dir),
        name=run_dir.name,
        state=state,
        why=why,
        step=int(last.get("step", 0)),
        max_steps=max_steps if isinstance(max_steps, int) and not isinstance(max_steps, bool) else None,
        best_pass_at_2=best_pass_at_2(run_dir / "logs" / "eval.jsonl"),
        perfect_problems=perfect if isinstance(perfect, int) and not isinstance(perfect, bool) else 0,
        last_checkpoint=last_checkpoint(run_dir),
        started=first_started(settings, run_dir),
        resumed=settings.get("started") if settings.get("resumed_from") and isinstance(settings.get("started"), str)
        else None,
        model=str(settings["model"]) if "model" in settings else None,
    )


def summarize_all(folder: Path) -> list[RunSummary]:
    """Every run under `folder`, oldest start first (runs that never started last)."""
    runs = [summarize(path) for path in find_run_dirs(folder)]
    return sorted(runs, key=lambda r: (r.started is None, r.started or "", r.name))
