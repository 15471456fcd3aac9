"""The run directory, in the seed's layout: logs/training.log, logs/responses/step_NNN.json,
logs/metrics.jsonl, checkpoints/step_N/, final_model/. Every write is atomic or a whole appended line."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import threading
import time
from contextlib import suppress
from datetime import datetime
from pathlib import Path
from typing import Any

from arc_console.rundir.atomic import atomic_write_text
from arc_console.rundir.files import STOP_RECORD, first_started, read_run_settings, stop_words  # stop_words: re-exported


HEARTBEAT_FILE = "heartbeat"
HEARTBEAT_MIN_INTERVAL_S = 1.0

_NUMBER_LIST = re.compile(r"\[\s*(-?\d[\d\s,.-]*?)\s*\]")


def dump_step_json(record: dict[str, Any]) -> str:
    """Indented JSON with each grid row on one line, as the seed's README shows its grids."""
    text = json.dumps(record, indent=2, ensure_ascii=False)
    return _NUMBER_LIST.sub(lambda m: "[" + ", ".join(part.strip() for part in m.group(1).split(",")) + "]", text) + "\n"


def step_file_name(step: int) -> str:
    return f"step_{step:03d}.json"


class RunLog:
    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.logs = run_dir / "logs"
        self.responses = self.logs / "responses"
        self.checkpoints = run_dir / "checkpoints"
        self.final_model = run_dir / "final_model"
        self.training_log = self.logs / "training.log"
        self.metrics = self.logs / "metrics.jsonl"
        self.heartbeat_path = self.logs / HEARTBEAT_FILE
        self._run_info: dict[str, Any] = {}
        self._notes: dict[str, Any] = {}
        self._stop_lock = threading.Lock()  # the trainer's thread and the main thread may both record a stop
        self._stop_recorded: tuple[str, int] | None = None  # the trainer's (reason, step), once recorded
        self._last_beat = float("-inf")
        for folder in (self.responses, self.checkpoints):
            folder.mkdir(parents=True, exist_ok=True)
        self.removed_leftovers = self._remove_leftovers()

    def _remove_leftovers(self) -> list[str]:
        """Staging folders and temporary files that a killed process left half-written. A folder moved
        aside for its replacement (`.old-X`, atomic.staged_folder) whose replacement never arrived is put
        back: the process died between the two renames, and the old folder is the last good one."""
        removed = []
        for folder in (self.run_dir, self.checkpoints, self.logs, self.responses):
            for path in folder.glob(".old-*"):
                original = path.with_name(path.name.removeprefix(".old-"))
                if path.is_dir() and not original.exists():
                    path.rename(original)
            for path in folder.glob(".*"):
                if path.name.startswith((".staging-", ".old-")) and path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                    removed.append(str(path))
                elif path.name.endswith(".tmp") and path.is_file():
                    path.unlink(missing_ok=True)
                    removed.append(str(path))
        return removed

    def log(self, text: str, level: str = "info") -> str:
        """Append one line to training.log; returns the line as written (without the newline)."""
        stamp = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
        line = f"{stamp} {level.upper():<7} {text}"
        self._append(self.training_log, line)
        return line

    def note_run_info(self, **notes: Any) -> None:
        """Keys the command line adds to run.json beside the trainer's: how the run was started (preset,
        headless, nproc), which a resume and the resume command that watch and eval print go by."""
        self._notes.update(notes)

    def write_run_info(self, info: dict[str, Any]) -> None:
        """logs/run.json: what `watch` shows about a run before its first checkpoint. The trainer's
        process is named in it (pid, host, started_at), so that watch can tell a run that died. `started`
        is this start's time; a resumed run (info["resumed_from"]) keeps its first start (first_started)
        and its preset from the run.json it replaces."""
        previous = read_run_settings(self.run_dir) if info.get("resumed_from") else {}
        kept = {key: previous[key] for key in ("preset",) if key in previous}
        first = first_started(previous, self.run_dir) if previous else None
        self._run_info = {**kept, **self._notes, **info, "first_started": first or info.get("started"),
                          "pid": os.getpid(), "host": socket.gethostname(), "started_at": time.time()}
        atomic_write_text(self.logs / "run.json", json.dumps(self._run_info, indent=2) + "\n")
        self.heartbeat(force=True)

    def record_stop(self, reason: str, step: int, error: str | None = None) -> None:
        """The run ended with a word: run.json gets its stop record (reason, time, last complete step)."""
        with self._stop_lock:
            self._write_stop(reason, step, error)

    def record_interrupted(self, step: int | None) -> bool:
        """A second stop signal gave up on the save: training.log and run.json say stopped (interrupted) at
        `step`, the last complete checkpoint (None: none). Not where the trainer recorded its own stop first
        (its save was done), nor before run.json holds the run's settings (a stop record alone would replace
        them). A stop the trainer records after this one replaces it: its save finished after all.
        Returns whether the record was written."""
        with self._stop_lock:
            if self._stop_recorded is not None or not self._run_info:
                return False
            with suppress(OSError):  # a full disk: run.json may still take the record
                self.log(f"stopped (interrupted) after step {step or 0}: a second stop signal gave up on the save")
            self._write_stop("interrupted", step or 0)
            return True

    @property
    def stop_recorded(self) -> tuple[str, int] | None:
        """How the trainer recorded the run's end, (reason, step); None before (an interrupted record does
        not count)."""
        return self._stop_recorded

    def _write_stop(self, reason: str, step: int, error: str | None = None) -> None:
        stopped = {"reason": reason, "step": step, "time": datetime.now().isoformat(timespec="seconds"),
                   "at": time.time(), **({"error": error} if error else {})}
        atomic_write_text(self.logs / "run.json", json.dumps({**self._run_info, STOP_RECORD: stopped}, indent=2) + "\n")
        if reason != "interrupted":
            self._stop_recorded = (reason, step)

    def heartbeat(self, force: bool = False) -> None:
        """Touch logs/heartbeat: its mtime says when the trainer last showed signs of life (a step, or
        waiting while paused). At most once a second unless forced."""
        now = time.monotonic()
        if not force and now - self._last_beat < HEARTBEAT_MIN_INTERVAL_S:
            return
        self._last_beat = now
        self.heartbeat_path.touch()
        os.utime(self.heartbeat_path)

    def write_step(self, record: dict[str, Any]) -> Path:
        path = self.responses / step_file_name(record["step"])
        atomic_write_text(path, dump_step_json(record))
        return path

    def append_metrics(self, metrics: dict[str, Any]) -> None:
        self._append(self.metrics, json.dumps(metrics, separators=(",", ":")))

    def read_metrics(self) -> list[dict[str, Any]]:
        rows = []
        try:
            lines = self.metrics.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return rows
        for line in lines:
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a line cut short by a crash
        return rows

    def rewind_to(self, step: int) -> list[int]:
        """Forget what came after `step` (resuming from its checkpoint): metrics lines and step files
        past it would be rewritten anyway; leaving them would make the history lie. Returns the
        steps whose files were removed."""
        kept = [row for row in self.read_metrics() if int(row.get("step", 0)) <= step]
        atomic_write_text(self.metrics, "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in kept))
        removed = []
        for path in self.responses.glob("step_*.json"):
            try:
                number = int(path.stem.split("_", 1)[1])
            except ValueError:
                continue
            if number > step:
                path.unlink()
                removed.append(number)
        return sorted(removed)

    @staticmethod
    def _append(path: Path, line: str) -> None:
        # One write() of a whole line, then fsync: a crash leaves at most one partial last line.
        with path.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")
            handle.flush()
            os.fsync(handle.fileno())
