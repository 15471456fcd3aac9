"""RunDirFollower: turn a run directory that another process is writing into the trainer's events.

`watch` runs it in a thread: it polls a few small files (metrics.jsonl, training.log, the
checkpoints folder) and reads a step file only when its metrics line appears. It survives the run
ending, being restarted (metrics.jsonl rewritten) or resumed.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

from arc_console.engine import events as ev
from arc_console.engine.checkpoint_files import STATE, latest_checkpoint
from arc_console.rundir.runlog import HEARTBEAT_FILE
from arc_console.rundir.liveness import assess, heartbeat_age
from arc_console.rundir.files import (
    STOP_RECORD,
    RunFileError,
    load_step_file,
    read_metrics,
    read_run_settings,
    responses_folder,
    stop_record,
)
from arc_console.evaluation.held_out_log import eval_log_path, read_rows

POLL_S = 0.25


class RunDirFollower:
    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.metrics_path = run_dir / "logs" / "metrics.jsonl"
        self.log_path = run_dir / "logs" / "training.log"
        self._metrics_signature: tuple[int, int] | None = None
        self._history: list[dict] = []
        self._log_offset = 0
        self._log_partial = b""
        self._checkpoints: set[str] = set()
        self._settings_mtime: float | None = None
        self._settings: dict[str, Any] = {}
        self._verdict: str | None = None  # the last liveness state told to the sink
        self._eval_signature: tuple[int, int] | None = None
        self._eval_rows_told = 0

    def __call__(self, sink: ev.EventSink, closing: threading.Event) -> None:
        self._announce(sink)
        self._checkpoints = self._checkpoint_names()
        while True:
            self.poll(sink)
            if closing.wait(POLL_S):
                return

    def _announce(self, sink: ev.EventSink) -> None:
        settings = self._settings = read_run_settings(self.run_dir)
        self._verdict = None  # a new or resumed run: its liveness is told afresh
        try:
            self._settings_mtime = (self.run_dir / "logs" / "run.json").stat().st_mtime
        except OSError:
            self._settings_mtime = None
        sink(ev.RunStarted(
            run_dir=str(self.run_dir),
            model=str(settings.get("model", "?")),
            backend=str(settings.get("backend", "?")),
            device=str(settings.get("device", "?")),
            objective=str(settings.get("objective", "?")),
            start_step=int(settings.get("start_step", 1) or 1),
            max_steps=int(settings.get("max_steps", 0) or 0),
            num_candidates=int(settings.get("num_candidates", 0) or 0),
            problems=[str(p) for p in settings.get("problems", [])] if isinstance(settings.get("problems"), list) else [],
            early_stop_perfect=_whole_number(settings.get("early_stop_perfect")),
        ))

    def poll(self, sink: ev.EventSink) -> None:
        try:
            mtime = (self.run_dir / "logs" / "run.json").stat().st_mtime
        except OSError:
            mtime = None
        if mtime != self._settings_mtime:
            settings = read_run_settings(self.run_dir)
            if _without_stop(settings) != _without_stop(self._settings):  # a restart or a resume
                self._announce(sink)
            else:  # the same run, ended: its stop record, told by _poll_liveness
                self._settings, self._settings_mtime = settings, mtime
        self._poll_metrics(sink)
        self._poll_held_out(sink)
        self._poll_log(sink)
        self._poll_checkpoints(sink)
        self._poll_liveness(sink)

    def _poll_metrics(self, sink: ev.EventSink) -> None:
        try:
            stat = self.metrics_path.stat()
        except OSError:
            return
        signature = (stat.st_ino, stat.st_size)
        if signature == self._metrics_signature:
            return
        rewritten = self._metrics_signature is None or stat.st_ino != self._metrics_signature[0] \
            or stat.st_size < self._metrics_signature[1]
        self._metrics_signature = signature
        rows = read_metrics(self.run_dir)
        known = {row["step"] for row in self._history}
        new_rows = [row for row in rows if row["step"] not in known]
        if rewritten or len(rows) < len(self._history):
            self._history = rows
            sink(ev.HistoryLoaded(rows))
            if rows:
                self._emit_step(sink, rows[-1])
            return
        for row in new_rows:
            self._history.append(row)
            self._emit_step(sink, row)

    def _emit_step(self, sink: ev.EventSink, metrics: dict) -> None:
        step = int(metrics["step"])
        path = responses_folder(self.run_dir) / f"step_{step:03d}.json"
        try:
            record = load_step_file(path)
        except RunFileError as exc:
            sink(ev.LogLine(f"watch: {exc}", "warning"))
            record = {"candidates": []}
        sink(ev.StepFinished(step, str(metrics.get("problem_id", record.get("problem_id", "?"))), metrics, record))

    def _poll_held_out(self, sink: ev.EventSink) -> None:
        """logs/eval.jsonl (--eval-every): each new line as a HeldOutEvaluated event; all again when rewritten."""
        try:
            stat = eval_log_path(self.run_dir).stat()
        except OSError:
            return
        signature = (stat.st_ino, stat.st_size)
        if signature == self._eval_signature:
            return
        rewritten = self._eval_signature is not None and (stat.st_ino != self._eval_signature[0]
                                                          or stat.st_size < self._eval_signature[1])
        self._eval_signature = signature
        rows = read_rows(self.run_dir)
        start = 0 if rewritten or len(rows) < self._eval_rows_told else self._eval_rows_told
        for row in rows[start:]:
            sink(ev.HeldOutEvaluated(row["step"], row))
        self._eval_rows_told = len(rows)

    def _poll_log(self, sink: ev.EventSink) -> None:
        try:
            size = self.log_path.stat().st_size
        except OSError:
            return
        if size < self._log_offset:  # replaced: start over
            self._log_offset, self._log_partial = 0, b""
        if size == self._log_offset:
            return
        with self.log_path.open("rb") as handle:
            handle.seek(self._log_offset)
            chunk = handle.read(min(size - self._log_offset, 4 * 1024 * 1024))
        self._log_offset += len(chunk)
        data = self._log_partial + chunk
        *lines, self._log_partial = data.split(b"\n")
        stop_line = None
        for raw in lines[-500:]:
            line = raw.decode("utf-8", errors="replace")
            sink(ev.LogLine(line, "warning" if " WARNING " in line else "info"))
            if "pid" in self._settings:
                continue  # run.json names the process and records the stop: see _poll_liveness
            if " INFO    stopped (" in line:  # a run directory from before that
                stop_line = line
            elif " INFO    training " in line:
                stop_line = None  # started again after that stop
        if stop_line is not None:
            reason = stop_line.split(" stopped (", 1)[1].split(")", 1)[0]
            step = self._history[-1]["step"] if self._history else 0
            sink(ev.Stopped(step, reason, perfect_problems=self._perfect_problems(step)))

    def _checkpoint_names(self) -> set[str]:
        try:
            return {p.name for p in (self.run_dir / "checkpoints").iterdir() if (p / "trainer_state.json").exists()}
        except OSError:
            return set()

    def _poll_checkpoints(self, sink: ev.EventSink) -> None:
        names = self._checkpoint_names()
        for name in sorted(names - self._checkpoints):
            step = int(name.split("_", 1)[1]) if name.split("_", 1)[1].isdigit() else 0
            sink(ev.CheckpointSaved(step, str(self.run_dir / "checkpoints" / name), "seen"))
        self._checkpoints = names

    def _poll_liveness(self, sink: ev.EventSink) -> None:
        step_times = [float(row["step_time_s"]) for row in self._history[-20:] if row.get("step_time_s")]
        age = heartbeat_age(self.run_dir / "logs" / HEARTBEAT_FILE, time.time())
        verdict = assess(self._settings, age, step_times)
        previous, self._verdict = self._verdict, verdict.state
        if verdict.state == previous or verdict.state == "unknown":
            return
        if verdict.state == "finished":
            stop = stop_record(self._settings) or {}
            step = int(stop.get("step", 0) or 0)
            sink(ev.Stopped(step, str(stop.get("reason", "?")), perfect_problems=self._perfect_problems(step)))
        elif verdict.state in ("died", "silent"):
            sink(ev.TrainerLiveness(verdict.state, verdict.detail))
            sink(ev.LogLine(f"watch: {verdict.detail}", "warning"))
        elif previous in ("died", "silent"):
            sink(ev.TrainerLiveness("running", verdict.detail))
            sink(ev.LogLine(f"watch: the trainer shows signs of life again ({verdict.detail})", "info"))

    def _perfect_problems(self, stopped_at: int) -> list[str]:
        """The problems the run solved perfectly: those its steps' metrics name, and the full list that the
        checkpoint written at the stop carries (a step's metrics name only its first problem)."""
        names = [str(row.get("problem_id")) for row in self._history if row.get("perfect")]
        final = latest_checkpoint(self.run_dir / "checkpoints")
        if final is not None and final.name == f"step_{stopped_at}":
            try:
                saved = json.loads((final / STATE).read_text(encoding="utf-8")).get("perfect_problems")
            except (OSError, ValueError, AttributeError):
                saved = None
            if isinstance(saved, list):
                names += [str(name) for name in saved]
        return list(dict.fromkeys(names))


def _whole_number(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _without_stop(settings: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in settings.items() if key != STOP_RECORD}
