"""The last lines of training.log, as plain text."""

from __future__ import annotations

from textual.widgets import Log

from arc_console.textsafe import visible


class LogTail(Log):
    DEFAULT_CSS = "LogTail { border: round $primary; height: 10; }"

    def __init__(self, **kwargs: object) -> None:
        super().__init__(max_lines=1000, auto_scroll=True, **kwargs)

    def on_mount(self) -> None:
        self.border_title = "training.log"

    def add(self, line: str) -> None:
        self.write_line(visible(line))
