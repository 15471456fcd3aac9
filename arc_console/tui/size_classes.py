"""Screen classes by terminal size, so one stylesheet lays out 80x24, 120x40 and 160x50 alike well."""

from __future__ import annotations

from textual.app import App

SHORT_ROWS = 30  # below: the chart and log take their minimum, the candidates the rest
TALL_ROWS = 45  # from here: a taller chart and log, and several lines of the best response


def size_classes(width: int, height: int) -> set[str]:
    classes = set()
    if height < SHORT_ROWS:
        classes.add("short")
    if height >= TALL_ROWS:
        classes.add("tall")
    return classes


def apply_size_classes(app: App, width: int, height: int) -> None:
    """Set the size classes on the app (CSS rules select on them: `.short LogTail { ... }`)."""
    wanted = size_classes(width, height)
    for name in ("short", "tall"):
        app.set_class(name in wanted, name)
