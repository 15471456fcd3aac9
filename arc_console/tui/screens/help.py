"""The key help: every binding of the console with what it does."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Vertical { width: 72; height: auto; border: thick $primary; background: $surface; padding: 1 2; }
    """
    BINDINGS = [Binding("escape,question_mark,q", "close", "Close help", id="close-help")]

    def __init__(self, rows: list[tuple[str, str]]) -> None:
        super().__init__()
        self.rows = rows

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2))
        for key, description in self.rows:
            table.add_row(f"[b]{key}[/b]", description)
        with Vertical():
            yield Static("[b]arc-console keys[/b]\n")
            yield Static(table)
            yield Static("\nGrids use the ARC palette; 'g' adds digits for colour-blind reading.\n"
                         "Ctrl+P opens the command palette. Esc closes this help.")

    def action_close(self) -> None:
        self.dismiss(None)
