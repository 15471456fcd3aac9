"""The replay screen: one saved step at a time, every candidate as a grid, the selected one's full
response, and the run's accuracy history with the step marked.

Navigation: ←/→ candidates, [ / ] step files of the same folder, b best. Nothing is ever written.
The best candidate is chosen by the one rule (arc.candidates), not read from the file's
best_candidate_id: files written before the rule stored a choice by another one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from arc_console.arc.candidates import best_candidate_id, best_candidate_index
from arc_console.arc.parse import split_channels
from arc_console.rundir.files import RunFileError, StepFile, load_step_file
from arc_console.terminal.textsafe import one_line, safe_text, visible
from arc_console.tui.grid_actions import GridViewActions
from arc_console.tui.recorded_history import RecordedHistory, read_recorded_history
from arc_console.tui.run_view import view_description
from arc_console.tui.screens.help import HelpScreen, help_rows
from arc_console.tui.widgets.candidates import CandidatesPanel
from arc_console.tui.widgets.history import AccuracyHistory
from arc_console.tui.widgets.keys_footer import KeysFooter

# Each pair shows in the footer as its two keys and one word ("←→ Candidate"), so that a narrow footer keeps them.
CANDIDATE_KEYS = Binding.Group("Candidate", compact=True)
STEP_KEYS = Binding.Group("Step", compact=True)


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


class ReplayScreen(GridViewActions, Screen[None]):
    """Its stylesheet is tui/replay.tcss, named by ReplayApp."""

    BINDINGS = [
        Binding("q", "close", "Quit", id="quit", tooltip="quit"),  # first: a narrow footer keeps it (as watch's)
        # priority: a focused scroll area (the response, the cards) would take the arrows for scrolling
        Binding("left,h", "candidate(-1)", "Prev candidate", id="prev-candidate", priority=True,
                tooltip="previous candidate", group=CANDIDATE_KEYS),
        Binding("right,l", "candidate(1)", "Next candidate", id="next-candidate", priority=True,
                tooltip="next candidate", group=CANDIDATE_KEYS),
        Binding("left_square_bracket", "step(-1)", "Prev step", id="prev-step", tooltip="previous step file",
                group=STEP_KEYS),
        Binding("right_square_bracket", "step(1)", "Next step", id="next-step", tooltip="next step file",
                group=STEP_KEYS),
        Binding("b", "best", "Best", id="best", tooltip="jump to the best candidate"),
        Binding("d", "toggle_diff", "Diff", id="diff", tooltip="diff view against the target"),
        Binding("g", "toggle_digits", "Digits", id="digits", tooltip="colour numbers in cells"),
        Binding("t", "app.next_theme", "Theme", id="theme", tooltip="next theme"),
        Binding("question_mark", "help", "Help", id="help", tooltip="this help"),
    ]

    def __init__(self, files: list[StepFile], index: int, run_dir: Path | None) -> None:
        super().__init__()
        self.files = files
        self.index = index
        self.run_dir = run_dir
        self.record: dict[str, Any] | None = None
        self.error: str | None = None
        self.selected = 0
        self.recorded = read_recorded_history(run_dir) if run_dir is not None else RecordedHistory([], [])

    def compose(self) -> ComposeResult:
        yield Static(id="header")
        if self.recorded.metrics:
            yield AccuracyHistory(id="history")
        yield CandidatesPanel(id="candidates")
        with VerticalScroll(id="response-scroll"):
            yield Static(id="response-text")
        yield KeysFooter()

    def on_mount(self) -> None:
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
        return best_candidate_index(self.record["candidates"] if self.record else []) or 0

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
            best = best_candidate_id(candidates)
            current = candidates[self.selected] if candidates else None
            panel.selected_id = current["candidate_id"] if current else None
            panel.show_step(record["step"], record["problem_id"], record.get("test_input") or [], record["target_grid"],
                            [c.get("temperature") for c in candidates], candidates, best, view_description(record))
            scroll = self.query_one("#response-scroll")
            scroll.border_title = Text.assemble("response of #", safe_text(current["candidate_id"], 12)) if current else "response"
            self.query_one("#response-text", Static).update(response_text(current))
        self.query_one("#header", Static).update(header)
        if self.recorded.metrics:
            self.query_one(AccuracyHistory).show(self.recorded.metrics, marked_step=step_file.step,
                                                 held_out=self.recorded.held_out)

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
        self.app.push_screen(HelpScreen(help_rows(self.BINDINGS, self.app.get_key_display)))

    def action_close(self) -> None:
        self.app.exit(0)
