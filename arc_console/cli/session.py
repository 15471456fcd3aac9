"""A training session's plumbing: the trainer on its own thread, signals, events forwarded to the
dashboard or the headless printer, and the one-line endings. `train` and the benchmarks call it."""

from __future__ import annotations

import gc
import os
import shutil
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

from arc_console import UserError
from arc_console.cli.errors import describe_os_error
from arc_console.cli.launcher import resume_command
from arc_console.config import TrainConfig
from arc_console.rundir.files import stop_words
from arc_console.terminal.textsafe import one_line

if TYPE_CHECKING:
    from arc_console.engine.step_hooks import StepHook


def remove_if_new(run_dir: Path, existed: bool) -> None:
    """A start that failed in setup leaves no run directory behind unless one was there before."""
    if not existed:
        shutil.rmtree(run_dir, ignore_errors=True)


def with_reporting(sink: Any, config: TrainConfig, run_dir: Path) -> Any:
    """The trainer's event sink: `sink`, behind the --report-to backends when there are any."""
    from arc_console.reporting.listener import ReportingSink
    from arc_console.reporting.targets import build_reporters

    reporters = build_reporters(config.report_to)
    return ReportingSink(sink, reporters, run_dir, config.to_dict()) if reporters else sink


def training_hooks(config: TrainConfig) -> list[StepHook]:
    """What the trainer runs at its step boundaries beyond training: the held-out evaluation of --eval-every.
    Built here, above both, so that engine/ never imports evaluation/."""
    from arc_console.evaluation.during_training import HeldOutEvaluation

    return [HeldOutEvaluation.from_config(config)] if config.eval_every > 0 else []


def note_launch(trainer: Any, preset: str | None, headless: bool, ranks: Any) -> None:
    """run.json names how the run was started: its preset (a resume given the same --preset accepts it),
    headless or not and its ranks (the resume command watch prints starts it the same way)."""
    trainer.runlog.note_run_info(headless=headless, nproc=ranks.world_size if ranks is not None else 1,
                                 **({"preset": preset} if preset is not None else {}))


def report_failure(stopped: Any) -> None:
    """A run that ended on an exception: one line on stderr (and the out-of-memory hint)."""
    from arc_console.engine.failure import failure_lines

    for line in failure_lines(stopped.error or "unknown error", stopped.checkpoint, stopped.final_model):
        print(f"arc-console: {line}", file=sys.stderr)


def record_given_up(trainer: Any, run_dir: Path, headless: bool) -> KeyboardInterrupt:
    """A second stop signal gave up on the save: the run directory records the run as stopped (interrupted)
    at its last complete checkpoint, so `runs` and `watch` do not report a crash (RunLog.record_interrupted
    says when it does not). Returns the interrupt to raise, carrying how to resume (cli.console prints it).
    Stop signals are ignored from here on: the process ends right after, and one more would cut the record
    short or end it with 143."""
    from arc_console.engine.checkpoint_files import latest_checkpoint

    ranks = trainer.ranks
    if not ranks.is_main:
        return KeyboardInterrupt()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)
    checkpoint = None
    with suppress(OSError):
        checkpoint = latest_checkpoint(trainer.runlog.checkpoints)
    step = int(checkpoint.name.split("_", 1)[1]) if checkpoint is not None else None
    with suppress(OSError):
        trainer.runlog.record_interrupted(step)
    recorded = trainer.runlog.stop_recorded
    if recorded is not None:  # the trainer's save won the race: its own record stands
        reason, stopped_at = recorded
        if reason == "error":
            return KeyboardInterrupt(f"the run had failed at step {stopped_at + 1} before the interrupt: see "
                                     f"{one_line(str(trainer.runlog.training_log), 2000)}")
        resume = resume_command(run_dir, headless, extended_max_steps(reason, stopped_at), ranks.world_size)
        return KeyboardInterrupt(f"the run had stopped ({stop_words(reason)}) after step {stopped_at}, saved, "
                                 f"before the interrupt; resume with: {one_line(resume, 4000)}")
    where = "the last complete checkpoint" if checkpoint is not None else "step 1 (no checkpoint was saved)"
    resume = resume_command(run_dir, headless, nproc=ranks.world_size)
    return KeyboardInterrupt(f"resume from {where} with: {one_line(resume, 4000)}")


