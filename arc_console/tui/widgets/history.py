"""Accuracy history: best and mean accuracy and mean reward per step, the trend of the mean, perfect steps marked,
and held-out pass@2 (--eval-every, logs/eval.jsonl) as its own series. Accuracies are on a 0-1 axis (left); the
reward, which runs past 1 (bonuses) and below 0 (penalties), has its own axis (right)."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual_plotext import PlotextPlot

from arc_console.terminal.textsafe import safe_text


def integer_ticks(first: int, last: int, most: int = 8) -> list[int]:
    """Whole-step ticks from first to last, at most `most` of them."""
    stride = max(1, -(-(last - first) // (most - 1)))
    return list(range(first, last + 1, stride))


SHORT_PLOT_ROWS = 12  # the panel's rows (border included) below which the plot drops its legend and label
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


class AccuracyHistory(PlotextPlot):
    DEFAULT_CSS = "AccuracyHistory { border: round $primary; height: 100%; }"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.history: list[dict[str, Any]] = []
        self.problem_filter: str | None = None
        self.marked_step: int | None = None
        self.held_out: list[dict[str, Any]] = []
        self._drawn_short = False

    def on_mount(self) -> None:
        self.border_title = "accuracy"
        self.redraw()

    def show(self, history: list[dict[str, Any]], marked_step: int | None = None,
             held_out: list[dict[str, Any]] | None = None) -> None:
        self.history = history
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

    def redraw(self) -> None:
        plt = self.plt
        self._drawn_short = 0 < self.size.height < SHORT_PLOT_ROWS
        plt.clear_data()
        plt.clear_figure()
        rows = [m for m in self.history if self.problem_filter is None or m.get("problem_id") == self.problem_filter]
        scope = self.problem_filter or "all problems"
        held_out = held_out_points(self.held_out)
        self.border_title = Text.assemble("accuracy · ", safe_text(scope, 40), " · best ━ mean ┄ trend ━ reward (right axis)",
                                          " · held-out pass@2 ◆" if held_out else "", " ·")
        # Short: no legend box (it would cover the lines; the border title names them) and no axis label.
        short = 0 < self.size.height < SHORT_PLOT_ROWS
        label = (lambda name: None) if short else (lambda name: name)
        if held_out:
            # Across all problems whatever the filter: it is the score on tasks never trained on.
            plt.plot([s for s, _ in held_out], [v for _, v in held_out], label=label("held-out pass@2"),
                     color="magenta", marker="◆")
        if rows or held_out:
            every_step = [m["step"] for m in rows] + [s for s, _ in held_out]
            plt.xticks(integer_ticks(min(every_step), max(every_step)))
        if rows:
            steps = [m["step"] for m in rows]
            plt.plot(steps, [m.get("best_accuracy", 0.0) for m in rows], label=label("best"), color="green",
                     marker="braille")
            means = [m.get("mean_accuracy", 0.0) for m in rows]
            plt.plot(steps, means, label=label("mean"), color="cyan", marker="braille")
            if len(rows) > 1:
                plt.plot(steps, trailing_mean(means, TREND_WINDOW), label=label(f"mean of {TREND_WINDOW}"),
                         color="orange", marker="hd")
            plt.plot(steps, [m.get("reward_mean", 0.0) for m in rows], label=label("reward"), color="gray", marker="dot",
                     yside="right")
            perfect = [m["step"] for m in rows if m.get("perfect")]
            if perfect:
                plt.scatter(perfect, [1.0] * len(perfect), marker="★", color="yellow", label=label("perfect"))
            if self.marked_step is not None:
                plt.vline(self.marked_step, color="magenta")
        plt.ylim(0, 1, yside="left")
        plt.yticks([0, 0.5, 1] if self.size.height < SHORT_PLOT_ROWS + 4 else [0, 0.25, 0.5, 0.75, 1], yside="left")
        if not short:
            plt.xlabel("step")
        self.refresh()

    def on_resize(self) -> None:
        short = 0 < self.size.height < SHORT_PLOT_ROWS
        if short != self._drawn_short:
            self.redraw()
