"""ARC grids as rich Text: background-coloured cells in the official palette.

Three sizes: "large" draws a cell four characters wide and two rows high (small grids, where there
is room); "full" two characters wide and one row (so it looks square); "compact" one character per
cell and two rows per line with the upper-half block, so a 30x30 grid fits 30x15.
"""

from __future__ import annotations

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


def grid_size(grid: Grid, mode: str) -> tuple[int, int]:
    """(width, height) in terminal cells."""
    rows, cols = len(grid), max((len(r) for r in grid), default=0)
    if mode == "large":
        return cols * 4, rows * 2
    if mode == "full":
        return cols * 2, rows
    return cols, (rows + 1) // 2


def _wrong(grid: Grid, target: Grid | None, r: int, c: int) -> bool:
    if target is None:
        return False
    return r >= len(target) or c >= len(target[r]) or target[r][c] != grid[r][c]


def render_grid(grid: Grid, mode: str = "full", digits: bool = False, diff_against: Grid | None = None) -> Text:
    text = Text(no_wrap=True, overflow="crop")
    if not grid:
        return text
    if mode == "large":
        for r, row in enumerate(grid):
            for half in range(2):
                for c, value in enumerate(row):
                    if _wrong(grid, diff_against, r, c):
                        text.append(" ×× ", Style(color="#000000", bgcolor=WRONG_CELL, bold=True))
                    else:
                        label = f" {value}  " if digits and half == 0 else "    "
                        text.append(label, Style(color=_digit_colour(value), bgcolor=ARC_PALETTE[value]))
                if r < len(grid) - 1 or half == 0:
                    text.append("\n")
        return text
    if mode == "full":
        for r, row in enumerate(grid):
            for c, value in enumerate(row):
                if _wrong(grid, diff_against, r, c):
                    text.append("××" if not digits else f"×{value}", Style(color="#000000", bgcolor=WRONG_CELL, bold=True))
                else:
                    text.append(f" {value}" if digits else "  ",
                                Style(color=_digit_colour(value), bgcolor=ARC_PALETTE[value]))
            if r < len(grid) - 1:
                text.append("\n")
        return text
    for r in range(0, len(grid), 2):
        top, bottom = grid[r], grid[r + 1] if r + 1 < len(grid) else None
        for c, value in enumerate(top):
            upper = WRONG_CELL if _wrong(grid, diff_against, r, c) else ARC_PALETTE[value]
            if bottom is None:
                text.append("▀", Style(color=upper))
            else:
                lower = WRONG_CELL if _wrong(grid, diff_against, r + 1, c) else ARC_PALETTE[bottom[c]]
                text.append("▀", Style(color=upper, bgcolor=lower))
        if r + 2 < len(grid):
            text.append("\n")
    return text
