"""Accuracy history: best and mean accuracy and mean reward per step, the trend of the mean, perfect steps marked,
and held-out pass@2 (--eval-every, logs/eval.jsonl) as its own series. Accuracies are on a 0-1 axis (left); the
reward, which runs past 1 (bonuses) and below 0 (penalties), has its own axis (right). The border title is
the legend: a legend box on the chart covered its first steps."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.strip import Strip
from textual.widget import Widget

from arc_console.terminal.textsafe import safe_text
from arc_console.tui.widgets.line_chart import Series, render_chart


def integer_ticks(first: int, last: int, most: int = 8) -> list[int]:
    """Whole-step ticks from first to last, at most `most` of them."""
    stride = max(1, -(-(last - first) // (most - 1)))
    return list(range(first, last + 1, stride))


HISTORY_POINTS = 2000  # the plot gets at most this many steps; longer runs are thinned evenly


def thin(history: list[dict[str, Any]], limit: int = HISTORY_POINTS) -> list[dict[str, Any]]:
    """At most about `limit` steps spread evenly over the run, and every perfect step and the last."""
    if len(history) <= limit:
        return history
    stride = len(history) / limit
    kept = [history[int(i * stride)] for i in range(limit)]
    perfect = [m for m in history if m.get("perfect")]
    merged = {m["step"]: m for m in kept + perfect + [history[-1]]}
    return [merged[k] for k in sorted(merged)]


SHORT_PLOT_ROWS = 12  # the panel's rows (border included) below which the plot drops its axis label
TREND_WINDOW = 20  # steps: several passes over a few problems, so the trend is not the problem order


def trailing_mean(values: list[float], window: int) -> list[float]:
    """Each value's mean with the window - 1 before it (fewer at the start)."""
    means, total = [], 0.0
    for index, value in enumerate(values):
        total += value
        if index >= window:
            total -= values[index - window]
        means.append(total / min(index + 1, window))
    return means


def held_out_points(rows: list[dict[str, Any]]) -> list[tuple[int, float]]:
    """(step, pass@2) of each held-out evaluation that scored (lines of logs/eval.jsonl)."""
    points = []
    for row in rows:
        step, value = row.get("step"), row.get("pass_at_2")
        if isinstance(step, int) and isinstance(value, (int, float)) and not isinstance(value, bool):
            points.append((step, float(value)))
    return sorted(points)


# The series, in the border title (the legend) and on the chart, each in its colour.
BEST, MEAN, TREND, REWARD, PERFECT, HELD_OUT = "green", "cyan", "dark_orange", "grey50", "yellow", "magenta"
LEGEND = (("best", BEST), " ", ("mean", MEAN), " ", ("trend", TREND), " ", ("reward (right axis)", REWARD), " ",
          ("★ perfect", PERFECT))


def reward_range(values: list[float]) -> tuple[float, float]:
    """The reward's axis: 0 to 1, widened to any reward outside it (bonuses above, penalties below)."""
    return min([0.0, *values]), max([1.0, *values])


class AccuracyHistory(Widget):
    """The chart is drawn into rows of segments once per change (line_chart) and served through the line API."""

    DEFAULT_CSS = "AccuracyHistory { border: round $primary; height: 100%; }"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.history: list[dict[str, Any]] = []
        self.problem_filter: str | None = None
        self.marked_step: int | None = None
        self.held_out: list[dict[str, Any]] = []
        self._rows: list[Strip] = []
        self._styled: list[Strip] | None = None  # _rows over this widget's background, once per change

    def on_mount(self) -> None:
        self.border_title = "accuracy"
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self.redraw())
        self.redraw()

    def on_unmount(self) -> None:
        self.app.theme_changed_signal.unsubscribe(self)

    def show(self, history: list[dict[str, Any]], marked_step: int | None = None,
             held_out: list[dict[str, Any]] | None = None) -> None:
        self.history = thin(history)
        self.marked_step = marked_step
        self.held_out = list(held_out or [])
        self.redraw()

    def problems(self) -> list[str]:
        return sorted({str(m.get("problem_id")) for m in self.history})

    def cycle_problem(self) -> str | None:
        """All problems -> each problem in turn -> all again; returns the new filter."""
        options: list[str | None] = [None, *self.problems()]
        position = options.index(self.problem_filter) if self.problem_filter in options else 0
        self.problem_filter = options[(position + 1) % len(options)]
        self.redraw()
        return self.problem_filter

    def chart_series(self) -> list[Series]:
        """What the chart draws, in drawing order (the later over the earlier)."""
        rows = [m for m in self.history if self.problem_filter is None or m.get("problem_id") == self.problem_filter]
        series = []
        held_out = held_out_points(self.held_out)
        if held_out:  # across all problems whatever the filter: it is the score on tasks never trained on
            series.append(Series([(s, v) for s, v in held_out], HELD_OUT, glyph="◆"))
        if rows:
            steps = [m["step"] for m in rows]
            means = [m.get("mean_accuracy", 0.0) for m in rows]
            series.append(Series(list(zip(steps, [m.get("reward_mean", 0.0) for m in rows])), REWARD, right=True))
            if len(rows) > 1:
                series.append(Series(list(zip(steps, trailing_mean(means, TREND_WINDOW))), TREND))
            series.append(Series(list(zip(steps, means)), MEAN))
            series.append(Series(list(zip(steps, [m.get("best_accuracy", 0.0) for m in rows])), BEST))
            perfect = [m["step"] for m in rows if m.get("perfect")]
            if perfect:
                series.append(Series([(step, 1.0) for step in perfect], PERFECT, lines=False, glyph="★"))
        return series

    def redraw(self) -> None:
        scope = self.problem_filter or "all problems"
        series = self.chart_series()
        held_out = any(one.color == HELD_OUT for one in series)
        self.border_title = Text.assemble("accuracy · ", safe_text(scope, 40), " · ", *LEGEND,
                                          *((" ", ("held-out pass@2 ◆", HELD_OUT)) if held_out else ()), " ·")
        width, height = self.size
        steps = [x for one in series for x, _ in one.points]
        ticks = integer_ticks(int(min(steps)), int(max(steps))) if steps else []
        short = 0 < height + self.styles.gutter.height < SHORT_PLOT_ROWS  # no axis label
        rewards = [y for one in series if one.right for _, y in one.points]
        rows = render_chart(series, width, height, ticks, (0.0, 1.0), x_label="" if short else "step",
                            marked_x=self.marked_step, right_range=reward_range(rewards) if rewards else None)
        self._rows = [Strip(row) for row in rows]
        self._styled = None
        self.refresh()

    def chart_text(self) -> str:
        """The chart as drawn, plain text, a line a row."""
        return "\n".join(row.text for row in self._rows)

    def render_line(self, y: int) -> Strip:
        if self._styled is None:
            base = self.rich_style  # asked once: it walks the ancestors
            self._styled = [row.apply_style(base) for row in self._rows]
        return self._styled[y] if y < len(self._styled) else Strip.blank(self.size.width, self.rich_style)

    def on_resize(self) -> None:
        self.redraw()
