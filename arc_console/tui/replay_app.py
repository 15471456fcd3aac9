"""`arc-console replay`: the App around the replay screen (themes and size classes; nothing else)."""

from __future__ import annotations

from pathlib import Path

from arc_console.rundir.files import StepFile
from arc_console.tui.screens.replay import ReplayScreen
from arc_console.tui.themed_app import ThemedApp

__all__ = ["ReplayApp"]


class ReplayApp(ThemedApp):
    # The replay screen's stylesheet. Textual loads a screen's own CSS when it is pushed, not when it
    # is the default screen, so the App names it.
    CSS_PATH = "replay.tcss"
    TITLE = "arc-console replay"

    def __init__(self, files: list[StepFile], index: int, run_dir: Path | None, theme: str | None = None) -> None:
        super().__init__(theme)
        self.replay = ReplayScreen(files, index, run_dir)

    def get_default_screen(self) -> ReplayScreen:
        return self.replay
