"""The footer of every arc-console screen: its keys, with `? Help` at the right end so that it is always in
view, however many keys the width cuts off; closer together in a narrow terminal. No command palette key
(as posting and harlequin): Ctrl+P still opens the palette, and the help says so."""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

NARROW_COLUMNS = 100  # below this width the keys sit closer together (Footer.compact)
HELP_ACTION = "help"


class KeysFooter(Footer):
    DEFAULT_CSS = """
    KeysFooter FooterKey.-help { dock: right; margin: 0; }  /* a margin would show the keys under it */
    KeysFooter.-compact FooterKey.-help { padding-right: 1; }
    KeysFooter.-compact FooterLabel { margin: 0 1 0 0; }  /* "←→ Candidate q Quit", not "Candidateq" */
    """

    def __init__(self) -> None:
        super().__init__(show_command_palette=False)

    def compose(self) -> ComposeResult:
        for widget in super().compose():
            if isinstance(widget, FooterKey) and widget.action == HELP_ACTION:
                widget.add_class("-help")
            yield widget

    def on_resize(self, event: events.Resize) -> None:
        self.compact = event.size.width < NARROW_COLUMNS