@contextmanager
def loaded_objects_kept_out_of_gc() -> Iterator[None]:
    """While the run trains: every object alive once the model has loaded (the model, the modules of torch and
    transformers, hundreds of thousands of them) is left out of the cyclic collector's full passes. Such a pass
    is paid by the thread whose allocation set it off: with the dashboard mostly its UI thread, which holds the
    interpreter lock the trainer needs meanwhile. Reference counting still frees them; after the run they are
    the collector's again (cycles among them are collected, the interpreter's exit finds nothing leaked)."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def train_headless(config: TrainConfig, run_dir: Path, checkpoint: Path | None, ranks: Any = None,
                   preset: str | None = None) -> int:
    from arc_console.engine.control import RunControl
    from arc_console.engine.trainer import Trainer
    from arc_console.terminal.stop_signals import graceful_stop_signals
    from arc_console.tui.headless import HeadlessPrinter

    control = RunControl()
    printer = HeadlessPrinter()

    def announce(signum: int) -> None:
        printer.console.print(f"{signal.Signals(signum).name}: stopping, saving a checkpoint ...")

    existed = run_dir.exists()
    with graceful_stop_signals(control, announce):
        try:
            trainer = Trainer(config, run_dir, with_reporting(printer, config, run_dir), control,
                              resume_from=checkpoint, ranks=ranks, hooks=training_hooks(config))
            note_launch(trainer, preset, True, ranks)
            try:
                trainer.setup()
            except UserError:  # shown in one line (cli.commands); the run directory it created goes
                remove_if_new(run_dir, existed)
                raise
            try:
                with loaded_objects_kept_out_of_gc():
                    stopped = trainer.run()
            except KeyboardInterrupt:  # a second stop signal (graceful_stop_signals): the save is given up
                raise record_given_up(trainer, run_dir, headless=True) from None
        except OSError as exc:
            print(f"arc-console: error: {describe_os_error(exc)}", file=sys.stderr)
            return 1
    printer.console.print(f"resume with: {one_line(resume_command(run_dir, True, extended_max_steps(stopped.reason, stopped.step)), 4000)}", highlight=False,
                          markup=False)
    if stopped.reason == "error":
        report_failure(stopped)
        return 1
    return 0


class EventForwarder:
    """The trainer's event sink before and after the dashboard exists: early events wait in a buffer."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buffer: list[Any] = []
        self._sink: Any = None

    def __call__(self, event: Any) -> None:
        with self._lock:
            if self._sink is None:
                self._buffer.append(event)
                return
        self._sink(event)

    def attach(self, sink: Any) -> None:
        with self._lock:
            self._sink = sink
            buffered, self._buffer = self._buffer, []
        for event in buffered:
            sink(event)


DASHBOARD_NICENESS = 5
SOURCE_POLL_S = 0.2  # how often the dashboard's source looks whether the trainer is done


