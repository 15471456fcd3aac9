"""Read what a run directory holds, trusting nothing: step files, metrics, the run's settings.

Used by replay and watch. Every problem becomes a RunFileError with a one-line message naming the
file; nothing here ever writes.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from arc_console import UserError
from arc_console.arc.grids import GridError, validate_grid

MAX_STEP_FILE_BYTES = 64 * 1024 * 1024
_STEP_NAME = re.compile(r"step_(\d+)\.json")


class RunFileError(UserError, ValueError):
    pass


@dataclass(frozen=True)
class StepFile:
    path: Path
    step: int


def step_number(path: Path) -> int | None:
    match = _STEP_NAME.fullmatch(path.name)
    return int(match.group(1)) if match else None


def list_step_files(folder: Path) -> list[StepFile]:
    """The step_N.json files of a folder, in step order."""
    try:
        entries = list(folder.iterdir())
    except OSError as exc:
        raise RunFileError(f"{folder}: cannot read folder ({exc.strerror or exc})") from None
    files = [StepFile(p, n) for p in entries if (n := step_number(p)) is not None]
    return sorted(files, key=lambda f: f.step)


def responses_folder(run_dir: Path) -> Path:
    return run_dir / "logs" / "responses"


def run_dir_of_step_file(path: Path) -> Path | None:
    """RUN_DIR when the file sits in RUN_DIR/logs/responses/."""
    folder = path.resolve().parent
    if folder.name == "responses" and folder.parent.name == "logs":
        return folder.parent.parent
    return None


def _grid(value: Any, what: str, path: Path, allow_none: bool = False) -> list[list[int]] | None:
    if value is None and allow_none:
        return None
    try:
        return validate_grid(value)
    except GridError as exc:
        raise RunFileError(f"{path}: {what}: {exc}") from None


def load_step_file(path: Path) -> dict[str, Any]:
    """A validated step record (the seed's schema; extra fields kept, missing optional ones filled)."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise RunFileError(f"{path}: no such file") from None
    except OSError as exc:
        raise RunFileError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if path.is_dir():
        raise RunFileError(f"{path}: is a folder, not a step file")
    if size > MAX_STEP_FILE_BYTES:
        raise RunFileError(f"{path}: {size // (1024 * 1024)} MB is too large for a step file")
    try:
        text = path.read_bytes().decode("utf-8")
        data = json.loads(text)
    except UnicodeDecodeError:
        raise RunFileError(f"{path}: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        ends_early = exc.msg.startswith("Unterminated") or exc.pos >= len(text.rstrip()) - 1
        truncated = "truncated? " if ends_early and text.lstrip().startswith(("{", "[")) else ""
        raise RunFileError(f"{path}: not valid JSON ({truncated}{exc.msg} at line {exc.lineno})") from None
    except RecursionError:
        raise RunFileError(f"{path}: JSON nested too deeply") from None
    except OSError as exc:
        raise RunFileError(f"{path}: cannot read ({exc.strerror or exc})") from None
    return validate_step_record(data, path)


def validate_step_record(data: Any, path: Path) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise RunFileError(f"{path}: expected a step object, got {type(data).__name__}")
    for key, kind in (("step", int), ("problem_id", str), ("candidates", list)):
        if key not in data:
            raise RunFileError(f"{path}: not a step file (no {key!r})")
        if not isinstance(data[key], kind) or isinstance(data[key], bool):
            raise RunFileError(f"{path}: {key!r} should be {kind.__name__}, got {type(data[key]).__name__}")
    record = dict(data)
    record["target_grid"] = _grid(data.get("target_grid"), "target_grid", path)
    record["test_input"] = _grid(data.get("test_input"), "test_input", path, allow_none=True)
    candidates = []
    for index, candidate in enumerate(data["candidates"]):
        if not isinstance(candidate, dict):
            raise RunFileError(f"{path}: candidate {index + 1} is not an object")
        number = candidate.get("candidate_id", index + 1)
        if not isinstance(number, int) or isinstance(number, bool):
            raise RunFileError(f"{path}: candidate {index + 1}: candidate_id should be a number")
        text = candidate.get("response_text", "")
        if not isinstance(text, str):
            raise RunFileError(f"{path}: candidate {number}: response_text should be text")
        grid = _grid(candidate.get("predicted_grid"), f"candidate {number} predicted_grid", path, allow_none=True)
        accuracy = candidate.get("accuracy", 0.0)
        if not isinstance(accuracy, (int, float)) or isinstance(accuracy, bool) or not 0.0 <= accuracy <= 1.0:
            raise RunFileError(f"{path}: candidate {number}: accuracy should be a number in 0..1")
        temperature = candidate.get("temperature")
        if temperature is not None and (not isinstance(temperature, (int, float)) or isinstance(temperature, bool)):
            temperature = None
        candidates.append({
            **candidate,
            "candidate_id": number,
            "response_text": text,
            "predicted_grid": grid,
            "accuracy": float(accuracy),
            "has_grid": bool(candidate.get("has_grid", grid is not None)),
            "correct_size": bool(candidate.get("correct_size", False)),
            "perfect_match": bool(candidate.get("perfect_match", False)),
            "temperature": temperature,
        })
    record["candidates"] = candidates
    return record


EVAL_LOG = Path("logs") / "eval.jsonl"  # held-out evaluations during training (evaluation/held_out_log.py)


def parse_step_rows(data: bytes) -> list[dict[str, Any]]:
    """The well-formed JSON lines of `data` that carry an integer step (metrics.jsonl, eval.jsonl); others are skipped."""
    rows = []
    for line in data.splitlines():
        try:
            row = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            continue
        if isinstance(row, dict) and isinstance(row.get("step"), int) and not isinstance(row.get("step"), bool):
            rows.append(row)
    return rows


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    """metrics.jsonl, skipping lines that are not complete JSON objects with a step number."""
    try:
        return parse_step_rows((run_dir / "logs" / "metrics.jsonl").read_bytes())
    except OSError:
        return []


def read_trainer_pid(run_dir: Path) -> int | None:
    """The pid of the process training in `run_dir` (run.json's "pid"), if that process still runs.

    A pid is reused once its process ends: one whose process started after run.json was written is
    some other program, not the trainer."""
    import psutil

    pid = read_run_settings(run_dir).get("pid")
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return None
    try:
        written = (run_dir / "logs" / "run.json").stat().st_mtime
        started = psutil.Process(pid).create_time()
    except (OSError, psutil.Error):
        return None
    return pid if started <= written + 1.0 else None


def read_run_settings(run_dir: Path) -> dict[str, Any]:
    """logs/run.json (written when a run starts), or {} when absent or unreadable."""
    try:
        data = json.loads((run_dir / "logs" / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def first_log_time(run_dir: Path) -> str | None:
    """When training.log's first line was written (ISO, to the second): when the run first started."""
    try:
        with (run_dir / "logs" / "training.log").open("rb") as handle:
            head = handle.read(19).decode("ascii")
    except (OSError, UnicodeDecodeError):
        return None
    return head.replace(" ", "T") if re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", head) else None


def first_started(settings: dict[str, Any], run_dir: Path) -> str | None:
    """When the run first started (ISO): run.json's first_started; for a resumed run from before run.json
    kept it, training.log's first line; else run.json's started (the run never resumed)."""
    recorded = settings.get("first_started")
    if isinstance(recorded, str):
        return recorded
    started = settings.get("started") if isinstance(settings.get("started"), str) else None
    return (first_log_time(run_dir) or started) if settings.get("resumed_from") else started


def stop_words(reason: str) -> str:
    """How a stop reason reads wherever a person reads it (training.log, the closing line, runs, watch);
    run.json's stop record keeps the key (max_steps -> max steps, stop_requested -> stop requested)."""
    return reason.replace("_", " ")


STOP_RECORD = "stopped"  # run.json's key for how the run ended: {"reason", "step", "time", "at", ["error"]}


def stop_record(settings: dict[str, Any]) -> dict[str, Any] | None:
    """run.json's stop record (written by RunLog.record_stop), or None while the run has not ended with a word."""
    record = settings.get(STOP_RECORD)
    return record if isinstance(record, dict) and isinstance(record.get("reason"), str) else None
