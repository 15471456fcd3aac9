"""A line chart drawn straight into terminal rows: braille dots (2 x 4 a cell) for lines, a glyph for marks,
a y axis with its labels on the left, whole-number steps along the bottom.

Pure and cheap on purpose: the dashboard redraws its chart at every step in the trainer's process, where
a general plotting library (plotext, then Rich's ANSI decoder, then Textual's styling of every span) was
the largest part of the dashboard's CPU (benchmarks/results/dashboard_profile_2026-12-06_devbox_before.txt).
Here a redraw is a few thousand integer operations and rows of Segments, one per run of a colour.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.segment import Segment
from rich.style import Style

# Braille dot bits by (column, row) inside a cell of 2 x 4 dots (Unicode's Braille Patterns block).
_DOT_BITS = ((0x01, 0x02, 0x04, 0x40), (0x08, 0x10, 0x20, 0x80))
BRAILLE_BASE = 0x2800


@dataclass(frozen=True)
class Series:
    points: list[tuple[float, float]]  # (x, y), in x order
    color: str  # a Rich colour
    lines: bool = True  # join the points (else dots alone)
    glyph: str = ""  # drawn at every point, over the dots (a mark: ★, ◆)
    right: bool = False  # on the right axis (render_chart's right_range)


@dataclass
class Frame:
    """The plot's geometry: the data ranges and the cells they map onto."""

    x_range: tuple[float, float]
    y_range: tuple[float, float]
    columns: int  # plot cells across
    rows: int  # plot cells down

    def dot(self, x: float, y: float) -> tuple[int, int]:
        """The braille dot (across, down) nearest to a data point, clamped to the plot."""
        (x0, x1), (y0, y1) = self.x_range, self.y_range
        across = round((x - x0) / (x1 - x0) * (2 * self.columns - 1)) if x1 > x0 else 0
        down = round((y1 - y) / (y1 - y0) * (4 * self.rows - 1)) if y1 > y0 else 4 * self.rows - 1
        return min(max(across, 0), 2 * self.columns - 1), min(max(down, 0), 4 * self.rows - 1)