def yield_cpu_to_the_trainer() -> None:
    """Lower this thread's priority, and so that of the dashboard threads it starts (Linux threads
    inherit it); the trainer's threads, started before, keep theirs. On a machine with as many busy
    threads as cores, a redraw then waits for a free core instead of stalling a torch op."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), DASHBOARD_NICENESS)
    except (AttributeError, OSError):  # not Linux, or not allowed: the dashboard simply competes
        pass


def train_with_dashboard(config: TrainConfig, run_dir: Path, checkpoint: Path | None, theme: str | None,
                         ranks: Any = None, preset: str | None = None) -> int:
    from arc_console.engine.control import RunControl
    from arc_console.engine.trainer import Trainer
    from arc_console.engine.trainer_thread import TrainerThread
    from arc_console.terminal.hung_up import tolerate_hung_up_terminal
    from arc_console.terminal.stop_signals import graceful_stop_signals
    from arc_console.tui.app import ConsoleApp
    from arc_console.tui.recorded_history import read_recorded_history

    control = RunControl()
    forward = EventForwarder()
    existed = run_dir.exists()
    worker = TrainerThread(Trainer(config, run_dir, with_reporting(forward, config, run_dir), control,
                                   resume_from=checkpoint, ranks=ranks, hooks=training_hooks(config)))
    note_launch(worker.trainer, preset, False, ranks)

    def announce(signum: int) -> None:
        print(f"arc-console: {signal.Signals(signum).name}: stopping once the model has loaded ...", file=sys.stderr)

    # A stop signal while the model loads (the terminal closed, Ctrl+C) stops the run as headless does:
    # no dashboard, the trainer saves step 0's checkpoint and the final model.
    with graceful_stop_signals(control, announce):
        print(f"arc-console: loading {one_line(config.model)} ...", file=sys.stderr)
        worker.start()
        worker.ready.wait()
    if worker.setup_error is not None:
        worker.join()
        remove_if_new(run_dir, existed)
        raise worker.setup_error  # a UserError is shown in one line (cli.commands)
    with loaded_objects_kept_out_of_gc():
        if worker.trainer.step > 0:  # resumed: the steps before it are on the chart from the first frame
            for event in read_recorded_history(run_dir, through_step=worker.trainer.step).events():
                forward(event)

        def source(sink: Any, closing: threading.Event) -> None:
            forward.attach(sink)
            worker.start_training()
            # Until the trainer is done or the console closes: a console closed by a give-up must not wait for
            # the save it gave up on (Textual waits for this worker before app.run returns).
            while worker.is_alive():
                if closing.wait(SOURCE_POLL_S):
                    return
            if worker.run_error is not None:
                raise worker.run_error

        if control.stop_requested:
            app, code = None, 0
            try:
                with graceful_stop_signals(control):
                    worker.start_training()
                    worker.join()
            except KeyboardInterrupt:
                raise record_given_up(worker.trainer, run_dir, headless=False) from None
        else:
            app = ConsoleApp(source, mode="train", control=control, theme=theme,
                             early_stop_perfect=config.early_stop_perfect, handle_signals=True)
            yield_cpu_to_the_trainer()
            # Until the app has mounted and installed its own handlers, a stop signal still stops the run
            # (the app then sees the stop requested and closes once it is saved).
            with tolerate_hung_up_terminal(), graceful_stop_signals(control):
                code = app.run()
            if app.gave_up:  # the process ends at once, the save cut short (cli.console)
                raise record_given_up(worker.trainer, run_dir, headless=False)
        if worker.is_alive():
            control.request_stop()
            worker.start_training()  # a console that closed before its source started the trainer: it must still stop
            print("arc-console: waiting for the trainer to save ...", file=sys.stderr)
            try:
                with graceful_stop_signals(control):  # a terminal closed now must not kill the save (the app's handlers are gone)
                    worker.join()
            except KeyboardInterrupt:
                raise record_given_up(worker.trainer, run_dir, headless=False) from None
        stopped = worker.stopped
        if isinstance(worker.run_error, OSError):
            print(f"arc-console: error: {describe_os_error(worker.run_error)}", file=sys.stderr)
            return 1
        # The console's failure, or the trainer's where it failed after the console had closed (the save after q).
        failure = (app.failure if app is not None else None) or (
            f"{type(worker.run_error).__name__}: {worker.run_error}" if worker.run_error is not None else None)
        if failure:
            print(f"arc-console: error: {one_line(failure, 4000)}", file=sys.stderr)
            return 1
        if stopped is not None:
            from arc_console.tui.headless import stopped_line

            print(stopped_line(stopped).plain)
            print(f"resume with: {one_line(resume_command(run_dir, max_steps=extended_max_steps(stopped.reason, stopped.step)), 4000)}")
            if stopped.reason == "error":
                report_failure(stopped)
                return 1
        return code if isinstance(code, int) else 0


def extended_max_steps(reason: str, step: int) -> int | None:
    """For a run stopped by its --max-steps, twice as many (a resume at or below its step is refused)."""
    return 2 * step if reason == "max_steps" and step > 0 else None
