"""The grid type, its validation and its text form (the seed's: digits split by spaces, rows by newlines)."""

from __future__ import annotations

from typing import Any

Grid = list[list[int]]

MAX_SIDE = 30


class GridError(ValueError):
    """A value that is not a valid ARC grid."""


def validate_grid(value: Any, max_side: int = MAX_SIDE) -> Grid:
    """Return `value` as a grid, or raise GridError saying what is wrong with it."""
    if not isinstance(value, (list, tuple)) or not value:
        raise GridError("a grid must be a non-empty list of rows")
    if len(value) > max_side:
        raise GridError(f"a grid has at most {max_side} rows, this one has {len(value)}")
    rows: Grid = []
    width = None
    for r, row in enumerate(value):
        if not isinstance(row, (list, tuple)) or not row:
            raise GridError(f"row {r} is not a non-empty list")
        if width is None:
            width = len(row)
            if width > max_side:
                raise GridError(f"a grid has at most {max_side} columns, this one has {width}")
        elif len(row) != width:
            raise GridError(f"rows differ in length (row 0 has {width} cells, row {r} has {len(row)})")
        cells = []
        for c, cell in enumerate(row):
            if isinstance(cell, bool) or not isinstance(cell, int) or not 0 <= cell <= 9:
                raise GridError(f"cell ({r}, {c}) is {cell!r}, not a colour 0..9")
            cells.append(int(cell))
        rows.append(cells)
    return rows


def grid_shape(grid: Grid) -> tuple[int, int]:
    """(height, width) of a rectangular grid."""
    return len(grid), len(grid[0]) if grid else 0


def grid_to_text(grid: Grid) -> str:
    """The seed's text form: `0 1 2` per row, rows joined by newlines, no trailing newline."""
    return "\n".join(" ".join(str(cell) for cell in row) for row in grid)