@dataclass
class _Canvas:
    columns: int
    rows: int
    bits: list[list[int]] = field(default_factory=list)
    colors: list[list[str | None]] = field(default_factory=list)
    glyphs: list[list[tuple[str, str] | None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.bits = [[0] * self.columns for _ in range(self.rows)]
        self.colors = [[None] * self.columns for _ in range(self.rows)]
        self.glyphs = [[None] * self.columns for _ in range(self.rows)]

    def set_dot(self, across: int, down: int, color: str) -> None:
        column, row = across // 2, down // 4
        self.bits[row][column] |= _DOT_BITS[across % 2][down % 4]
        self.colors[row][column] = color

    def line(self, start: tuple[int, int], end: tuple[int, int], color: str) -> None:
        """Bresenham's line between two dots."""
        (x, y), (x_end, y_end) = start, end
        dx, dy = abs(x_end - x), -abs(y_end - y)
        step_x, step_y = (1 if x < x_end else -1), (1 if y < y_end else -1)
        error = dx + dy
        while True:
            self.set_dot(x, y, color)
            if x == x_end and y == y_end:
                return
            twice = 2 * error
            if twice >= dy:
                error += dy
                x += step_x
            if twice <= dx:
                error += dx
                y += step_y

    def mark(self, across: int, down: int, glyph: str, color: str) -> None:
        self.glyphs[down // 4][across // 2] = (glyph, color)

    def row_segments(self, row: int) -> list[Segment]:
        """One row of the plot as Segments, one per run of the same colour."""
        segments: list[Segment] = []
        text, current = [], None
        for column in range(self.columns):
            glyph = self.glyphs[row][column]
            if glyph is not None:
                char, color = glyph
            elif self.bits[row][column]:
                char, color = chr(BRAILLE_BASE + self.bits[row][column]), self.colors[row][column]
            else:
                char, color = " ", None
            if color != current and text:
                segments.append(Segment("".join(text), Style(color=current) if current else None))
                text = []
            current = color
            text.append(char)
        if text:
            segments.append(Segment("".join(text), Style(color=current) if current else None))
        return segments


def nice_y_ticks(low: float, high: float, rows: int) -> list[float]:
    """Evenly spaced values from low to high, one for every two or three rows (at least two)."""
    count = max(2, min(6, rows // 2 + 1))
    return [low + (high - low) * index / (count - 1) for index in range(count)]


def render_chart(series: list[Series], width: int, height: int, x_ticks: list[int], y_range: tuple[float, float],
                 x_label: str = "", marked_x: float | None = None, marked_color: str = "magenta",
                 axis_style: Style | None = None, right_range: tuple[float, float] | None = None) -> list[list[Segment]]:
    """`height` rows of `width` cells: the y labels and axis, the plot, the x axis with `x_ticks`, then
    `x_label` on a row of its own where given. `marked_x`: a vertical line at that x (replay's step).
    `right_range`: a second y axis on the right, for the series marked right."""
    if width <= 0 or height <= 0:
        return []
    axis_style = axis_style or Style(dim=True)
    label_rows = 2 + (1 if x_label else 0)
    plot_rows = max(1, height - label_rows)
    low, high = y_range
    y_ticks = nice_y_ticks(low, high, plot_rows)
    labels = [f"{value:.2f}" for value in y_ticks]
    label_width = max(len(label) for label in labels)
    right_ticks = nice_y_ticks(*right_range, plot_rows) if right_range else []
    right_labels = [f"{value:.2f}" for value in right_ticks]
    right_width = 1 + max(len(label) for label in right_labels) if right_labels else 0
    columns = max(1, width - label_width - 1 - right_width)
    xs = [x for s in series for x, _ in s.points] + list(x_ticks)
    x_range = (min(xs), max(xs)) if xs else (0.0, 1.0)
    if x_range[0] == x_range[1]:
        x_range = (x_range[0] - 0.5, x_range[1] + 0.5)
    frame = Frame(x_range, (low, high), columns, plot_rows)
    right_frame = Frame(x_range, right_range, columns, plot_rows) if right_range else frame
    canvas = _Canvas(columns, plot_rows)
    if marked_x is not None:
        across, _ = frame.dot(marked_x, low)
        for row in range(plot_rows):
            canvas.mark(across, row * 4, "│", marked_color)
    for one in series:
        dots = [(right_frame if one.right else frame).dot(x, y) for x, y in one.points]
        if one.lines and len(dots) > 1:
            for start, end in zip(dots, dots[1:]):
                canvas.line(start, end, one.color)
        else:
            for across, down in dots:
                canvas.set_dot(across, down, one.color)
        if one.glyph:
            for across, down in dots:
                canvas.mark(across, down, one.glyph, one.color)
    label_at_row = {frame.dot(x_range[0], value)[1] // 4: label for value, label in zip(y_ticks, labels)}
    right_at_row = {right_frame.dot(x_range[0], value)[1] // 4: label for value, label in zip(right_ticks, right_labels)}
    rows: list[list[Segment]] = []
    for row in range(plot_rows):
        label = label_at_row.get(row)
        axis = Segment((label or "").rjust(label_width) + ("┤" if label else "│"), axis_style)
        right = ([Segment(("├" + right_at_row[row]) if row in right_at_row else "│".ljust(right_width), axis_style)]
                 if right_range else [])
        rows.append([axis, *canvas.row_segments(row), *right])
    rows.append([Segment(" " * label_width + "└", axis_style), *_x_axis(frame, x_ticks, axis_style)])
    rows.append([Segment(" " * (label_width + 1)), *_x_labels(frame, x_ticks, axis_style)])
    if x_label:
        rows.append([Segment(x_label.center(width)[:width], axis_style)])
    return rows[:height]


def _x_axis(frame: Frame, ticks: list[int], style: Style) -> list[Segment]:
    line = ["─"] * frame.columns
    for tick in ticks:
        line[frame.dot(tick, 0)[0] // 2] = "┬"
    return [Segment("".join(line), style)]


def _x_labels(frame: Frame, ticks: list[int], style: Style) -> list[Segment]:
    """Each tick's number under it, centred where it fits; a label that would touch the one before is left out."""
    line = [" "] * frame.columns
    free_from = 0
    for tick in ticks:
        text = str(tick)
        column = frame.dot(tick, 0)[0] // 2
        start = min(max(column - len(text) // 2, 0), frame.columns - len(text))
        if start < free_from or start < 0:
            continue
        line[start:start + len(text)] = text
        free_from = start + len(text) + 1
    return [Segment("".join(line), style)]
