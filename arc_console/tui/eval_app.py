"""The evaluation console: progress, running pass@2, the current task, its two attempts beside the
target, and each view's answers (mapped back to the task's frame). Draws evaluation events only;
the CLI hands it a function that runs the evaluation (tui/ never imports torch)."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, HorizontalScroll
from textual.message import Message
from textual.widgets import Footer, ProgressBar, Static

from arc_console.evaluation import events as ev
from arc_console.terminal.hung_up import leave_hung_up_terminal
from arc_console.terminal.textsafe import one_line
from arc_console.tui.eval_printer import format_score
from arc_console.tui.themes import DEFAULT_THEME, ThemeError, load_theme_file, load_themes
from arc_console.tui.widgets.grid_card import GridCard
from arc_console.tui.widgets.log_tail import LogTail
from arc_console.tui.widgets.test_time_panel import TestTimePanel

EvalSource = Callable[[ev.EvalSink], None]  # runs the evaluation, calling the sink with every event
MAX_VIEW_CARDS = 16


class EvalEventMessage(Message):
    def __init__(self, event: ev.EvalEvent) -> None:
        super().__init__()
        self.event = event

    def can_replace(self, message: Message) -> bool:  # progress floods: keep the newest only
        return isinstance(self.event, ev.EvalProgress) and isinstance(message, EvalEventMessage) \
            and isinstance(message.event, ev.EvalProgress)


class EvalApp(App):
    CSS = """
    #status { height: 1; background: $panel; padding: 0 1; }
    #progress { height: 1; padding: 0 1; }
    #task-row, #views-row { height: auto; max-height: 20; padding: 0 1; }
    #views-title { height: 1; padding: 0 1; color: $text-muted; }
    LogTail { height: 1fr; min-height: 4; }
    """
    BINDINGS = [
        Binding("q", "stop", "Stop (keeps what was scored)", id="stop"),
        Binding("ctrl+c", "stop", "Stop", show=False, priority=True),
    ]

    def __init__(self, source: EvalSource, stop: Callable[[], None], theme: str | None = None,
                 handle_signals: bool = False,
                 stop_requested: Callable[[], bool] | None = None) -> None:
        """stop_requested: whether a stop came before the app's signal handlers were in place."""
        super().__init__()
        self.source = source
        self.handle_signals = handle_signals
        self.stop_requested = stop_requested
        self.gave_up = False  # a second stop signal gave up on writing the answers
        self.request_stop = stop
        self.requested_theme = theme
        self.exit_on_finish = False  # a stop signal closes the console once the answers are written
        self.total = 0
        self.views = 1
        self.model = ""
        self.current = ""
        self.current_index: int | None = None
        self.totals: dict[str, Any] = {}
        self.finished: ev.EvalFinished | None = None
        self.stopping = False
        self.failure: str | None = None
        self.tokens_per_s = 0.0

    def compose(self) -> ComposeResult:
        yield Static(id="status")
        yield ProgressBar(id="progress", show_eta=True)
        with Horizontal(id="task-row"):
            for name in ("input", "target", "attempt1", "attempt2"):
                yield GridCard(fit_titles=True, id=f"card-{name}")
        yield TestTimePanel()
        yield Static("views' answers, mapped back (✓ right)", id="views-title")
        yield HorizontalScroll(id="views-row")
        yield LogTail()
        yield Footer()

    def on_mount(self) -> None:
        self._install_theme()
        self.query_one(LogTail).border_title = "eval log"
        self._status()
        self.run_worker(self._run, thread=True, name="evaluation", exit_on_error=False)
        if self.handle_signals:
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGTERM, signal.SIGINT):  # Ctrl+C typed is a key; SIGINT comes from elsewhere
                loop.add_signal_handler(signum, self.stop_signalled)
            loop.add_signal_handler(signal.SIGHUP, self.terminal_closed)
            if self.stop_requested is not None and self.stop_requested():
                self.stop_and_exit()

    def stop_signalled(self) -> None:
        """SIGTERM, SIGINT: the first stops; another before the answers are written gives up (gave_up, exit 130)."""
        if self.stopping and self.finished is None and self.failure is None:
            self.gave_up = True
            self.exit(130)
            return
        self.stop_and_exit()

    def stop_and_exit(self) -> None:
        """Stop as the stop key does, and close the console once the tasks answered are written."""
        self.exit_on_finish = True
        self.action_stop()

    def terminal_closed(self) -> None:
        """SIGHUP: where the terminal is gone, drawing goes to /dev/null and input stops (a hung-up terminal
        reads as an endless end of file); then as SIGTERM, with no one left to press a key."""
        leave_hung_up_terminal(self)
        self.stop_and_exit()

    def _install_theme(self) -> None:
        themes, _ = load_themes()
        for theme in themes:
            self.register_theme(theme)
        wanted = self.requested_theme or DEFAULT_THEME
        if self.requested_theme and Path(self.requested_theme).suffix == ".toml":
            try:
                theme = load_theme_file(Path(self.requested_theme))
                self.register_theme(theme)
                wanted = theme.name
            except ThemeError as exc:
                self.notify(str(exc), severity="warning")
        self.theme = wanted if wanted in self.available_themes else "textual-dark"

    def _run(self) -> None:
        try:
            self.source(lambda event: self.post_message(EvalEventMessage(event)))
        except Exception as exc:  # shown, and the exit code says it failed
            self.failure = f"{type(exc).__name__}: {one_line(str(exc))}"
            self.post_message(EvalEventMessage(ev.EvalLog(self.failure, "error")))

    def action_stop(self) -> None:
        if self.finished is not None or self.failure is not None:
            self.exit(0 if self.failure is None else 1)
            return
        if not self.stopping:
            self.stopping = True
            self.request_stop()
            self.query_one(LogTail).add("stopping: the tasks answered so far are kept")
            self._status()

    def on_eval_event_message(self, message: EvalEventMessage) -> None:
        event = message.event
        if isinstance(event, ev.EvalStarted):
            self.total, self.views, self.model = len(event.tasks), event.views, event.model
            self.query_one(ProgressBar).update(total=max(1, self.total), progress=0)
            s = event.settings
            self.query_one(LogTail).add(f"{event.model} on {event.device}: {self.total} tasks, {s['augment']} "
                                        f"({event.views} views) x {s['samples']} samples, ranked by {s['rank']}")
        elif isinstance(event, ev.TaskStarted):
            self.current, self.current_index = event.task_id, event.index
            self.query_one(TestTimePanel).clear()
            self._show_task(event)
        elif isinstance(event, ev.EvalProgress):
            self.tokens_per_s = event.tokens_per_s
        elif isinstance(event, ev.TestTimeStep):
            self.query_one(TestTimePanel).show_step(event.step, event.steps, event.problem_id, event.test_input,
                                                    event.target, event.temperatures, event.candidates, event.history)
        elif isinstance(event, ev.TaskAnswered):
            self.totals = event.totals
            self.query_one(ProgressBar).update(progress=event.index + 1)
            self._show_answer(event)
            answer = event.answer
            score = "hidden" if answer["pass_at_2"] is None else f"{answer['pass_at_2']:.2f}"
            self.query_one(LogTail).add(f"{event.index + 1}/{self.total} {event.task_id} {score}  pass@2 "
                                        f"{format_score(event.totals['pass_at_2'])}  {answer['seconds']:.1f}s")
        elif isinstance(event, ev.EvalLog):
            self.query_one(LogTail).add(event.text)
            if self.failure is not None and self.exit_on_finish:  # failed after a stop signal: no one to press q
                self.exit(1)
        elif isinstance(event, ev.EvalFinished):
            self.finished = event
            self.totals = event.totals
            what = "stopped" if event.stopped else "done"
            self.query_one(LogTail).add(f"{what}: pass@2 {format_score(event.totals['pass_at_2'])}, oracle "
                                        f"{format_score(event.totals['oracle'])}; wrote {', '.join(event.files)}"
                                        + ("" if self.exit_on_finish else "  (q quits)"))
            if self.exit_on_finish:
                self.exit(0)
        self._status()

    def _status(self) -> None:
        totals = self.totals
        text = Text()
        text.append("arc-console eval ", style="bold")
        text.append(one_line(self.model, 40))
        # the task being answered, by its place in the list; once finished, how many were answered
        running = self.finished is None and self.current_index is not None
        text.append(f"  task {self.current_index + 1 if running else totals.get('tasks_answered', 0)}/{self.total}  ")
        text.append(f"pass@2 {format_score(totals.get('pass_at_2'))}", style="bold")
        text.append(f"  pass@1 {format_score(totals.get('pass_at_1'))}  oracle {format_score(totals.get('oracle'))}")
        text.append(f"  {self.tokens_per_s:.0f} tok/s  ")
        text.append(one_line(self.current, 40), style="cyan")
        if self.stopping and self.finished is None:
            text.append("  stopping ...", style="yellow")
        elif self.finished is not None:
            text.append("  stopped" if self.finished.stopped else "  finished", style="green")
        self.query_one("#status", Static).update(text)

    def _show_task(self, event: ev.TaskStarted) -> None:
        self.query_one("#task-row #card-input", GridCard).show_grid(event.test_input, f"input {one_line(event.task_id, 30)}")
        self.query_one("#task-row #card-target", GridCard).show_grid(event.target, "target", note="hidden")
        for name in ("attempt1", "attempt2"):
            self.query_one(f"#card-{name}", GridCard).show_grid(None, name.replace("t1", "t 1").replace("t2", "t 2"),
                                                               note="thinking ...", reserve=event.target)

    def _show_answer(self, event: ev.TaskAnswered) -> None:
        test = event.answer["tests"][0]
        right = test["right"] or [None, None]
        for number, key in ((1, "attempt_1"), (2, "attempt_2")):
            mark = {True: "✓", False: "✗", None: ""}[right[number - 1]]
            self.query_one(f"#card-attempt{number}", GridCard).show_grid(
                test[key], f"attempt {number} {mark}", f"{test['distinct_candidates']} distinct")
        target = self.query_one("#task-row #card-target", GridCard).grid_data
        row = self.query_one("#views-row", HorizontalScroll)
        row.remove_children()
        cards = []
        for view_index, grids in enumerate(event.view_grids[0]):
            for sample_index, grid in enumerate(grids):
                mark = " ✓" if grid is not None and grid == target else ""
                card = GridCard(fit_titles=True, classes="view-candidate")
                cards.append((card, grid, f"view {view_index + 1}.{sample_index + 1}{mark}"))
        row.mount_all([card for card, _, _ in cards[:MAX_VIEW_CARDS]])
        for card, grid, title in cards[:MAX_VIEW_CARDS]:
            card.show_grid(grid, title, note="no grid")
            card.mark(perfect=grid is not None and grid == target)
