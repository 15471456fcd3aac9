"""ReportingSink: an event sink in front of another one that also sends every step to the reporting backends.

The trainer never knows: it emits events as always, and this forwards each to the downstream sink
(the dashboard or the headless printer) first. A backend that fails is switched off with one
warning; training goes on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from arc_console.engine import events as ev
from arc_console.rundir.files import EVAL_LOG, parse_step_rows
from arc_console.reporting.base import Reporter, RunInfo
from arc_console.reporting.scalars import best_candidate_text, eval_scalars, step_scalars

EVAL_FILE = EVAL_LOG


class EvalLogTail:
    """New complete lines of logs/eval.jsonl (held-out evaluation, written by whoever evaluates)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0

    def new_rows(self) -> list[dict[str, Any]]:
        try:
            with self.path.open("rb") as handle:
                handle.seek(self._offset)
                data = handle.read()
        except OSError:
            return []
        complete = data[: data.rfind(b"\n") + 1]
        self._offset += len(complete)
        return parse_step_rows(complete)


class ReportingSink:
    def __init__(self, downstream: ev.EventSink, reporters: list[Reporter], run_dir: Path,
                 config: dict[str, Any]) -> None:
        self.downstream = downstream
        self.reporters = list(reporters)
        self.run_dir = run_dir
        self.config = config
        self._eval = EvalLogTail(run_dir / EVAL_FILE)
        self._started = False

    def __call__(self, event: ev.Event) -> None:
        self.downstream(event)
        if isinstance(event, ev.RunStarted):
            self._start(event)
        elif isinstance(event, ev.StepFinished) and self._started:
            self._each("log", lambda r: r.log_scalars(event.step, step_scalars(event.metrics, event.record)))
            text = best_candidate_text(event.record)
            self._each("log", lambda r: r.log_text(event.step, "best_candidate", text))
            self._report_eval()
        elif isinstance(event, ev.Stopped) and self._started:
            self._report_eval()
            self._each("finish", lambda r: r.finish())
            self._started = False

    def _start(self, event: ev.RunStarted) -> None:
        run = RunInfo(self.run_dir, self.run_dir.resolve().name, self.config, event.start_step)
        self._eval = EvalLogTail(self.run_dir / EVAL_FILE)
        if event.resumed_from:  # the earlier process reported the evaluations already written
            self._eval.new_rows()
        self._each("start", lambda r: r.start(run))
        self._started = True
        if self.reporters:
            names = ", ".join(r.name for r in self.reporters)
            self.downstream(ev.LogLine(f"reporting to {names}"))

    def _report_eval(self) -> None:
        for row in self._eval.new_rows():
            scalars = eval_scalars(row)
            if scalars:
                self._each("log", lambda r: r.log_scalars(row["step"], scalars))

    def _each(self, what: str, action: Any) -> None:
        for reporter in list(self.reporters):
            try:
                action(reporter)
            except Exception as exc:  # a tracker's failure must never stop training
                self.reporters.remove(reporter)
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
                self.downstream(ev.LogLine(f"report-to {reporter.name}: {what} failed ({type(exc).__name__}: "
                                           f"{first}); no longer reporting to it", "warning"))
