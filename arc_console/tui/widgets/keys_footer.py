"""The footer of every arc-console screen: its keys, with `? Help` at the right end so that it is always in
view, however many keys the width cuts off; closer together in a narrow terminal. No command palette key
(as posting and harlequin): Ctrl+P still opens the palette, and the help says so.

Textual's Footer composes its keys anew (a dozen widgets mounted and styled, then a layout pass) whenever the screen
says its bindings may have changed, which it says at every focus change and every refresh_bindings; this one does
so only when the keys it would show differ from those it shows."""

from __future__ import annotations

from typing import Any

from textual import events
from textual.app import ComposeResult
from textual.screen import Screen
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
        self._composed_keys: tuple[Any, ...] | None = None

    @staticmethod
    def shown_keys(screen: Screen) -> tuple[Any, ...]:
        """What the footer shows of the screen's bindings: each key, its label, action and whether it is enabled."""
        return tuple((binding.key, binding.key_display, binding.description, binding.action, enabled, tooltip)
                     for _, binding, enabled, tooltip in screen.active_bindings.values() if binding.show)

    def bindings_changed(self, screen: Screen) -> None:
        if self._composed_keys is not None and self._bindings_ready and self.is_attached and screen is self.screen \
                and self.shown_keys(screen) == self._composed_keys:
            return
        super().bindings_changed(screen)

    def compose(self) -> ComposeResult:
        if self._bindings_ready:
            self._composed_keys = self.shown_keys(self.screen)
        for widget in super().compose():
            if isinstance(widget, FooterKey) and widget.action == HELP_ACTION:
                widget.add_class("-help")
            yield widget

    def on_resize(self, event: events.Resize) -> None:
        self.compact = event.size.width < NARROW_COLUMNS
