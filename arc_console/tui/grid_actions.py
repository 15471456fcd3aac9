"""Key actions the live console and replay share: diff view, digits, next theme."""

from __future__ import annotations

from arc_console.tui.textsafe import one_line
from arc_console.tui.widgets.candidates import CandidatesPanel


class GridViewActions:
    """Mixed into an App that sets `candidates_panel` on mount and lists its `theme_names`."""

    candidates_panel: CandidatesPanel
    theme_names: list[str]

    def action_toggle_diff(self) -> None:
        self.candidates_panel.diff = not self.candidates_panel.diff
        self.candidates_panel.refresh_cards()

    def action_toggle_digits(self) -> None:
        self.candidates_panel.digits = not self.candidates_panel.digits
        self.candidates_panel.refresh_cards()

    def action_next_theme(self) -> None:
        names = self.theme_names or [self.theme]  # type: ignore[attr-defined]
        position = names.index(self.theme) if self.theme in names else -1  # type: ignore[attr-defined]
        self.theme = names[(position + 1) % len(names)]  # type: ignore[attr-defined]
        self.notify(one_line(f"theme: {self.theme}"), timeout=2, markup=False)  # type: ignore[attr-defined]
