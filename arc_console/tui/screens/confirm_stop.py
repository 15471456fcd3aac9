"""Asks before stopping a run: y or Enter confirms, n or Esc cancels."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static


class ConfirmStop(ModalScreen[bool]):
    DEFAULT_CSS = """
    ConfirmStop { align: center middle; }
    ConfirmStop > Vertical { width: 64; height: auto; border: thick $warning; background: $surface; padding: 1 2; }
    """
    BINDINGS = [
        # Ctrl+C stops without asking everywhere, so here it answers yes.
        Binding("y,enter,ctrl+c", "confirm", "Stop the run", id="confirm-stop"),
        Binding("n,escape", "cancel", "Keep training", id="cancel-stop"),
    ]

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("[b]Stop training?[/b]")
            yield Static("Generation stops now; a checkpoint and the final model are saved, then the console closes.")
            yield Static("[b]y[/b]/Enter stop    [b]n[/b]/Esc keep training")

    def action_confirm(self) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)
