"""ARC grids as rows of terminal cells: background-coloured cells in the official palette.

A grid is drawn at a scale: scale s >= 1 draws a cell 2s characters wide and s rows high (a terminal
character is about twice as tall as it is wide, so the cell looks square); scale 0 ("compact") draws a
cell one character wide and half a row high with the upper-half block, so a 30x30 grid fits 30x15.
The candidates panel picks the largest scale that its room allows (widgets/card_layout.py).
"""

from collections.abc import Iterable
from functools import lru_cache

from rich.segment import Segment
from rich.style import Style
from rich.text import Text

from arc_console.arc.grids import Grid


# fchollet/ARC apps/css/common.css. Themes never change what a colour number means.
ARC_PALETTE = ["#000000", "#0074D9", "#FF4136", "#2ECC40", "#FFDC00", "#AAAAAA", "#F012BE", "#FF851B", "#7FDBFF",
               "#870C25"]
WRONG_CELL = "#FFFFFF"  # not an ARC colour, so a wrong cell in the diff view cannot be mistaken for one
_DARK_TEXT = {3, 4, 5, 8}  # colours light enough for black digits


def _digit_colour(value: int) -> str:
    return "#000000" if value in _DARK_TEXT else "#FFFFFF"


COMPACT = 0  # the half-block scale
FULL = 1  # two characters by one row a cell: the default where nothing chooses


def grid_size(grid: Grid, scale: int) -> tuple[int, int]:
    """(width, height) in terminal cells."""
    rows, cols = len(grid), max((len(r) for r in grid), default=0)
    if scale <= COMPACT:
        return cols, (rows + 1) // 2
    return cols * 2 * scale, rows * scale


def _wrong(grid: Grid, target: Grid | None, r: int, c: int) -> bool:
    if target is None:
        return False
    return r >= len(target) or c >= len(target[r]) or target[r][c] != grid[r][c]


@lru_cache(maxsize=None)
def _style(color: str | None, bgcolor: str | None, bold: bool = False) -> Style:
    return Style(color=color, bgcolor=bgcolor, bold=bold)


def _cell(value: int, wrong: bool, scale: int, digits: bool) -> list[tuple[str, Style]]:
    """One cell at scale >= 1: its `scale` rows of 2 * scale characters, the mark (digit, or ×× for a wrong
    cell in the diff view) on the middle row."""
    width = 2 * scale
    if wrong:
        mark, style = (f"×{value}" if digits else "××"), _style("#000000", WRONG_CELL, True)
    else:
        mark, style = (f" {value}" if digits else ""), _style(_digit_colour(value), ARC_PALETTE[value])
    middle = (scale - 1) // 2
    return [((mark.center(width) if row == middle and mark else " " * width), style) for row in range(scale)]


def grid_rows(grid: Grid, scale: int = FULL, digits: bool = False, diff_against: Grid | None = None) -> list[list[Segment]]:
    """The grid's terminal rows as Segments, neighbouring cells of one style joined into one Segment."""
    rows: list[list[Segment]] = []
    if not grid:
        return rows
    if scale > COMPACT:
        for r, row in enumerate(grid):
            cells = [_cell(value, _wrong(grid, diff_against, r, c), scale, digits) for c, value in enumerate(row)]
            for line in range(scale):
                rows.append(_joined(cell[line] for cell in cells))
        return rows
    for r in range(0, len(grid), 2):
        top, bottom = grid[r], grid[r + 1] if r + 1 < len(grid) else None
        pieces = []
        for c, value in enumerate(top):
            upper = WRONG_CELL if _wrong(grid, diff_against, r, c) else ARC_PALETTE[value]
            if bottom is None:
                pieces.append(("▀", _style(upper, None)))
            else:
                lower = WRONG_CELL if _wrong(grid, diff_against, r + 1, c) else ARC_PALETTE[bottom[c]]
                pieces.append(("▀", _style(upper, lower)))
        rows.append(_joined(pieces))
    return rows


def _joined(pieces: Iterable[tuple[str, Style]]) -> list[Segment]:
    segments: list[Segment] = []
    text, current = "", None
    for piece, style in pieces:
        if style is not current and text:
            segments.append(Segment(text, current))
            text = ""
        text += piece
        current = style
    if text:
        segments.append(Segment(text, current))
    return segments


def render_grid(grid: Grid, scale: int = FULL, digits: bool = False, diff_against: Grid | None = None) -> Text:
    """The grid as rich Text (replay --print); grid_rows draws it."""
    text = Text(no_wrap=True, overflow="crop")
    for index, row in enumerate(grid_rows(grid, scale, digits, diff_against)):
        if index:
            text.append("\n")
        for segment in row:
            text.append(segment.text, segment.style)
    return text
