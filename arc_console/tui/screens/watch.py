"""The watch screen: the dashboard attached read-only to a run directory; its keys stop nothing."""

from __future__ import annotations

from textual.binding import Binding

from arc_console.tui.screens.dashboard import VIEW_BINDINGS, DashboardScreen


class WatchScreen(DashboardScreen):
    TITLE = "arc-console watch"
    WATCHING = True
    BINDINGS = [
        Binding("q", "close", "Quit", id="quit", tooltip="quit (the run goes on)"),
        Binding("ctrl+c", "close", "Quit", show=False, priority=True, id="quit-now", key_display="Ctrl+C",
                tooltip="quit, as q does"),
        *VIEW_BINDINGS,
    ]

    def action_close(self) -> None:
        self.app.exit(0 if self.failure is None else 1)

    def stop_now(self) -> None:
        self.action_close()
