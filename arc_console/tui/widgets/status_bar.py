"""The one-line status: run directory, step, problem, phase, speed, ETA, perfect count, pause."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from arc_console.tui.headless import format_duration, format_score
from arc_console.tui.textsafe import one_line, one_line_tail
from arc_console.tui.run_view import RunView


PHASE_LABELS = (("time_rollout_s", "gen"), ("time_scoring_s", "score"), ("time_old_logprobs_s", "old"),
                ("time_update_s", "upd"), ("time_writing_s", "write"))


def last_step_breakdown(metrics: dict) -> str:
    """'draws 3 · gen 3.6 upd 0.6 s' from the last step's metrics; '' for runs that did not log them."""
    parts = []
    drawn = metrics.get("groups_drawn")
    if isinstance(drawn, int):
        parts.append(f"draws {drawn}" + (f" kept {metrics.get('groups_kept')}" if drawn > 1 else ""))
    times = [f"{label} {metrics[key]:.1f}" for key, label in PHASE_LABELS
             if isinstance(metrics.get(key), (int, float)) and metrics[key] >= 0.05]
    if times:
        parts.append(" ".join(times) + " s")
    return " · ".join(parts)


# How long each field stays when the bar is too narrow for all of them: the lowest goes first (the run
# directory, the name, the step's timings, the last step's breakdown, ...); KEEP_LAST ones never go.
KEEP_LAST, KEEP_LONG, KEEP, KEEP_BREAKDOWN, KEEP_SHORT, KEEP_NAME, KEEP_LEAST = 7, 6, 5, 4, 3, 2, 1


def status_fields(view: RunView, watching: bool = False) -> list[tuple[int, Text]]:
    """The bar's fields in order, each with how long it stays when the bar is too narrow (KEEP_*)."""
    fields: list[tuple[int, Text]] = [(KEEP_NAME, Text(" arc-console ", style="bold reverse")),
                                      (KEEP_LEAST, Text(f" {one_line_tail(view.run_dir, 60)} ", style="dim"))]
    if view.max_steps:
        fields.append((KEEP_LAST, Text(f" step {view.step}/{view.max_steps} ", style="bold")))
    if view.problem_id:
        fields.append((KEEP, Text(f" {one_line(view.problem_id, 24)} ")))
    if view.stopping and not view.finished:
        fields.append((KEEP_LAST, Text(" STOPPING ", style="bold black on yellow")))
    elif view.paused:
        fields.append((KEEP_LAST, Text(" PAUSED ", style="bold black on yellow")))
    elif view.pause_pending:
        fields.append((KEEP_LAST, Text(" PAUSED (after this step's safe point) ", style="bold black on yellow")))
    elif view.lost is not None and view.finished is None:
        label = "DIED" if view.lost.state == "died" else "SILENT"
        fields.append((KEEP_LAST, Text(f" {label}: {one_line(view.lost.detail, 90)} ", style="bold white on red")))
    elif view.finished is not None:
        fields.append((KEEP_LAST, Text(f" finished: {view.finished.reason.replace('_', ' ')} ",
                                       style="bold black on green")))
    else:
        phase = view.phase
        if phase == "generating" and view.max_tokens:
            # padded to its widest, so that the fields after it do not come and go with the count
            phase = f"generating {view.tokens:>{len(str(view.max_tokens))}}/{view.max_tokens} tok"
        fields.append((KEEP_LAST, Text(f" {phase} ", style="bold")))
    if view.tokens_per_s:
        fields.append((KEEP, Text(f" {view.tokens_per_s:,.0f} tok/s ")))
    elapsed = view.step_elapsed()
    if elapsed is not None and view.finished is None and view.lost is None:
        fields.append((KEEP_SHORT, Text(f" step {elapsed:.0f}s ")))
    if view.step_durations:
        fields.append((KEEP_SHORT, Text(f" last {view.step_durations[-1]:.1f}s ")))
    breakdown = last_step_breakdown(view.history[-1]) if view.history else ""
    if breakdown:
        fields.append((KEEP_BREAKDOWN, Text(f" {breakdown} ", style="dim")))
    eta = view.eta_seconds()
    if eta is not None and view.finished is None:
        fields.append((KEEP_LONG, Text(f" ETA {format_duration(eta)} ")))
    held_out = view.latest_held_out()
    if held_out is not None:
        fields.append((KEEP_LONG, Text(f" held-out pass@2 {format_score(held_out.get('pass_at_2'))} "
                                       f"@{held_out.get('step')} ", style="magenta")))
    target = f"/{view.early_stop_perfect}" if view.early_stop_perfect else ""
    perfect = view.perfect_count()
    fields.append((KEEP_LONG, Text(f" perfect {perfect}{target} ", style="green" if perfect else "")))
    if watching:
        fields.append((KEEP_LONG, Text(" watching ", style="italic")))
    return fields


def status_text(view: RunView, watching: bool = False, width: int | None = None) -> Text:
    """The bar as it fits `width` cells (None: whole): fields leave whole, the least kept first, so none
    is cut mid-word; a field that alone is too wide ends in an ellipsis."""
    fields = status_fields(view, watching)
    if width is not None:
        for keep in (KEEP_LEAST, KEEP_NAME, KEEP_SHORT, KEEP_BREAKDOWN, KEEP, KEEP_LONG):
            if sum(field.cell_len for _, field in fields) <= width:
                break
            fields = [(k, field) for k, field in fields if k != keep]
    text = Text(no_wrap=True, overflow="ellipsis")
    for _, field in fields:
        text.append_text(field)
    return text


class StatusBar(Widget):
    """A fixed one-line bar: updates repaint it without a layout pass (Static.update would re-layout
    the whole screen, several times a second while generating)."""

    DEFAULT_CSS = "StatusBar { height: 1; width: 1fr; background: $panel; }"

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self._text = Text()
        self._shown: tuple[RunView, bool] | None = None

    def show(self, view: RunView, watching: bool = False) -> None:
        self._shown = (view, watching)
        text = status_text(view, watching, self.size.width or None)
        if text.plain != self._text.plain or text.spans != self._text.spans:
            self._text = text
            self.refresh()

    def on_resize(self) -> None:
        if self._shown is not None:
            self.show(*self._shown)

    def render(self) -> Text:
        return self._text
