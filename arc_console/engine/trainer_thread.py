"""One thread for all of a trainer's torch work: setup, then the run.

With OpenMP, every thread that runs parallel torch ops gets its own team of worker threads;
two teams on a small machine spin against each other.
The dashboard keeps the main thread for Textual, so the trainer is set up *and* run here.

torch keeps dynamo's and inductor's settings in context variables, and a new thread starts with an
empty context: what the CLI's early `import unsloth` set in the main thread (its compile settings)
would not reach the trainer. The thread runs in a copy of the context that started it.
"""

from __future__ import annotations

import contextvars
import threading

from arc_console.engine import events as ev
from arc_console.engine.trainer import Trainer


class TrainerThread(threading.Thread):
    def __init__(self, trainer: Trainer) -> None:
        super().__init__(name="trainer", daemon=False)
        self.trainer = trainer
        self.ready = threading.Event()  # set after setup, failed or not
        self.setup_error: BaseException | None = None
        self.run_error: BaseException | None = None
        self.stopped: ev.Stopped | None = None
        self._go = threading.Event()
        self._context: contextvars.Context | None = None

    def start(self) -> None:
        # Create and start it outside the Textual app: a copy taken inside a handler would carry the app's own
        # context variables (active_app, active_message_pump) into the trainer.
        self._context = contextvars.copy_context()  # the starting thread's settings, torch's included
        super().start()

    def run(self) -> None:
        if self._context is None:  # called directly, in the caller's own thread and context
            self._setup_then_run()
        else:
            self._context.run(self._setup_then_run)

    def _setup_then_run(self) -> None:
        try:
            self.trainer.setup()
        except BaseException as exc:  # reported by whoever waits on `ready`
            self.setup_error = exc
            return
        finally:
            self.ready.set()
        self._go.wait()
        try:
            self.stopped = self.trainer.run()
        except BaseException as exc:
            self.run_error = exc

    def start_training(self) -> None:
        self._go.set()
