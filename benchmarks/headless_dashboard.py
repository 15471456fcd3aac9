"""The train command's dashboard in a benchmark, without a terminal: every ConsoleApp of this process runs on
Textual's headless driver at 160x50, every panel live, and is closed with q once its run has finished, as a
user closes it. It patches the app's `run`, so it works on any checkout the benchmark imports (a baseline
tree included), and the package needs no parameter for it."""

from __future__ import annotations

from typing import Any


class FrameCounter:
    """From its creation on, counts the frames Textual renders (every Screen._compositor_refresh) and changes
    nothing else."""

    def __init__(self) -> None:
        from textual.screen import Screen

        self.frames = 0
        render = Screen._compositor_refresh

        def counted(screen: Screen) -> None:
            self.frames += 1
            render(screen)

        Screen._compositor_refresh = counted


def run_consoles_headless(size: tuple[int, int] = (160, 50), poll_s: float = 1.0) -> None:
    """From now on ConsoleApp.run drives the app headless; `poll_s`: how often the pilot looks for the end
    (rarely: its own wake-ups are UI work the benchmarks measure)."""
    from arc_console.tui.app import ConsoleApp

    console_run = ConsoleApp.run

    async def quit_when_finished(pilot: Any) -> None:
        while pilot.app.view.finished is None and pilot.app.dashboard.failure is None:
            await pilot.pause(poll_s)
        await pilot.press("q")

    def run_headless(app: ConsoleApp, *args: Any, **kwargs: Any) -> Any:
        app.handle_signals = False  # the benchmark's process keeps its own signal handlers
        return console_run(app, headless=True, size=size, auto_pilot=quit_when_finished)

    ConsoleApp.run = run_headless
