"""One ARC grid in a bordered card: the title says what it is, the subtitle how it scored."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from arc_console.tui.grid_render import Grid, grid_size, render_grid

CARD_CHROME = (4, 2)  # border + padding: extra (columns, rows) around the grid


def _frozen(grid: Grid | None) -> tuple | None:
    return None if grid is None else tuple(map(tuple, grid))


class GridCard(Static):
    DEFAULT_CSS = """
    GridCard { width: auto; min-width: 14; height: auto; border: round $panel-lighten-2; padding: 0 1; margin: 0 1 0 0; }
    GridCard.best { border: heavy $success; }
    GridCard.perfect { border: double $success; }
    GridCard.pending { color: $text-muted; }
    GridCard.selected { border: heavy $accent; }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__("", **kwargs)
        self.grid_data: Grid | None = None
        self._shown: tuple | None = None

    def show_grid(self, grid: Grid | None, title: str, subtitle: str = "", mode: str = "full", digits: bool = False,
                  diff_against: Grid | None = None, note: str = "") -> None:
        # Redraws come several times a second; an unchanged card must not cost a layout pass.
        key = (title, subtitle, mode, digits, note, _frozen(grid), _frozen(diff_against))
        if key == self._shown:
            return
        self._shown = key
        self.grid_data = grid
        self.border_title = Text(title)
        self.border_subtitle = Text(subtitle)
        if grid:
            self.update(render_grid(grid, mode, digits, diff_against))
        else:
            self.update(Text(note or "no grid", style="italic"))

    @staticmethod
    def card_size(grid: Grid | None, mode: str) -> tuple[int, int]:
        width, height = grid_size(grid, mode) if grid else (8, 1)
        return width + CARD_CHROME[0] + 1, height + CARD_CHROME[1]
