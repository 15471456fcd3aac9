"""The dashboard a run is shown on: status line, hardware, accuracy history, candidates, log.

TrainScreen and WatchScreen are this screen with their own keys. Events reach it through the App
(show_event); they only update the RunView, and what changed is repainted in one frame, at most
REDRAW_HZ times a second, within the App's CPU share, and not at all while nothing changed.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.timer import Timer

from arc_console.engine import events as ev
from arc_console.engine.control import RunControl
from arc_console.terminal.textsafe import one_line
from arc_console.tui.cpu_budget import CpuBudget
from arc_console.tui.grid_actions import GridViewActions
from arc_console.tui.run_view import RunView
from arc_console.tui.screens.help import HelpScreen, help_rows
from arc_console.tui.widgets.candidates import CandidatesPanel
from arc_console.tui.widgets.gpu_panel import GpuPanel
from arc_console.tui.widgets.history import AccuracyHistory
from arc_console.tui.widgets.keys_footer import KeysFooter
from arc_console.tui.widgets.log_tail import LogTail
from arc_console.tui.widgets.status_bar import StatusBar

# The keys that show a run's candidates, the same on every dashboard (the help lists their tooltips).
VIEW_BINDINGS = [
    Binding("d", "toggle_diff", "Diff", id="diff", tooltip="diff view: mark the cells that differ from the target"),
    Binding("g", "toggle_digits", "Digits", id="digits", tooltip="show the colour number in every cell"),
    Binding("v", "cycle_problem", "Problem view", id="problem-view",
            tooltip="accuracy history: all problems, or one problem at a time"),
    Binding("t", "app.next_theme", "Theme", id="theme", tooltip="next theme"),
    Binding("question_mark", "help", "Help", id="help", tooltip="this help"),
]

# The most of one core the UI thread may take (see CpuBudget) unless the App says otherwise.
DEFAULT_UI_CPU_SHARE = 0.02


class DashboardScreen(GridViewActions, Screen[None]):
    """Subclasses declare BINDINGS (their own keys, then VIEW_BINDINGS) and what stopping means."""

    # Every frame costs a pass over every panel on the screen (Textual renders each of the screen's own
    # children whatever part changed), so changes wait a little and share frames: at most REDRAW_HZ frames
    # a second, and the status line alone (tokens, phase, the elapsed second) at most once a STATUS_PERIOD_S.
    REDRAW_HZ = 2
    STATUS_PERIOD_S = 1.0
    WATCHING: ClassVar[bool] = False  # the status line says "watching"

    def __init__(self, view: RunView, control: RunControl | None = None) -> None:
        super().__init__()
        self.view = view
        self.control = control
        self.failure: str | None = None
        self._dirty: set[str] = set()
        self._pending_log: list[str] = []
        self._last_frame = 0.0  # time.monotonic() of the last paint
        self._hardware: Any = None  # the latest hardware sample
        self._redraw_timer: Timer | None = None
        # Made at the first redraw: it measures the thread that runs the app, from after the first layout.
        self.budget: CpuBudget | None = None
        # Made here, not queried: events may arrive before this screen's mount, and a query looks at
        # the active screen, which may be a modal one.
        self.status_bar = StatusBar(id="status")
        self.gpu_panel = GpuPanel(id="gpu")
        self.history_plot = AccuracyHistory(id="history")
        self.candidates_panel = CandidatesPanel(id="candidates")
        self.log_tail = LogTail(id="log")

    # ---------------------------------------------------------------- layout and start

    def compose(self) -> ComposeResult:
        yield self.status_bar
        with Horizontal(id="top"):
            yield self.gpu_panel
            yield self.history_plot
        yield self.candidates_panel
        yield self.log_tail
        yield KeysFooter()

    def on_mount(self) -> None:
        self.status_bar.show(self.view, self.WATCHING)
        self.set_interval(1.0, self._tick)
        # Runs only while something waits to be painted (_wake): an idle dashboard costs no timer ticks.
        self._redraw_timer = self.set_interval(1 / self.REDRAW_HZ, self._redraw, pause=True)
        self._wake()  # for the events that came before the mount

    # ---------------------------------------------------------------- what the App hands over

    def show_event(self, event: ev.Event) -> None:
        # Events only update the model; the panels are redrawn by _redraw, so a flood of events costs
        # the trainer almost nothing.
        self._dirty |= self.view.apply(event)
        if isinstance(event, ev.LogLine):
            self._pending_log.append(event.text)
            self._dirty.add("log")
        elif isinstance(event, ev.CheckpointSaved):
            self.on_checkpoint_saved(event)
        elif isinstance(event, ev.TrainerLiveness) and event.state != "running":
            title = "the trainer died" if event.state == "died" else "no sign of life from the trainer"
            self.notify(one_line(event.detail), title=title, severity="error", timeout=30, markup=False)
        elif isinstance(event, (ev.Paused, ev.Resumed)):
            self.refresh_bindings()
        elif isinstance(event, ev.Stopped):
            self._paint()  # the final state, whatever the budget says
            self.refresh_bindings()
            self.on_stopped(event)
        self._wake()

    def show_hardware(self, sample: Any) -> None:
        self._hardware = sample
        self._dirty.add("gpu")
        if self.view.step_started_at is None:  # else the step's ticking clock paints it within a second, one frame
            self._wake()

    def show_failure(self, error: str) -> None:
        self.failure = error
        self.log_tail.add(f"ERROR {error}")
        self.notify(one_line(error), title="the run failed", severity="error", timeout=30, markup=False)
        self.view.phase = "failed"
        self.status_bar.show(self.view, self.WATCHING)
        self.refresh_bindings()  # what the keys can do changed (the train screen's q quits now)
        if self.view.stopping:
            self.app.exit(1)

    def on_checkpoint_saved(self, event: ev.CheckpointSaved) -> None:
        """A checkpoint was written (the train screen says so)."""

    def on_stopped(self, event: ev.Stopped) -> None:
        """The run stopped (the train screen may close the console)."""

    def stop_now(self) -> None:
        """Ctrl+C and SIGTERM: each screen says what stopping means for it."""
        raise NotImplementedError

    # ---------------------------------------------------------------- painting

    def _wake(self) -> None:
        if self._dirty and self._redraw_timer is not None:
            self._redraw_timer.resume()

    def _redraw(self) -> None:
        if not self.app.is_running:  # shutting down: the panels may already be gone
            return
        if not self._dirty and self._redraw_timer is not None:
            self._redraw_timer.pause()
            return
        if self._dirty == {"status"} and time.monotonic() - self._last_frame < self.STATUS_PERIOD_S:
            return
        if self.budget is None:
            self.budget = CpuBudget(getattr(self.app, "UI_CPU_SHARE", DEFAULT_UI_CPU_SHARE))
        elif not self.budget.allows():
            return
        self._paint()

    def _paint(self) -> None:
        """Everything that changed, in one frame."""
        dirty, self._dirty = self._dirty, set()
        self._last_frame = time.monotonic()
        view = self.view
        if "status" in dirty:
            self.status_bar.show(view, self.WATCHING)
        if "gpu" in dirty and self._hardware is not None:
            self.gpu_panel.show(self._hardware)
        if "history" in dirty:
            self.history_plot.show(view.history, held_out=view.held_out)
        if "candidates" in dirty:
            self.candidates_panel.show_step(view.step, view.problem_id, view.test_input, view.target,
                                            view.temperatures, view.candidates, view.best_candidate_id(),
                                            view.view_description)
        if "log" in dirty:
            for line in self._pending_log:
                self.log_tail.add(line)
            self._pending_log = []

    @property
    def painted(self) -> bool:
        """Every change the panels have been told about is on screen."""
        return not self._dirty

    def _tick(self) -> None:
        if self.view.step_started_at is not None:
            self._dirty.add("status")  # the step's elapsed time moves on its own
            self._wake()

    # ---------------------------------------------------------------- actions every dashboard has

    def action_cycle_problem(self) -> None:
        chosen = self.history_plot.cycle_problem()
        self.notify(one_line(f"accuracy history: {chosen or 'all problems'}"), timeout=2, markup=False)

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen(help_rows(self.BINDINGS, self.app.get_key_display)))
