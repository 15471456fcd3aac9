"""The console: live training (mode "train") or a run directory followed read-only (mode "watch").

Events arrive from a source running in a thread worker (the trainer, or a run-directory follower)
through post_message; the app folds them into a RunView and redraws only what changed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual import events, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Footer

from arc_console.engine import events as ev
from arc_console.engine.control import RunControl
from arc_console.tui.gpu import HardwareSampler
from arc_console.tui.textsafe import one_line
from arc_console.tui.cpu_budget import CpuBudget
from arc_console.tui.messages import EngineEvent, HardwareSampled, RunFailed
from arc_console.tui.run_view import RunView
from arc_console.tui.size_classes import apply_size_classes
from arc_console.tui.screens.confirm_stop import ConfirmStop
from arc_console.tui.grid_actions import GridViewActions
from arc_console.tui.screens.help import HelpScreen
from arc_console.tui.themes import DEFAULT_THEME, ThemeError, load_theme_file, load_themes
from arc_console.tui.widgets.candidates import CandidatesPanel
from arc_console.tui.widgets.gpu_panel import GpuPanel
from arc_console.tui.widgets.history import AccuracyHistory
from arc_console.tui.widgets.log_tail import LogTail
from arc_console.tui.widgets.status_bar import StatusBar

# A source runs in a worker thread, sends events to the sink, and returns when done or when
# `closing` is set.
EventSource = Callable[[ev.EventSink, threading.Event], Any]


class ConsoleApp(GridViewActions, App[int]):
    CSS_PATH = "app.tcss"
    REDRAW_HZ = 8
    # The most of one core the UI thread may take (see CpuBudget): what the dashboard costs the trainer.
    UI_CPU_SHARE = 0.02
    HARDWARE_PERIOD_S = 2.0
    # Panels that sit together on screen, top to bottom; see _next_band. The status line has a band of
    # its own: it changes every second, and painted with the panels below it, it would drag them
    # (their whole rectangle) into the frame.
    BANDS = (("status",), ("gpu", "history"), ("candidates",), ("log",))
    TITLE = "arc-console"
    BINDINGS = [
        Binding("p", "toggle_pause", "Pause/Resume", id="pause"),
        Binding("s", "save", "Save", id="save"),
        Binding("q", "stop", "Stop", id="stop"),
        Binding("ctrl+c", "stop_now", "Stop now", show=False, priority=True, id="stop-now"),
        Binding("d", "toggle_diff", "Diff", id="diff"),
        Binding("g", "toggle_digits", "Digits", id="digits"),
        Binding("v", "cycle_problem", "Problem view", id="problem-view"),
        Binding("t", "next_theme", "Theme", id="theme"),
        Binding("question_mark", "help", "Help", id="help"),
    ]
    HELP_ROWS = [
        ("p", "pause / resume training (it pauses at the next safe point)"),
        ("s", "save a checkpoint now (at the end of the current step)"),
        ("q", "stop: asks first; saves a checkpoint and the final model, then exits"),
        ("Ctrl+C", "stop without asking (same as a confirmed q)"),
        ("d", "diff view: mark the cells that differ from the target"),
        ("g", "show the colour number in every cell"),
        ("v", "accuracy history: all problems, or one problem at a time"),
        ("t", "next theme"),
        ("?", "this help"),
    ]

    def __init__(self, source: EventSource, mode: str = "train", control: RunControl | None = None,
                 sampler_factory: Callable[[], Any] | None = HardwareSampler, theme: str | None = None,
                 early_stop_perfect: int = 0, handle_signals: bool = False, exit_on_finish: bool = False) -> None:
        super().__init__()
        self.source = source
        self.mode = mode
        self.control = control
        self.sampler_factory = sampler_factory
        self.requested_theme = theme
        self.handle_signals = handle_signals
        self.exit_on_finish = exit_on_finish
        self.view = RunView(early_stop_perfect=early_stop_perfect)
        self.closing = threading.Event()
        self.failure: str | None = None
        self.theme_names: list[str] = []
        self._dirty: set[str] = set()
        self._pending_log: list[str] = []
        self._last_band = -1
        self._hardware = None  # the latest hardware sample, painted with the top band
        if mode == "watch":  # the watcher stops nothing: its q closes it, and the footer says so
            self._bindings.key_to_bindings["q"] = [dataclasses.replace(binding, description="Quit")
                                                   for binding in self._bindings.key_to_bindings["q"]]
        # Made at the first redraw: it measures the thread that runs the app, from after the first layout.
        self.budget: CpuBudget | None = None

    # ---------------------------------------------------------------- layout and start

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        with Horizontal(id="top"):
            yield GpuPanel(id="gpu")
            yield AccuracyHistory(id="history")
        yield CandidatesPanel(id="candidates")
        yield LogTail(id="log")
        yield Footer()

    def on_mount(self) -> None:
        # Held, not queried: queries look at the active screen, which may be a modal one.
        apply_size_classes(self, self.size.width, self.size.height)
        self.status_bar = self.query_one(StatusBar)
        self.candidates_panel = self.query_one(CandidatesPanel)
        self.history_plot = self.query_one(AccuracyHistory)
        self.log_tail = self.query_one(LogTail)
        self.gpu_panel = self.query_one(GpuPanel)
        self._install_themes()
        if self.mode == "watch":
            self.title = "arc-console watch"
        self.status_bar.show(self.view, self.mode)
        self.run_source()
        if self.sampler_factory is not None:
            self.sample_hardware()
        self.set_interval(1.0, self._tick)
        self.set_interval(1 / self.REDRAW_HZ, self._redraw)
        if self.handle_signals:
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, self._begin_stop)

    def on_resize(self, event: events.Resize) -> None:
        apply_size_classes(self, event.size.width, event.size.height)

    def on_unmount(self) -> None:
        self.closing.set()
        if self.control is not None and self.view.finished is None:
            self.control.request_stop()

    def _install_themes(self) -> None:
        themes, problems = load_themes()
        for theme in themes:
            self.register_theme(theme)
        self.theme_names = [t.name for t in themes]
        for problem in problems:
            self.notify(one_line(f"theme skipped: {problem}"), severity="warning", timeout=8, markup=False)
        wanted = self.requested_theme or DEFAULT_THEME
        if self.requested_theme and Path(self.requested_theme).suffix == ".toml":
            try:
                theme = load_theme_file(Path(self.requested_theme))
            except ThemeError as exc:
                self.notify(one_line(f"{exc}; using {DEFAULT_THEME}"), severity="warning", timeout=8, markup=False)
                wanted = DEFAULT_THEME
            else:
                self.register_theme(theme)
                self.theme_names.append(theme.name)
                wanted = theme.name
        if wanted not in self.available_themes:
            if self.requested_theme:
                self.notify(one_line(f"unknown theme {self.requested_theme!r}; using {DEFAULT_THEME}"), severity="warning",
                            markup=False)
            wanted = DEFAULT_THEME if DEFAULT_THEME in self.available_themes else "textual-dark"
        self.theme = wanted

    # ---------------------------------------------------------------- workers

    @work(thread=True, exclusive=False, name="source", exit_on_error=False)
    def run_source(self) -> None:
        try:
            self.source(lambda event: self.post_message(EngineEvent(event)), self.closing)
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

    # ---------------------------------------------------------------- messages

    def on_engine_event(self, message: EngineEvent) -> None:
        # Events only update the model; the panels are redrawn by _redraw at most REDRAW_HZ times
        # a second, so a flood of events costs the trainer almost nothing.
        event = message.event
        self._dirty |= self.view.apply(event)
        if isinstance(event, ev.LogLine):
            self._pending_log.append(event.text)
            self._dirty.add("log")
        elif isinstance(event, ev.CheckpointSaved) and self.mode == "train":
            self.notify(one_line(f"checkpoint saved: {event.path}"), title="checkpoint", timeout=6, markup=False)
        elif isinstance(event, ev.TrainerLiveness) and event.state != "running":
            self.notify(one_line(event.detail), title="the run stopped without a word", severity="error", timeout=30,
                        markup=False)
        elif isinstance(event, (ev.Paused, ev.Resumed)):
            self.refresh_bindings()
        elif isinstance(event, ev.Stopped):
            self._dirty_bands_at_once()  # the final state, whatever the budget says
            self._on_stopped(event)

    def _redraw(self) -> None:
        if not self.is_running:  # shutting down: the panels may already be gone
            return
        if self.budget is None:
            self.budget = CpuBudget(self.UI_CPU_SHARE)
        elif not self.budget.allows():
            return
        elif self.budget.overdue:  # the screen waited its longest: it catches up in one frame
            self._dirty_bands_at_once()
            return
        band = self._next_band()
        if band is not None:
            self._paint(band)

    def _dirty_bands_at_once(self) -> None:
        for _ in self.BANDS:
            band = self._next_band()
            if band is None:
                return
            self._paint(band)

    def _paint(self, band: tuple[str, ...]) -> None:
        dirty = self._dirty & set(band)
        self._dirty -= dirty
        view = self.view
        if "status" in dirty:
            self.status_bar.show(view, self.mode)
        if "gpu" in dirty and self._hardware is not None:
            self.gpu_panel.show(self._hardware)
        if "history" in dirty:
            self.history_plot.show(view.history, held_out=view.held_out)
        if "candidates" in dirty:
            self.candidates_panel.show_step(view.step, view.problem_id, view.test_input, view.target,
                                            view.temperatures, view.candidates, view.best_candidate_id(),
                                            view.view_description)
        if "log" in dirty:
            log = self.log_tail
            for line in self._pending_log:
                log.add(line)
            self._pending_log = []

    @property
    def painted(self) -> bool:
        """Every change the panels have been told about is on screen."""
        return not self._dirty

    def _next_band(self) -> tuple[str, ...] | None:
        """The next screen band with something to paint, taking the bands in turn.

        Textual repaints, in one frame, the rectangle around everything that changed: the status line
        (top) and the log (bottom) changing together cost a whole-screen render. One band per redraw
        keeps each frame's rectangle small; a band waits at most len(BANDS) - 1 redraws."""
        for offset in range(1, len(self.BANDS) + 1):
            index = (self._last_band + offset) % len(self.BANDS)
            if self._dirty & set(self.BANDS[index]):
                self._last_band = index
                return self.BANDS[index]
        return None

    def _on_stopped(self, event: ev.Stopped) -> None:
        self.refresh_bindings()
        if self.mode == "train" and (self.view.stopping or self.exit_on_finish or event.reason == "error"):
            self.exit(0 if event.reason != "error" else 1)
        elif self.mode == "train":
            self.notify(one_line(f"run finished ({event.reason.replace('_', ' ')}); q quits"), timeout=30, markup=False)

    def on_hardware_sampled(self, message: HardwareSampled) -> None:
        self._hardware = message.sample
        self._dirty.add("gpu")

    def on_run_failed(self, message: RunFailed) -> None:
        self.failure = message.error
        self.log_tail.add(f"ERROR {message.error}")
        self.notify(one_line(message.error), title="the run failed", severity="error", timeout=30, markup=False)
        self.view.phase = "failed"
        self.status_bar.show(self.view, self.mode)
        if self.view.stopping:
            self.exit(1)

    def _tick(self) -> None:
        self._dirty.add("status")  # the step's elapsed time and the ETA move on their own

    # ---------------------------------------------------------------- actions

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        live = self.mode == "train" and self.view.finished is None and self.failure is None
        if action in ("toggle_pause", "save"):
            if self.mode != "train":
                return False
            return True if live and not self.view.stopping else None
        return True

    def action_toggle_pause(self) -> None:
        assert self.control is not None
        if self.control.toggle_pause():
            self.view.pause_pending = True
        else:
            self.view.pause_pending = False
            self.view.paused = False
        self.status_bar.show(self.view, self.mode)
        self.refresh_bindings()

    def action_save(self) -> None:
        assert self.control is not None
        self.control.request_save()
        self.notify("checkpoint requested: it is written at the end of this step", timeout=4)

    def action_stop(self) -> None:
        if self.mode != "train" or self.view.finished is not None or self.failure is not None:
            self.exit(0 if self.failure is None else 1)
            return
        if self.view.stopping:
            return

        def confirmed(answer: bool | None) -> None:
            if answer:
                self._begin_stop()

        self.push_screen(ConfirmStop(), confirmed)

    def action_stop_now(self) -> None:
        if self.mode != "train" or self.view.finished is not None or self.failure is not None:
            self.exit(0 if self.failure is None else 1)
            return
        self._begin_stop()

    def _begin_stop(self) -> None:
        if self.view.stopping or self.control is None:
            return
        self.view.stopping = True
        self.control.request_stop()
        self.notify("stopping: saving a checkpoint and the final model …", timeout=30)
        self.status_bar.show(self.view, self.mode)
        self.refresh_bindings()

    def action_cycle_problem(self) -> None:
        chosen = self.history_plot.cycle_problem()
        self.notify(one_line(f"accuracy history: {chosen or 'all problems'}"), timeout=2, markup=False)

    def action_help(self) -> None:
        rows = self.HELP_ROWS if self.mode == "train" else [r for r in self.HELP_ROWS if r[0] not in ("p", "s", "Ctrl+C")]
        if self.mode != "train":
            rows = [("q", "quit")] + [r for r in rows if r[0] != "q"]
        self.push_screen(HelpScreen(rows))
