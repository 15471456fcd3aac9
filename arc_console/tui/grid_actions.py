"""Key actions every screen that shows candidates shares: diff view and digits in cells."""

from __future__ import annotations

from arc_console.tui.widgets.candidates import CandidatesPanel


class GridViewActions:
    """Mixed into a Screen that holds its `candidates_panel`."""

    candidates_panel: CandidatesPanel

    def action_toggle_diff(self) -> None:
        self.candidates_panel.diff = not self.candidates_panel.diff
        self.candidates_panel.refresh_cards()

    def action_toggle_digits(self) -> None:
        self.candidates_panel.digits = not self.candidates_panel.digits
        self.candidates_panel.refresh_cards()
