"""The one-line status: run directory, step, problem, phase, speed, ETA, perfect count, pause."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.strip import Strip
from textual.widget import Widget

from arc_console.terminal.textsafe import one_line, one_line_tail
from arc_console.tui.headless import format_duration, format_score
from arc_console.tui.run_view import RunView
from arc_console.rundir.files import stop_words


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


@dataclass
class StatusField:
    """One field of the bar and how it yields when the bar is too narrow: at `shrink_rank` it becomes `short`
    (where it has one), at `drop_rank` it goes; the lowest rank yields first, the rightmost of a rank first.
    KEEP_ALWAYS fields never go."""

    text: Text
    drop_rank: int
    short: Text | None = None
    shrink_rank: int = 0


# Ranks, lowest first: the name, the run directory shortened to its tail, the step's timings, the last step's
# breakdown, then tok/s, the problem and the run directory, then the ETA and the held-out score; never the
# step, the phase or state, or the perfect count.
NAME, SHORTEN_DIR, TIMINGS, BREAKDOWN, DETAIL, SCORE, KEEP_ALWAYS = range(1, 8)
WATCH_DIR_CELLS = 40  # the run directory's tail once shortened: its last folder names it


def status_fields(view: RunView, watching: bool = False) -> list[StatusField]:
    """The bar's fields in order. Counters are padded to their widest, so that which fields fit does not
    change with every token or second."""
    fields = [StatusField(Text(" arc-console ", style="bold reverse"), NAME),
              StatusField(Text(f" {one_line_tail(view.run_dir, 60)} ", style="dim"), DETAIL,
                          Text(f" {one_line_tail(view.run_dir, WATCH_DIR_CELLS)} ", style="dim"), SHORTEN_DIR)]
    if view.max_steps:
        fields.append(StatusField(Text(f" step {view.step}/{view.max_steps} ", style="bold"), KEEP_ALWAYS))
    if view.problem_id:
        fields.append(StatusField(Text(f" {one_line(view.problem_id, 24)} "), DETAIL))
    fields.append(StatusField(state_text(view), KEEP_ALWAYS))
    if view.tokens_per_s:
        fields.append(StatusField(Text(f" {view.tokens_per_s:>6,.0f} tok/s "), DETAIL))
    elapsed = view.step_elapsed()
    if elapsed is not None and view.finished is None and view.lost is None:
        fields.append(StatusField(Text(f" step {elapsed:>3.0f}s "), TIMINGS))
    if view.step_durations:
        fields.append(StatusField(Text(f" last {view.step_durations[-1]:.1f}s "), TIMINGS))
    breakdown = last_step_breakdown(view.history[-1]) if view.history else ""
    if breakdown:
        fields.append(StatusField(Text(f" {breakdown} ", style="dim"), BREAKDOWN))
    eta = view.eta_seconds()
    if eta is not None and view.finished is None:
        fields.append(StatusField(Text(f" ETA {format_duration(eta):<6} "), SCORE))
    held_out = view.latest_held_out()
    if held_out is not None:
        fields.append(StatusField(Text(f" held-out pass@2 {format_score(held_out.get('pass_at_2'))} "
                                       f"@{held_out.get('step')} ", style="magenta"), SCORE))
    target = f"/{view.early_stop_perfect}" if view.early_stop_perfect else ""
    perfect = view.perfect_count()
    fields.append(StatusField(Text(f" perfect {perfect}{target} ", style="green" if perfect else ""), KEEP_ALWAYS))
    if watching:
        fields.append(StatusField(Text(" watching ", style="italic"), SCORE))
    return fields


def state_text(view: RunView) -> Text:
    """The run's state, or the phase of its step while it runs (padded to the widest phase, so that what
    fits beside it holds still through a step)."""
    if view.stopping and not view.finished:
        return Text(" STOPPING ", style="bold black on yellow")
    if view.paused:
        return Text(" PAUSED ", style="bold black on yellow")
    if view.pause_pending:
        return Text(" PAUSED (after this step's safe point) ", style="bold black on yellow")
    if view.lost is not None and view.finished is None:
        label = "DIED" if view.lost.state == "died" else "SILENT"
        return Text(f" {label}: {one_line(view.lost.detail, 90)} ", style="bold white on red")
    if view.finished is not None:
        return Text(f" finished: {stop_words(view.finished.reason)} ", style="bold black on green")
    phase = view.phase
    widest = len(phase)
    if view.max_tokens:
        widest = max(widest, len(f"generating {view.max_tokens}/{view.max_tokens} tok"))
        if phase == "generating":
            phase = f"generating {view.tokens:>{len(str(view.max_tokens))}}/{view.max_tokens} tok"
    return Text(f" {phase:<{widest}} ", style="bold")


def status_text(view: RunView, watching: bool = False, width: int | None = None) -> Text:
    """The bar as it fits `width` cells (None: whole): fields shorten or leave whole, one at a time, the
    lowest rank first (StatusField), so none is cut mid-word; what is left too wide ends in an ellipsis."""
    fields = status_fields(view, watching)
    while width is not None and sum(f.text.cell_len for f in fields) > width:
        candidates = [(f.shrink_rank if f.short is not None else f.drop_rank, -index, f)
                      for index, f in enumerate(fields) if f.drop_rank < KEEP_ALWAYS]
        if not candidates:
            break
        _, _, field = min(candidates, key=lambda c: (c[0], c[1]))
        if field.short is not None:
            field.text, field.short = field.short, None
        else:
            fields.remove(field)
    text = Text(no_wrap=True, overflow="ellipsis")
    for field in fields:
        text.append_text(field.text)
    return text


class StatusBar(Widget):
    """A fixed one-line bar: updates repaint it without a layout pass (Static.update would re-layout
    the whole screen, several times a second while generating). Its line is made once per change and served
    through the line API: the line a second the clock ticks costs one strip, not a pass through Textual's
    content pipeline."""

    DEFAULT_CSS = "StatusBar { height: 1; width: 1fr; background: $panel; }"

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self._text = Text()
        self._shown: tuple[RunView, bool] | None = None
        self._line: Strip | None = None  # _text over this bar's background, made at the first paint after a change

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._changed())

    def on_unmount(self) -> None:
        self.app.theme_changed_signal.unsubscribe(self)

    def show(self, view: RunView, watching: bool = False) -> None:
        self._shown = (view, watching)
        text = status_text(view, watching, self.size.width or None)
        if text.plain != self._text.plain or text.spans != self._text.spans:
            self._text = text
            self._changed()

    def _changed(self) -> None:
        self._line = None
        self.refresh()

    def on_resize(self) -> None:
        self._line = None
        if self._shown is not None:
            self.show(*self._shown)

    def render(self) -> Text:
        """The bar's text as shown."""
        return self._text

    def render_line(self, y: int) -> Strip:
        width, base = self.size.width, self.rich_style
        if y:
            return Strip.blank(width, base)
        if self._line is None:
            text = self._text.copy()
            text.truncate(width, overflow="ellipsis")
            self._line = Strip(list(text.render(self.app.console, end="")), text.cell_len) \
                .extend_cell_length(width, base).apply_style(base)
        return self._line
