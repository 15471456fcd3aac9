"""Replay: one saved step at a time, every candidate as a grid, the selected one's full response.

Navigation: ←/→ candidates, [ / ] step files of the same folder, b best. Nothing is ever written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.text import Text
from textual import events
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Footer, Static

from arc_console.arc.parse import split_channels
from arc_console.rundir.files import RunFileError, StepFile, load_step_file, read_metrics
from arc_console.tui.textsafe import one_line, safe_text, visible
from arc_console.tui.grid_actions import GridViewActions
from arc_console.tui.screens.help import HelpScreen
from arc_console.tui.run_view import view_description
from arc_console.tui.size_classes import apply_size_classes
from arc_console.tui.themes import DEFAULT_THEME, load_themes
from arc_console.tui.widgets.candidates import CandidatesPanel
from arc_console.tui.widgets.history import AccuracyHistory

HISTORY_POINTS = 2000  # the plot gets at most this many steps; longer runs are thinned evenly


def thin(history: list[dict[str, Any]], limit: int = HISTORY_POINTS) -> list[dict[str, Any]]:
    if len(history) <= limit:
        return history
    stride = len(history) / limit
    kept = [history[int(i * stride)] for i in range(limit)]
    perfect = [m for m in history if m.get("perfect")]
    merged = {m["step"]: m for m in kept + perfect + [history[-1]]}
    return [merged[k] for k in sorted(merged)]


def response_text(candidate: dict[str, Any] | None) -> Text:
    """The full response, channel by channel, as plain text."""
    if candidate is None:
        return Text("no candidate", style="italic")
    text = Text()
    parts = split_channels(candidate.get("response_text", "")) or [("final", "")]
    for channel, content in parts:
        text.append(f"── {channel} channel ──\n", style="bold")
        text.append(visible(content) + "\n\n")
    return text


class ReplayApp(GridViewActions, App[int]):
    CSS = """
    #header { height: 1; background: $panel; }
    AccuracyHistory { height: 12; }
    CandidatesPanel { height: 1fr; min-height: 9; }
    #response-scroll { height: 12; border: round $primary; }
    .short AccuracyHistory { height: 7; }
    .short #response-scroll { height: 6; }
    .tall AccuracyHistory { height: 14; }
    .tall #response-scroll { height: 16; }
    """
    TITLE = "arc-console replay"
    BINDINGS = [
        # priority: a focused scroll area (the response, the cards) would take the arrows for scrolling
        Binding("left,h", "candidate(-1)", "Prev candidate", id="prev-candidate", priority=True),
        Binding("right,l", "candidate(1)", "Next candidate", id="next-candidate", priority=True),
        Binding("left_square_bracket", "step(-1)", "Prev step", id="prev-step"),
        Binding("right_square_bracket", "step(1)", "Next step", id="next-step"),
        Binding("b", "best", "Best", id="best"),
        Binding("d", "toggle_diff", "Diff", id="diff"),
        Binding("g", "toggle_digits", "Digits", id="digits"),
        Binding("t", "next_theme", "Theme", id="theme"),
        Binding("question_mark", "help", "Help", id="help"),
        Binding("q", "quit", "Quit", id="quit"),
    ]
    HELP_ROWS = [("← / h, → / l", "previous / next candidate"), ("[ / ]", "previous / next step file"),
                 ("b", "jump to the best candidate"), ("d", "diff view against the target"),
                 ("g", "colour numbers in cells"), ("t", "next theme"), ("q", "quit")]

    def __init__(self, files: list[StepFile], index: int, run_dir: Path | None, theme: str | None = None) -> None:
        super().__init__()
        self.files = files
        self.index = index
        self.run_dir = run_dir
        self.requested_theme = theme
        self.record: dict[str, Any] | None = None
        self.error: str | None = None
        self.selected = 0
        self.history = thin(read_metrics(run_dir)) if run_dir is not None else []
        self.theme_names: list[str] = []

    def compose(self) -> ComposeResult:
        yield Static(id="header")
        if self.history:
            yield AccuracyHistory(id="history")
        yield CandidatesPanel(id="candidates")
        with VerticalScroll(id="response-scroll"):
            yield Static(id="response-text")
        yield Footer()

    def on_resize(self, event: events.Resize) -> None:
        apply_size_classes(self, event.size.width, event.size.height)

    def on_mount(self) -> None:
        apply_size_classes(self, self.size.width, self.size.height)
        themes, _ = load_themes()
        for theme in themes:
            self.register_theme(theme)
        self.theme_names = [t.name for t in themes]
        wanted = self.requested_theme or DEFAULT_THEME
        self.theme = wanted if wanted in self.available_themes else DEFAULT_THEME
        self.query_one("#response-scroll").border_title = "response"
        self.candidates_panel = self.query_one(CandidatesPanel)
        self.load_current()

    # ------------------------------------------------------------ loading and drawing

    def load_current(self) -> None:
        step_file = self.files[self.index]
        try:
            self.record, self.error = load_step_file(step_file.path), None
        except RunFileError as exc:
            self.record, self.error = None, str(exc)
            self.notify(one_line(str(exc)), severity="error", timeout=8, markup=False)
        self.selected = self._best_index()
        self.redraw()

    def _best_index(self) -> int:
        candidates = self.record["candidates"] if self.record else []
        scored = [i for i, c in enumerate(candidates) if c.get("has_grid")]
        return max(scored, key=lambda i: candidates[i]["accuracy"]) if scored else 0

    def redraw(self) -> None:
        step_file = self.files[self.index]
        header = Text(no_wrap=True, overflow="ellipsis")
        header.append(" replay ", style="bold reverse")
        header.append(f" {self.index + 1}/{len(self.files)} ", style="dim")
        panel = self.candidates_panel
        if self.record is None:
            header.append(f" {one_line(str(step_file.path), 120)} ")
            self.query_one("#response-text", Static).update(Text(visible(self.error or ""), style="bold red"))
            panel.show_step(step_file.step, "?", [], [], [], [], None)
        else:
            record = self.record
            candidates = record["candidates"]
            header.append(f" step {record['step']} ", style="bold")
            header.append(f" {one_line(record['problem_id'], 30)} ")
            header.append(f" {one_line(str(record.get('timestamp', '')), 30)} ", style="dim")
            header.append(f" {one_line(str(step_file.path), 100)} ", style="dim")
            with_grid = [c for c in candidates if c.get("has_grid")]
            best = max(with_grid, key=lambda c: c["accuracy"])["candidate_id"] if with_grid else None
            current = candidates[self.selected] if candidates else None
            panel.selected_id = current["candidate_id"] if current else None
            panel.show_step(record["step"], record["problem_id"], record.get("test_input") or [], record["target_grid"],
                            [c.get("temperature") for c in candidates], candidates, best, view_description(record))
            scroll = self.query_one("#response-scroll")
            scroll.border_title = Text.assemble("response of #", safe_text(current["candidate_id"], 12)) if current else "response"
            self.query_one("#response-text", Static).update(response_text(current))
        self.query_one("#header", Static).update(header)
        if self.history:
            self.query_one(AccuracyHistory).show(self.history, marked_step=step_file.step)

    # ------------------------------------------------------------ actions

    def action_candidate(self, delta: int) -> None:
        if self.record and self.record["candidates"]:
            self.selected = (self.selected + delta) % len(self.record["candidates"])
            self.redraw()

    def action_step(self, delta: int) -> None:
        target = self.index + delta
        if 0 <= target < len(self.files):
            self.index = target
            self.load_current()
        else:
            self.notify("no more step files that way", timeout=2)

    def action_best(self) -> None:
        self.selected = self._best_index()
        self.redraw()

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.HELP_ROWS))

    async def action_quit(self) -> None:
        self.exit(0)
