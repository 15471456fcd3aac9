"""Run an evaluation: answer every task, keep running totals, rewrite the result files after each task."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from arc_console.arc.augment import task_views
from arc_console.arc.tasks import Task
from arc_console.decoding.rollout_engine import RolloutEngine
from arc_console.engine.control import RunControl
from arc_console.evaluation import events as ev
from arc_console.evaluation.report import REPORT, SUBMISSION, EvalTotals, write_results
from arc_console.evaluation.settings import EvalSettings
from arc_console.evaluation.solver import Stopped, answer_task, context_limit
from arc_console.evaluation.solver_types import TaskAnswer

# (task, control, progress callback, event sink) -> the task's answer; test_time.TestTimeTrainer.answer is one
TaskAnswerer = Callable[[Task, RunControl, Any, ev.EvalSink], TaskAnswer]


def run_evaluation(tasks: list[Task], engine: RolloutEngine, settings: EvalSettings, out_dir: Path | None,
                   emit: ev.EvalSink, control: RunControl | None = None, header: dict[str, Any] | None = None,
                   model_name: str = "", device: str = "", answerer: TaskAnswerer | None = None,
                   reserve: bool = True, test_time: dict[str, Any] | None = None) -> EvalTotals:
    """Answer `tasks` in order. With `out_dir`, the files are rewritten after every task, so a stop
    keeps every task answered so far. `answerer` replaces plain answering (test-time RL). `reserve`
    sizes the engine's decode step for a task's views x samples; the trainer's held-out evaluation
    leaves its engine as the trainer sized it (rollouts are then split to fit). `test_time`: the
    test-time settings (steps 0: off), recorded with the others in eval.json's "settings". Returns the totals."""
    control = control or RunControl()
    views = len(task_views(settings.augment, settings.seed))
    if reserve:  # one decode shape for every task; the model's own context (max_seq_length 0) is too long to reserve
        engine.reserve(views * settings.samples, context_limit(engine.policy, settings) if settings.max_seq_length else 0)
    totals = EvalTotals(len(tasks))
    recorded = {**settings.to_dict(), **({"test_time": test_time} if test_time is not None else {})}
    header = {**(header or {}), "model": model_name, "device": device, "settings": recorded}
    emit(ev.EvalStarted(model_name, device, [t.id for t in tasks], settings.to_dict(), str(out_dir or ""),
                        views))
    stopped = False
    for index, task in enumerate(tasks):
        if control.stop_requested:
            stopped = True
            break
        emit(ev.TaskStarted(index, task.id, task.test[0].input, task.test[0].output))
        try:
            progress = lambda tokens, most, rate: emit(ev.EvalProgress(tokens, most, rate))  # noqa: E731
            answer = (answerer(task, control, progress, emit) if answerer is not None
                      else answer_task(task, engine, settings, control, progress))
        except Stopped:
            stopped = True
            emit(ev.EvalLog(f"stopped during {task.id}: it is not counted", "warning"))
            break
        totals.add(answer)
        for note in answer.notes:
            emit(ev.EvalLog(f"{task.id}: {note}", "warning"))
        if out_dir is not None:
            write_results(out_dir, totals, header, stopped=False)
        emit(ev.TaskAnswered(index, task.id, answer.to_dict(), [t.view_grids for t in answer.tests], totals.as_dict()))
    files = []
    if out_dir is not None:
        write_results(out_dir, totals, header, stopped=stopped)
        files = [str(out_dir / SUBMISSION), str(out_dir / REPORT)]
    emit(ev.EvalFinished(totals.as_dict(), stopped, str(out_dir or ""), files))
    return totals
