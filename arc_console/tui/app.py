"""The console App for a run: live training (TrainScreen) or a run directory followed read-only
(WatchScreen). The App is thin: it holds the run (its event source, control and RunView), runs the
source and the hardware sampler in thread workers, and hands what they report to its one screen.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable
from typing import Any

from textual import work

from arc_console.engine import events as ev
from arc_console.engine.control import RunControl
from arc_console.monitor.hardware import HardwareSampler
from arc_console.terminal.hung_up import leave_hung_up_terminal
from arc_console.tui.messages import EventInbox, EventsQueued, HardwareSampled, RunFailed
from arc_console.tui.run_view import RunView
from arc_console.tui.screens.dashboard import DashboardScreen
from arc_console.tui.screens.train import TrainScreen
from arc_console.tui.screens.watch import WatchScreen
from arc_console.tui.themed_app import ThemedApp

# A source runs in a worker thread, sends events to the sink, and returns when done or when
# `closing` is set.
EventSource = Callable[[ev.EventSink, threading.Event], Any]

SCREENS_BY_USE: dict[str, type[DashboardScreen]] = {"train": TrainScreen, "watch": WatchScreen}


class ConsoleApp(ThemedApp):
    CSS_PATH = "app.tcss"  # the dashboard screens' stylesheet (a default screen's own CSS is not loaded)
    # The most of one core the UI thread may take (see CpuBudget): what the dashboard costs the trainer.
    UI_CPU_SHARE = 0.02
    HARDWARE_PERIOD_S = 2.0
    TITLE = "arc-console"

    def __init__(self, source: EventSource, mode: str = "train", control: RunControl | None = None,
                 sampler_factory: Callable[[], Any] | None = HardwareSampler, theme: str | None = None,
                 early_stop_perfect: int = 0, handle_signals: bool = False) -> None:
        """mode names the screen: "train" (steers the run through `control`) or "watch" (read-only)."""
        super().__init__(theme)
        if mode not in SCREENS_BY_USE:
            raise ValueError(f"unknown console mode {mode!r} (known: {', '.join(SCREENS_BY_USE)})")
        self.source = source
        self.control = control
        self.sampler_factory = sampler_factory
        self.handle_signals = handle_signals
        self.gave_up = False  # a second stop signal gave up on saving
        self.view = RunView(early_stop_perfect=early_stop_perfect)
        self.closing = threading.Event()
        self.inbox = EventInbox(self.post_message)  # the source's sink
        self.dashboard = SCREENS_BY_USE[mode](self.view, control)

    def get_default_screen(self) -> DashboardScreen:
        return self.dashboard

    @property
    def failure(self) -> str | None:
        """The source's error, once it failed."""
        return self.dashboard.failure

    @property
    def painted(self) -> bool:
        """Every change the panels have been told about is on screen."""
        return self.dashboard.painted

    def on_mount(self) -> None:  # Textual then runs ThemedApp.on_mount too: calling it here installed the themes twice
        if self.dashboard.TITLE:
            self.title = self.dashboard.TITLE
        self.run_source()
        if self.sampler_factory is not None:
            self.sample_hardware()
        if self.handle_signals:
            loop = asyncio.get_running_loop()
            # Ctrl+C typed is a key here; SIGINT comes from elsewhere (kill -INT, timeout -s INT): a stop too.
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, self.stop_signalled)
            loop.add_signal_handler(signal.SIGHUP, self.terminal_closed)
            if self.control is not None and self.control.stop_requested:  # a signal before these handlers
                self.dashboard.stop_now()

    def stop_signalled(self) -> None:
        """SIGTERM, SIGINT: the first stops the run (the console closes once it is saved); another while
        the stop is saved gives up on it, as headless: the console closes at once (gave_up, exit 130)."""
        if self.control is not None and self.control.stop_requested and self.view.finished is None:
            self.gave_up = True
            self.exit(130)
            return
        self.dashboard.stop_now()

    def terminal_closed(self) -> None:
        """SIGHUP: the terminal may be gone. Where it is, drawing goes to /dev/null and input stops (a hung-up
        terminal reads as an endless end of file); the run stops as on SIGTERM and the console exits when
        the stop is saved, with no one left to press a key."""
        leave_hung_up_terminal(self)
        self.dashboard.stop_now()

    def on_unmount(self) -> None:
        self.closing.set()
        if self.control is not None and self.view.finished is None:
            self.control.request_stop()

    # ---------------------------------------------------------------- workers

    @work(thread=True, exclusive=False, name="source", exit_on_error=False)
    def run_source(self) -> None:
        try:
            self.source(self.inbox.put, self.closing)
        except Exception as exc:  # the source's failure is shown, never a traceback over the screen
            self.post_message(RunFailed(f"{type(exc).__name__}: {exc}"))

    @work(thread=True, exclusive=False, name="hardware", exit_on_error=False)
    def sample_hardware(self) -> None:
        assert self.sampler_factory is not None
        sampler = self.sampler_factory()
        try:
            while not self.closing.is_set():
                self.post_message(HardwareSampled(sampler.sample()))
                self.closing.wait(self.HARDWARE_PERIOD_S)
        finally:
            close = getattr(sampler, "close", None)
            if close:
                close()

    # ---------------------------------------------------------------- what the workers report

    def on_events_queued(self, message: EventsQueued) -> None:
        for event in self.inbox.take_all():
            self.dashboard.show_event(event)

    def on_hardware_sampled(self, message: HardwareSampled) -> None:
        self.dashboard.show_hardware(message.sample)

    def on_run_failed(self, message: RunFailed) -> None:
        self.dashboard.show_failure(message.error)
