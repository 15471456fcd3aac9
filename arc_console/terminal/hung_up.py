"""What a Textual app does when its terminal may have hung up (SIGHUP): see engine/stop_signals.py."""

from __future__ import annotations

from textual.app import App

from arc_console.engine.stop_signals import detach_from_hung_up_terminal


def leave_hung_up_terminal(app: App) -> None:
    """Where the terminal is gone, drawing goes to /dev/null and the app stops reading input (a hung-up
    terminal reads as an endless end of file). A terminal still there is left alone."""
    if detach_from_hung_up_terminal():
        disable_input = getattr(app._driver, "disable_input", None)
        if disable_input is not None:
            disable_input()
