"""One ARC grid in a bordered card: the title says what it is, the subtitle how it scored."""

from __future__ import annotations

from rich.text import Text
from textual.strip import Strip
from textual.widget import Widget

from arc_console.tui.grid_render import Grid, grid_size, render_grid

CARD_CHROME = (4, 2)  # border + padding: extra (columns, rows) around the grid
TITLE_CHROME = 6  # a border title or subtitle shows whole in a card this much wider than the text


def _frozen(grid: Grid | None) -> tuple | None:
    return None if grid is None else tuple(map(tuple, grid))


class GridCard(Widget):
    """Sized explicitly from its grid, so a new grid of the same size costs a repaint, not a layout pass
    (a layout pass re-renders the whole screen: most of what the dashboard cost the trainer). The grid
    is turned into lines of segments once per change and served through the line API, which skips
    Textual's per-repaint conversion of a styled Text (a hundred styled spans a card)."""

    MIN_WIDTH = 14
    DEFAULT_CSS = """
    GridCard { width: 14; height: 3; border: round $panel-lighten-2; padding: 0 1; margin: 0 1 0 0; }
    GridCard.best { border: heavy $success; }
    GridCard.perfect { border: double $success; }
    GridCard.pending { color: $text-muted; }
    GridCard.selected { border: thick $accent; }
    """

    def __init__(self, fit_titles: bool = False, **kwargs: object) -> None:
        """fit_titles: widen the card until its title and subtitle show whole (where few cards share a row)."""
        super().__init__(**kwargs)
        self.fit_titles = fit_titles
        self.grid_data: Grid | None = None
        self._shown: tuple | None = None
        self._lines: list[Strip] = []
        self._box: tuple[int, int] | None = None

    def render_line(self, y: int) -> Strip:
        line = self._lines[y] if y < len(self._lines) else Strip.blank(0)
        return line.apply_style(self.rich_style)

    def _set_content(self, text: Text) -> None:
        console = self.app.console
        self._lines = [Strip(list(line.render(console, end="")), line.cell_len)
                       for line in text.split("\n", allow_blank=True)]

    def show_grid(self, grid: Grid | None, title: str, subtitle: str = "", mode: str = "full", digits: bool = False,
                  diff_against: Grid | None = None, note: str = "", reserve: Grid | None = None,
                  title_cells: int = 0) -> None:
        """reserve: without a grid, take the size this grid would (the target's, so that a pending
        card does not change size, and the screen's layout, when its answer arrives). title_cells: with
        fit_titles, room for a title this long even when the title is shorter (a mark that comes and goes)."""
        # Redraws come several times a second; an unchanged card must not cost a layout pass.
        key = (title, subtitle, mode, digits, note, _frozen(grid), _frozen(diff_against), _frozen(reserve), title_cells)
        if key == self._shown:
            return
        self._shown = key
        self.grid_data = grid
        self.border_title = Text(title)
        self.border_subtitle = Text(subtitle)
        if grid:
            self._set_content(render_grid(grid, mode, digits, diff_against))
            width, height = grid_size(grid, mode)
        else:
            content = Text.assemble((note or "no grid", "italic"))
            self._set_content(content)
            width, height = grid_size(reserve, mode) if reserve else (0, 0)
            width, height = max(width, content.cell_len), max(height, 1)
        titles = max(Text(title).cell_len, Text(subtitle).cell_len, title_cells) + TITLE_CHROME if self.fit_titles else 0
        box = (max(self.MIN_WIDTH, width + CARD_CHROME[0], titles), height + CARD_CHROME[1])
        if box != self._box:
            self._box = box
            self.styles.width, self.styles.height = box  # a layout pass, only when the size changes
        self.refresh()

    @staticmethod
    def card_size(grid: Grid | None, mode: str, titles: int = 0) -> tuple[int, int]:
        """The space a card takes, its right margin included; `titles`: the cells of its longer title,
        for a card that fits its titles."""
        width, height = grid_size(grid, mode) if grid else (8, 1)
        fitted = titles + TITLE_CHROME if titles else 0
        return max(GridCard.MIN_WIDTH, width + CARD_CHROME[0], fitted) + 1, height + CARD_CHROME[1]
