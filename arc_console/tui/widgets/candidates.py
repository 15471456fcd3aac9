"""The current step: test input, target and every candidate as coloured grids, best highlighted."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from arc_console.tui.grid_render import COMPACT, FULL, Grid
from arc_console.terminal.textsafe import one_line, safe_text, visible
from arc_console.tui.widgets.card_layout import CardLayout, cards_out_of_view, choose_layout
from arc_console.tui.widgets.cards_view import CardsView
from arc_console.tui.widgets.frame_labels import FrameLabels
from arc_console.tui.widgets.grid_card import CardSpec, Marks, card_size, freeze


def candidate_badges(candidate: dict[str, Any], best_id: int | None) -> str:
    if not candidate.get("has_grid"):
        return "—"
    marks = []
    if candidate.get("candidate_id") == best_id:
        marks.append("★")
    if candidate.get("perfect_match"):
        marks.append("✓")
    elif not candidate.get("correct_size"):
        marks.append("▢")
    return f"{candidate.get('accuracy', 0.0):.2f} {' '.join(marks)}".strip()


SELECTED_MARK = "▶ "  # replay: before the selected candidate's label
LEGEND_FRAME_CELLS = 6  # a border subtitle's corners, rules and spaces: "╰─ " ... " ─╯"


def legend_variants(out_of_view: str, selected: bool, diff: bool) -> list[str]:
    """The cards' legend from longest to shortest: first without what the borders mean, then without the
    rarer marks, then with the best mark alone, then without "scroll sideways", then the cards out of view
    alone; `out_of_view` (the count of cards out of view: "← 2 more · 3 more →") stays in every one."""
    marks = "▶ selected  ★ best" if selected else "★ best"
    full = ("▶ selected (thick border)  ★ best (heavy border)" if selected else "★ best") + \
        "  ✓ perfect  ▢ wrong size  — no grid" + ("  · diff: ×× wrong cells" if diff else "")
    shorter = marks + "  ✓ perfect  ▢ wrong size  — no grid" + ("  · diff: ×× wrong cells" if diff else "")
    hint, bare_hint = (f"scroll sideways: {out_of_view}" if out_of_view else ""), out_of_view
    pairs = [(hint, full), (hint, shorter), (hint, marks + "  ✓ perfect"), (hint, "★ best"),
             (bare_hint, "★ best"), (bare_hint, "")]
    variants = ["  · ".join(part for part in pair if part) for pair in pairs]
    return list(dict.fromkeys(variant for variant in variants if variant))


def response_preview(candidate: dict[str, Any] | None, best_id: int | None, lines: int = 1) -> Text:
    """The start of a candidate's response in `lines` rows, as plain text (never markup or escapes)."""
    if candidate is None:
        return Text("")
    number = candidate.get("candidate_id")
    label = f"#{number}" + (" ★" if number == best_id else "") + " › "
    body = str(candidate.get("response_text", ""))
    if lines <= 1:
        return Text.assemble((label, "bold"), one_line(body, 400))
    shown = [line for line in visible(body).replace("\t", " ").splitlines() if line.strip()][:lines]
    return Text.assemble((label, "bold"), "\n".join(shown))


