"""The train command's dashboard run without a terminal, from a test: the console the command builds, run by
Textual's headless driver at 160x50 and closed with q once the run has finished, as a user closes it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest.mock import patch


@contextmanager
def headless_consoles(size: tuple[int, int] = (160, 50)) -> Iterator[None]:
    """While active, every ConsoleApp runs headless (its signal handlers left to the test process's)."""
    from arc_console.tui.app import ConsoleApp

    run = ConsoleApp.run

    async def quit_when_finished(pilot: Any) -> None:
        while pilot.app.view.finished is None and pilot.app.dashboard.failure is None:
            await pilot.pause(0.1)
        await pilot.press("q")

    def run_headless(app: ConsoleApp, *args: Any, **kwargs: Any) -> Any:
        app.handle_signals = False
        return run(app, headless=True, size=size, auto_pilot=quit_when_finished)

    with patch.object(ConsoleApp, "run", run_headless):
        yield
