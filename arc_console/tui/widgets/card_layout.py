"""How the candidates panel lays out its cards: the scale of their cells and how many share a row.

Pure arithmetic over the cards' sizes, so that the choice is tested without a terminal. The cards sit
in a grid, row by row (input, target, then the candidates); a column is as wide as its widest card and
a row as tall as its tallest. The largest scale at which every card fits the room wins; among the ways
to fit at that scale, the one with the fewest rows, as evenly filled as they can be. Where not even the smallest cells fit, the cards
take one row that scrolls sideways, at the largest scale that widens no card (a small grid's card is as
wide as its title whatever the scale) and fits the height.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from arc_console.tui.grid_render import COMPACT

MAX_SCALE = 4  # cells 8 characters by 4 rows: larger looks like a test pattern, not a puzzle
COLUMN_GAP = 1  # cells between two columns of cards
SCROLLBAR_ROWS = 1  # a row that scrolls sideways gives this to its scrollbar

# A card's (width, height) in terminal cells at a scale.
CardSizes = Callable[[int], list[tuple[int, int]]]


@dataclass(frozen=True)
class CardLayout:
    scale: int  # grid_render's scale: 0 compact, s >= 1 cells of 2s characters by s rows
    columns: int  # cards in a row
    scrolls: bool = False  # one row wider than the room: it scrolls sideways


def grid_extent(sizes: list[tuple[int, int]], columns: int) -> tuple[int, int]:
    """The (width, height) that `sizes` take laid out `columns` to a row."""
    widths = [0] * columns
    heights: list[int] = []
    for index, (width, height) in enumerate(sizes):
        column, row = index % columns, index // columns
        widths[column] = max(widths[column], width)
        if row == len(heights):
            heights.append(0)
        heights[row] = max(heights[row], height)
    used = [w for w in widths if w]
    return sum(used) + COLUMN_GAP * max(0, len(used) - 1), sum(heights)


def choose_layout(card_sizes: CardSizes, width: int, height: int, smallest: int = COMPACT) -> CardLayout:
    """The largest scale (then the fewest rows) at which every card fits `width` x `height`; `smallest`: the
    smallest scale allowed (digits need two characters a cell)."""
    count = len(card_sizes(smallest))
    if count == 0 or width <= 0 or height <= 0:
        return CardLayout(smallest, max(1, count))
    for scale in range(MAX_SCALE, smallest - 1, -1):
        sizes = card_sizes(scale)
        for columns in range(count, 0, -1):
            used_width, used_height = grid_extent(sizes, columns)
            if used_width <= width and used_height <= height:
                return CardLayout(scale, _balanced(sizes, columns, width, height))
    compact = card_sizes(smallest)
    scale = smallest
    for larger in range(smallest + 1, MAX_SCALE + 1):
        sizes = card_sizes(larger)
        if any(w > w0 for (w, _), (w0, _) in zip(sizes, compact)) or max(h for _, h in sizes) > height - SCROLLBAR_ROWS:
            break
        scale = larger
    return CardLayout(scale, count, scrolls=True)


def _balanced(sizes: list[tuple[int, int]], columns: int, width: int, height: int) -> int:
    """As few columns as keep the rows as few (9 cards in rows of 5 and 4, not 8 and 1), where they fit."""
    rows = -(-len(sizes) // columns)
    even = -(-len(sizes) // rows)
    used_width, used_height = grid_extent(sizes, even)
    return even if used_width <= width and used_height <= height else columns


def cards_out_of_view(sizes: list[tuple[int, int]], width: int) -> int:
    """In one row scrolled to its start: how many cards, from the right, do not fit in `width` columns."""
    used = -COLUMN_GAP
    for index, (card_width, _) in enumerate(sizes):
        used += COLUMN_GAP + card_width
        if used > width:
            return len(sizes) - index
    return 0
