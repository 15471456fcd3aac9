"""The last lines of training.log, as plain text, with a scroll-back that does not re-lay-out the screen."""

from __future__ import annotations

from collections import deque
from itertools import islice

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.strip import Strip
from textual.widget import Widget

from arc_console.terminal.textsafe import visible


def fit_width(line: str, width: int) -> str:
    """`line` cut to `width` terminal cells, ending in … when cut."""
    if cell_len(line) <= width:
        return line
    return set_cell_size(line, width - 1) + "…"


class LogTail(Widget, can_focus=True):
    """Shows the newest lines that fit; the wheel or the arrow keys look further back.

    Not a scroll view on purpose: a scroll view's virtual size grows with every line, and each
    growth is a layout pass of the whole screen, the largest cost the dashboard put on the trainer.
    Here a new line repaints this panel only, through the line API: each line is cut to the width and made
    into a strip once, not the whole tail laid out as text at every repaint.
    """

    DEFAULT_CSS = """
    LogTail { border: round $primary; height: 10; text-wrap: nowrap; text-overflow: ellipsis; }
    LogTail:focus { background-tint: $foreground 5%; }
    """
    BINDINGS = [
        Binding("up", "look_back(1)", "older", show=False),
        Binding("down", "look_back(-1)", "newer", show=False),
        Binding("pageup", "look_back(8)", "older", show=False),
        Binding("pagedown", "look_back(-8)", "newer", show=False),
        Binding("end", "follow", "follow", show=False),
    ]

    def __init__(self, max_lines: int = 1000, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.lines: deque[str] = deque(maxlen=max_lines)
        self.lines_back = 0  # 0: following the newest line
        self._strips: dict[str, Strip] = {}  # each line shown, as drawn for _drawn_for
        self._drawn_for: tuple[int, Style] | None = None  # (width, style) the strips were made for

    @property
    def line_count(self) -> int:
        return len(self.lines)

    def on_mount(self) -> None:
        self.border_title = "training.log"

    def add(self, line: str) -> None:
        self.lines.append(visible(line))
        if self.lines_back:  # looking back: keep the same lines in view
            self._set_lines_back(self.lines_back + 1)
        self.refresh()

    def shown_lines(self) -> list[str]:
        """The lines in view, oldest first."""
        height = max(1, self.content_size.height)
        end = len(self.lines) - self.lines_back
        return list(islice(self.lines, max(0, end - height), max(0, end)))

    def render(self) -> Text:
        """The lines in view as text, each cut to the panel's width (a wrapped line would take two rows and push
        the newest line out of view)."""
        width = max(1, self.content_size.width)
        return Text("\n".join(fit_width(line, width) for line in self.shown_lines()), no_wrap=True,
                    overflow="ellipsis")

    def render_line(self, y: int) -> Strip:
        width, base = max(1, self.content_size.width), self.rich_style
        if (width, base) != self._drawn_for or len(self._strips) > 4 * max(1, self.content_size.height):
            self._drawn_for, self._strips = (width, base), {}
        height = max(1, self.content_size.height)
        end = len(self.lines) - self.lines_back
        index = max(0, end - height) + y
        if y >= height or index >= end:
            return Strip([])
        line = self.lines[index]
        strip = self._strips.get(line)
        if strip is None:
            shown = fit_width(line, width)
            # Textual pads the rest of the row with the background, as it pads rendered text.
            strip = self._strips[line] = Strip([Segment(shown, base)], cell_len(shown))
        return strip

    def action_look_back(self, lines: int) -> None:
        self._set_lines_back(self.lines_back + lines)

    def action_follow(self) -> None:
        self._set_lines_back(0)

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        event.stop()
        self.action_look_back(3)

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        event.stop()
        self.action_look_back(-3)

    def _set_lines_back(self, lines: int) -> None:
        oldest_view = max(0, len(self.lines) - max(1, self.content_size.height))
        self.lines_back = min(max(0, lines), oldest_view)
        self.border_subtitle = f"{self.lines_back} lines back · End follows" if self.lines_back else ""
        self.refresh()
