"""One ARC grid in a framed card: the title says what it is, the subtitle how it scored, the frame whether it
is the best, a perfect answer or the one selected.

A card is drawn, frame and titles included, into rows of Segments by draw_card, once per change: the
candidates panel lays many out in one widget (cards_view.py); GridCard shows one (the eval console).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.color import Color as RichColor
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.color import Color
from textual.strip import Strip
from textual.widget import Widget

from arc_console.tui.grid_render import FULL, Grid, grid_rows, grid_size

CARD_CHROME = (4, 2)  # frame + padding: extra (columns, rows) around the grid
TITLE_CHROME = 6  # a title or subtitle shows whole in a card this much wider than the text
MIN_CARD_WIDTH = 14

# (top, side, bottom) of each frame: left corner or side, edge, right corner or side.
FRAMES = {
    "round": ("╭─╮", "│ │", "╰─╯"),
    "heavy": ("┏━┓", "┃ ┃", "┗━┛"),
    "double": ("╔═╗", "║ ║", "╚═╝"),
    "thick": ("█▀█", "█ █", "█▄█"),
}
# The theme's colour variables the frames are drawn in.
FRAME_COLOURS = ("panel-lighten-2", "success", "accent", "foreground-muted")

FrozenGrid = tuple[tuple[int, ...], ...]
ITALIC = Style(italic=True)


def freeze(grid: Grid | None) -> FrozenGrid | None:
    return None if grid is None else tuple(map(tuple, grid))


@dataclass(frozen=True)
class Marks:
    """What the frame says: the best candidate (heavy), a perfect answer (double), replay's selection (thick);
    pending: waiting for its answer (muted). The later of these wins the frame."""

    best: bool = False
    perfect: bool = False
    selected: bool = False
    pending: bool = False

    def frame(self) -> tuple[str, str]:
        """(frame name, theme colour variable)."""
        if self.selected:
            return "thick", "accent"
        if self.perfect:
            return "double", "success"
        if self.best:
            return "heavy", "success"
        return "round", "panel-lighten-2"


@dataclass(frozen=True)
class CardSpec:
    """Everything a card shows; equal specs draw equal cards."""

    grid: FrozenGrid | None
    title: str
    subtitle: str = ""
    scale: int = FULL
    digits: bool = False
    diff_against: FrozenGrid | None = None
    note: str = ""  # shown without a grid ("no grid" where empty)
    reserve: FrozenGrid | None = None  # without a grid, take the size this grid would (the target's)
    title_cells: int = 0  # with fit_titles, room for a title this long (a mark that comes and goes)
    fit_titles: bool = False  # widen the card until its title and subtitle show whole
    marks: Marks = field(default_factory=Marks)

    def content(self) -> list[list[Segment]]:
        """What the frame holds, row by row."""
        if self.grid:
            return grid_rows(self.grid, self.scale, self.digits, self.diff_against)
        return [[Segment(self.note or "no grid", ITALIC)]]

    def size(self) -> tuple[int, int]:
        """(width, height) in terminal cells, the frame included."""
        if self.grid:
            width, height = grid_size(self.grid, self.scale)
        else:
            width, height = grid_size(self.reserve, self.scale) if self.reserve else (0, 0)
            width, height = max(width, Text(self.note or "no grid").cell_len), max(height, 1)
        titles = (max(Text(self.title).cell_len, Text(self.subtitle).cell_len, self.title_cells) + TITLE_CHROME
                  if self.fit_titles else 0)
        return max(MIN_CARD_WIDTH, width + CARD_CHROME[0], titles), height + CARD_CHROME[1]


def card_size(grid: Grid | None, scale: int, titles: int = 0) -> tuple[int, int]:
    """The (width, height) a card of `grid` takes; `titles`: the cells of its longer title, for a card that fits
    its titles. A card without a grid is sized as its reserve: pass that grid."""
    width, height = grid_size(grid, scale) if grid else (8, 1)
    fitted = titles + TITLE_CHROME if titles else 0
    return max(MIN_CARD_WIDTH, width + CARD_CHROME[0], fitted), height + CARD_CHROME[1]


def theme_colours(widget: Widget) -> dict[str, RichColor]:
    """The frames' colours in the widget's app theme, as drawn over its background (a theme's may be translucent)."""
    _, background = widget.background_colors
    colours = {}
    for name in FRAME_COLOURS:
        try:
            colour = Color.parse(widget.app.theme_variables.get(name, "gray"))
        except ValueError:
            colour = Color.parse("gray")
        colours[name] = (background + colour).rich_color if colour.a < 1 else colour.rich_color
    return colours


def _cut(text: str, cells: int) -> str:
    return text if Text(text).cell_len <= cells else Text(text)[: max(0, cells - 1)].plain + "…"


def _label_row(label: str, edge: str, inner: int, left: bool) -> str:
    """`inner` cells of edge with " label " one cell in from the left (a title) or the right (a subtitle)."""
    if not label or inner < 5:
        return edge * inner
    shown = f" {_cut(label, inner - 4)} "
    rest = inner - 1 - Text(shown).cell_len
    return edge + shown + edge * rest if left else edge * rest + shown + edge


def draw_card(spec: CardSpec, colours: dict[str, RichColor], base: Style) -> list[list[Segment]]:
    """The card's rows: frame, titles, and the content inside one column of padding, over `base` (the
    background behind the card) wherever the grid does not colour the cell itself."""
    width, height = spec.size()
    name, colour = spec.marks.frame()
    frame_style = base + Style(color=colours[colour])
    muted = Style(color=colours["foreground-muted"]) if spec.marks.pending else None
    (top_left, top_edge, top_right), (side, _, _), (bottom_left, bottom_edge, bottom_right) = FRAMES[name]
    inner = width - 2
    content = spec.content()
    rows = [[Segment(top_left + _label_row(spec.title, top_edge, inner, left=True) + top_right, frame_style)]]
    for row in range(height - 2):
        segments = content[row] if row < len(content) else []
        used = sum(segment.cell_length for segment in segments)
        body = [segment if segment.style is not None and segment.style.bgcolor is not None
                else Segment(segment.text, base + (segment.style or Style()) + (muted or Style()))
                for segment in segments]
        rows.append([Segment(side + " ", frame_style), *body, Segment(" " * max(0, inner - 2 - used), base),
                     Segment(" " + side, frame_style)])
    rows.append([Segment(bottom_left + _label_row(spec.subtitle, bottom_edge, inner, left=False) + bottom_right,
                         frame_style)])
    return rows


class GridCard(Widget):
    """One card as a widget (the eval console's); sized explicitly from its grid, so a new grid of the same
    size costs a repaint, not a layout pass."""

    DEFAULT_CSS = f"GridCard {{ width: {MIN_CARD_WIDTH}; height: 3; margin: 0 1 0 0; }}"

    def __init__(self, fit_titles: bool = False, **kwargs: object) -> None:
        """fit_titles: widen the card until its title and subtitle show whole (where few cards share a row)."""
        super().__init__(**kwargs)
        self.fit_titles = fit_titles
        self.grid_data: Grid | None = None
        self.spec = CardSpec(None, "", fit_titles=fit_titles)
        self._lines: list[Strip] = []
        self._drawn: tuple[str, CardSpec] | None = None
        self._box: tuple[int, int] | None = None

    @property
    def card_title(self) -> str:
        return self.spec.title

    @property
    def card_subtitle(self) -> str:
        return self.spec.subtitle

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self.refresh())

    def on_unmount(self) -> None:
        self.app.theme_changed_signal.unsubscribe(self)

    def render_line(self, y: int) -> Strip:
        if self._drawn != (self.app.theme, self.spec):  # drawn once per change, whichever line is asked first
            self._drawn = (self.app.theme, self.spec)
            self._lines = [Strip(row) for row in draw_card(self.spec, theme_colours(self), self.rich_style)]
        return self._lines[y] if y < len(self._lines) else Strip.blank(self.size.width, self.rich_style)

    def mark(self, best: bool = False, perfect: bool = False, selected: bool = False, pending: bool = False) -> None:
        self._show(CardSpec(**{**self.spec.__dict__, "marks": Marks(best, perfect, selected, pending)}))

    def show_grid(self, grid: Grid | None, title: str, subtitle: str = "", scale: int = FULL, digits: bool = False,
                  diff_against: Grid | None = None, note: str = "", reserve: Grid | None = None) -> None:
        self.grid_data = grid
        self._show(CardSpec(freeze(grid), title, subtitle, scale, digits, freeze(diff_against), note, freeze(reserve),
                            fit_titles=self.fit_titles, marks=self.spec.marks))

    def _show(self, spec: CardSpec) -> None:
        if spec == self.spec and self._box is not None:
            return
        self.spec = spec
        if spec.size() != self._box:
            self._box = spec.size()
            self.styles.width, self.styles.height = self._box  # a layout pass, only when the size changes
        self.refresh()
