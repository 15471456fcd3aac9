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


def status_text(view: RunView, watching: bool = False) -> Text:
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(" arc-console ", style="bold reverse")
    text.append(f" {one_line_tail(view.run_dir, 60)} ", style="dim")
    if view.max_steps:
        text.append(f" step {view.step}/{view.max_steps} ", style="bold")
    if view.problem_id:
        text.append(f" {one_line(view.problem_id, 24)} ")
    if view.stopping and not view.finished:
        text.append(" STOPPING ", style="bold black on yellow")
    elif view.paused:
        text.append(" PAUSED ", style="bold black on yellow")
    elif view.pause_pending:
        text.append(" PAUSED (after this step's safe point) ", style="bold black on yellow")
    elif view.lost is not None and view.finished is None:
        label = "DIED" if view.lost.state == "died" else "SILENT"
        text.append(f" {label}: {one_line(view.lost.detail, 90)} ", style="bold white on red")
    elif view.finished is not None:
        text.append(f" finished: {view.finished.reason.replace('_', ' ')} ", style="bold black on green")
    else:
        phase = view.phase
        if phase == "generating" and view.max_tokens:
            phase = f"generating {view.tokens}/{view.max_tokens} tok"
        text.append(f" {phase} ", style="bold")
    if view.tokens_per_s:
        text.append(f" {view.tokens_per_s:,.0f} tok/s ")
    elapsed = view.step_elapsed()
    if elapsed is not None and view.finished is None and view.lost is None:
        text.append(f" step {elapsed:.0f}s ")
    if view.step_durations:
        text.append(f" last {view.step_durations[-1]:.1f}s ")
    breakdown = last_step_breakdown(view.history[-1]) if view.history else ""
    if breakdown:
        text.append(f" {breakdown} ", style="dim")
    eta = view.eta_seconds()
    if eta is not None and view.finished is None:
        text.append(f" ETA {format_duration(eta)} ")
    held_out = view.latest_held_out()
    if held_out is not None:
        text.append(f" held-out pass@2 {format_score(held_out.get('pass_at_2'))} @{held_out.get('step')} ",
                    style="magenta")
    target = f"/{view.early_stop_perfect}" if view.early_stop_perfect else ""
    perfect = view.perfect_count()
    text.append(f" perfect {perfect}{target} ", style="green" if perfect else "")
    if watching:
        text.append(" watching ", style="italic")
    return text


class StatusBar(Widget):
    """A fixed one-line bar: updates repaint it without a layout pass (Static.update would re-layout
    the whole screen, several times a second while generating)."""

    DEFAULT_CSS = "StatusBar { height: 1; width: 1fr; background: $panel; }"

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self._text = Text()

    def show(self, view: RunView, watching: bool = False) -> None:
        text = status_text(view, watching)
        if text.plain != self._text.plain or text.spans != self._text.spans:
            self._text = text
            self.refresh()

    def render(self) -> Text:
        return self._text
