"""Many cards in one widget: laid out in rows (card_layout), drawn into one strip per terminal row, scrolled
sideways where one row is wider than the room.

One widget on purpose: every Textual widget that repaints costs its own styling, messages and compositing,
and a step repaints every card; here a step's cards are one repaint of one widget, and each card is drawn
only when what it shows changes.
"""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from textual.geometry import Region, Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from arc_console.tui.widgets.card_layout import COLUMN_GAP
from arc_console.tui.widgets.grid_card import CardSpec, draw_card, theme_colours

# Cards drawn lately, kept for the next steps: a step's input, target and waiting cards come back whenever its
# problem does (and replay goes back and forth between steps).
DRAWN_CARDS_KEPT = 48


class CardsView(ScrollView):
    DEFAULT_CSS = "CardsView { height: 1fr; overflow: auto auto; }"

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.cards: list[CardSpec] = []
        self.columns = 1
        self.regions: list[Region] = []  # each card's place in the whole (scrolled) view
        self.note = ""  # shown, muted, where there are no cards
        self._rows: list[Strip] = []
        self._drawn: dict[CardSpec, list[list[Segment]]] = {}
        self._drawn_over: tuple[str, Style] | None = None  # (theme, background) the cards were drawn for
        self._base = Style()
        self._stale = True

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._invalidate())

    def on_unmount(self) -> None:
        self.app.theme_changed_signal.unsubscribe(self)

    def show(self, cards: list[CardSpec], columns: int, note: str = "") -> None:
        """Lay `cards` out `columns` to a row (input, target, candidates in reading order)."""
        if cards == self.cards and columns == self.columns and note == self.note:
            return
        self.cards, self.columns, self.note = list(cards), max(1, columns), note
        self.regions = self._place()
        width = max((region.right for region in self.regions), default=0)
        height = max((region.bottom for region in self.regions), default=0)
        self.virtual_size = Size(width, height)
        self._invalidate()

    def _invalidate(self) -> None:
        self._stale = True
        self.refresh()

    def _place(self) -> list[Region]:
        sizes = [card.size() for card in self.cards]
        widths = [0] * self.columns
        heights: list[int] = []
        for index, (width, height) in enumerate(sizes):
            column, row = index % self.columns, index // self.columns
            widths[column] = max(widths[column], width)
            if row == len(heights):
                heights.append(0)
            heights[row] = max(heights[row], height)
        lefts = [sum(widths[:column]) + COLUMN_GAP * column for column in range(self.columns)]
        tops = [sum(heights[:row]) for row in range(len(heights))]
        return [Region(lefts[index % self.columns], tops[index // self.columns], width, height)
                for index, (width, height) in enumerate(sizes)]

    def _draw(self) -> None:
        """Every terminal row of the view as one strip (a card's rows where it stands, blanks elsewhere)."""
        base = self.rich_style  # the background behind the cards (asked once: it walks the ancestors)
        if (self.app.theme, base) != self._drawn_over:
            self._drawn_over, self._drawn = (self.app.theme, base), {}
        colours = theme_colours(self)
        drawn = self._drawn
        for card in self.cards:  # the most recently shown last
            drawn[card] = drawn.pop(card, None) or draw_card(card, colours, base)
        for stale in list(drawn)[:max(0, len(drawn) - max(DRAWN_CARDS_KEPT, len(self.cards)))]:
            del drawn[stale]
        pieces: list[list[tuple[int, int, list[Segment]]]] = [[] for _ in range(self.virtual_size.height)]
        for card, region in zip(self.cards, self.regions):
            for offset, segments in enumerate(drawn[card]):
                pieces[region.y + offset].append((region.x, region.width, segments))  # each row as wide as its card
        rows: list[Strip] = []
        total = self.virtual_size.width
        for row_pieces in pieces:
            segments: list[Segment] = []
            x = 0
            for left, width, card_segments in sorted(row_pieces, key=lambda piece: piece[0]):
                if left > x:
                    segments.append(Segment(" " * (left - x), base))
                segments.extend(card_segments)
                x = left + width
            if total > x:
                segments.append(Segment(" " * (total - x), base))
            rows.append(Strip(segments, max(total, x)))
        if not self.cards and self.note:
            rows = [Strip([Segment(f"  {self.note}", base + Style(color=colours["foreground-muted"]))])]
        self._rows, self._base = rows, base
        self._stale = False

    def render_line(self, y: int) -> Strip:
        if self._stale:
            self._draw()
        scroll_x, scroll_y = self.scroll_offset
        width = self.scrollable_content_region.width
        index = y + scroll_y
        row = self._rows[index] if index < len(self._rows) else Strip.blank(0)
        if scroll_x == 0 and row.cell_length == width:
            return row
        return row.crop_extend(scroll_x, scroll_x + width, self._base)