class CandidatesPanel(FrameLabels, Vertical):
    """The cards in rows, their cells as large as the room allows (card_layout), over the best response's
    text; one row scrolling sideways where even the smallest cells do not fit."""

    DEFAULT_CSS = """
    CandidatesPanel { height: 1fr; border: round $primary; padding: 0 1; }
    CandidatesPanel > #response { height: 1; color: $text-muted; text-wrap: nowrap; text-overflow: ellipsis; }
    .tall CandidatesPanel > #response { height: 8; text-wrap: wrap; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.border_title = "candidates"
        self.diff = False
        self.digits = False
        self.selected_id: int | None = None  # replay: the candidate whose text is shown
        self._state: tuple[int, str, Grid, Grid, list[float], list[dict[str, Any]], int | None] | None = None
        self._seen_as = ""
        self.layout_chosen = CardLayout(COMPACT, 1)  # the cards' scale and columns
        self._layout_key: tuple | None = None
        self._preview = Text("")
        self._title = Text("")
        self._legend: str | None = None

    def compose(self) -> ComposeResult:
        # The children are held, not queried: a redraw can race the app's shutdown, when queries find nothing.
        self.cards_view = CardsView(id="cards")
        self.cards_view.show([], 1, "waiting for the first step …")
        self._response = Static(id="response")
        yield self.cards_view
        yield self._response

    @property
    def candidate_cards(self) -> list[CardSpec]:
        """The candidates' cards as shown (after the input's and the target's)."""
        return self.cards_view.cards[2:]

    def show_step(self, step: int, problem_id: str, test_input: Grid, target: Grid, temperatures: list[float],
                  candidates: list[dict[str, Any]], best_id: int | None, seen_as: str = "") -> None:
        """`seen_as`: the view (--augment) the step's problem was shown under; its grids are the view's."""
        self._state = (step, problem_id, test_input, target, list(temperatures), list(candidates), best_id)
        self._seen_as = seen_as
        self.refresh_cards()

    def on_resize(self) -> None:
        self.refresh_cards()

    def refresh_cards(self) -> None:
        if self._state is None or not self.is_attached:
            return
        step, problem_id, test_input, target, temperatures, candidates, best_id = self._state
        count = max(len(temperatures), len(candidates))
        grids = [test_input, target] + [c.get("predicted_grid") for c in candidates] + [None] * (count - len(candidates))
        # Cards without a grid keep the target's size (their reserve), so they count as the target.
        sized = grids[:2] + [grid or target for grid in grids[2:]]
        labels = [self._label(index, temperatures, candidates) for index in range(count)]
        badges = [candidate_badges(candidates[index], best_id) if index < len(candidates) else ""
                  for index in range(count)]
        # The candidate cards widen to show their label and badges whole (the input's and target's fit);
        # in replay every label keeps room for the selection's mark, so moving it resizes no card.
        mark = len(SELECTED_MARK) if self.selected_id is not None else 0
        label_cells = [Text(label).cell_len + (0 if label.startswith(SELECTED_MARK) else mark) for label in labels]
        titles = [0, 0] + [max(cells, Text(badge).cell_len) for cells, badge in zip(label_cells, badges)]

        def card_sizes(scale: int) -> list[tuple[int, int]]:
            return [card_size(grid, scale, title) for grid, title in zip(sized, titles)]

        room = self.cards_view.outer_size  # scrollbars included: whether they show depends on the choice
        shapes = tuple((len(grid), max((len(row) for row in grid), default=0)) if grid else None for grid in sized)
        key = (shapes, tuple(titles), room, self.digits)
        if key != self._layout_key:  # the same shapes in the same room: the same layout (most steps)
            # Digits need two characters a cell.
            layout = choose_layout(card_sizes, room.width, room.height, smallest=FULL if self.digits else COMPACT)
            self._layout_key, self.layout_chosen = key, layout
        layout = self.layout_chosen
        scale = layout.scale
        title = Text.assemble(f"step {step} · ", safe_text(problem_id, 40), f" · input · target · {count} candidates")
        if self._seen_as:  # --augment: every grid here is the view's
            title.append_text(Text.assemble(" · as the model saw it: ", safe_text(self._seen_as, 40)))
        if title != self._title:
            self._title = title
            self.set_border_title(title)
        hidden = cards_out_of_view(card_sizes(scale), room.width) if layout.scrolls else 0
        self._show_legend(f"{hidden} more →" if hidden else "")
        frozen_target = freeze(target)
        cards = [CardSpec(freeze(test_input), "input", scale=scale, digits=self.digits),
                 CardSpec(frozen_target, "target", scale=scale, digits=self.digits)]
        for index in range(count):
            if index < len(candidates):
                candidate = candidates[index]
                marks = Marks(best=candidate.get("candidate_id") == best_id and bool(candidate.get("has_grid")),
                              perfect=bool(candidate.get("perfect_match")),
                              selected=candidate.get("candidate_id") == self.selected_id)
                cards.append(CardSpec(freeze(candidate.get("predicted_grid")), labels[index], badges[index], scale,
                                      self.digits, frozen_target if self.diff else None, reserve=frozen_target,
                                      title_cells=label_cells[index], fit_titles=True, marks=marks))
            else:
                cards.append(CardSpec(None, labels[index], "", scale, note="…", reserve=frozen_target,
                                      title_cells=label_cells[index], fit_titles=True, marks=Marks(pending=True)))
        self.cards_view.show(cards if target else [], layout.columns, "waiting for the first step …")

        wanted = self.selected_id if self.selected_id is not None else best_id
        shown = next((c for c in candidates if c.get("candidate_id") == wanted), candidates[-1] if candidates else None)
        preview = response_preview(shown, best_id, max(1, self._response.size.height))
        if preview != self._preview:
            self._preview = preview
            self._response.update(preview, layout=False)
        if self.selected_id is not None:
            self.call_after_refresh(self._scroll_to_selected)  # once the view has its new size

    def _show_legend(self, out_of_view: str) -> None:
        """The border's legend, as much of it as the border holds (legend_variants): a subtitle too long for
        it would be cut mid-word with an ellipsis."""
        variants = legend_variants(out_of_view, self.selected_id is not None, self.diff)
        room = self.outer_size.width - LEGEND_FRAME_CELLS
        # Before the first layout the longest; on_resize comes back with a width.
        legend = next((v for v in variants if Text(v).cell_len <= room), "") if self.outer_size.width else variants[0]
        if legend != self._legend:
            self._legend = legend
            self.set_border_subtitle(legend)

    def _scroll_to_selected(self) -> None:
        """Replay: bring the selected card into the view, and say which way the hidden cards lie."""
        if not self.is_attached:
            return
        view = self.cards_view
        regions = view.regions
        selected = next((index for index, card in enumerate(view.cards) if card.marks.selected), None)
        if selected is not None:  # with the input and the target beside it where they fit
            wanted = regions[selected]
            for first in regions[:2]:
                span = first.union(wanted)
                if span.width <= view.scrollable_content_region.width:
                    wanted = span
                    break
            view.scroll_to_region(wanted, animate=False, immediate=True, force=True)
        left = right = 0
        window_start, window_end = view.scroll_x, view.scroll_x + view.scrollable_content_region.width
        for region in regions:
            if region.x < window_start:
                left += 1
            elif region.right > window_end:
                right += 1
        notes = ([f"← {left} more"] if left else []) + ([f"{right} more →"] if right else [])
        self._show_legend(" · ".join(notes))

    def _label(self, index: int, temperatures: list[float], candidates: list[dict[str, Any]]) -> str:
        temperature = temperatures[index] if index < len(temperatures) else None
        label = f"#{index + 1}" + (f" T{temperature:.2f}" if temperature is not None else "")
        selected = (self.selected_id is not None and index < len(candidates)
                    and candidates[index].get("candidate_id") == self.selected_id)
        return SELECTED_MARK + label if selected else label
