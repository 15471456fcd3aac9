"""The key help: one row for every binding a screen declares, built from the bindings themselves."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static


def help_rows(bindings: Iterable[BindingType], key_display: Callable[[Binding], str]) -> list[tuple[str, str]]:
    """(keys, what they do) for each binding: its key_display, else every key as the footer shows it
    ('← / h'); its tooltip (the long form), else its description. Bindings of the same keys (q: stop while
    the run goes, quit once it has ended) share one row, their meanings joined by ' · '."""
    rows: dict[str, list[str]] = {}
    for binding in bindings:
        if not isinstance(binding, Binding):
            binding = Binding(*binding)
        keys = binding.key_display or " / ".join(
            key_display(dataclasses.replace(binding, key=key.strip())) for key in binding.key.split(","))
        rows.setdefault(keys, []).append(binding.tooltip or binding.description)
    return [(keys, " · ".join(meanings)) for keys, meanings in rows.items()]


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Vertical { width: 72; height: auto; border: thick $primary; background: $surface; padding: 1 2; }
    """
    BINDINGS = [
        Binding("escape,question_mark,q", "close", "Close help", id="close-help"),
        # Ctrl+C means the same here as on the screen below: close the help and let that screen have it.
        Binding("ctrl+c", "close_and_pass_on('ctrl+c')", "Close help", show=False, priority=True),
    ]

    def __init__(self, rows: list[tuple[str, str]]) -> None:
        super().__init__()
        self.rows = rows

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2))
        for key, description in self.rows:
            table.add_row(Text.assemble((key, "bold")), Text(description))
        with Vertical():
            yield Static("[b]arc-console keys[/b]\n")
            yield Static(table)
            yield Static("\nGrids use the ARC palette; 'g' adds digits for colour-blind reading.\n"
                         "Ctrl+P opens the command palette. Esc closes this help.")

    def action_close(self) -> None:
        self.dismiss(None)

    def action_close_and_pass_on(self, key: str) -> None:
        self.dismiss(None)
        self.app.simulate_key(key)
