"""The current step: test input, target and every candidate as coloured grids, best highlighted."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import HorizontalScroll, Vertical
from textual.widgets import Static

from arc_console.terminal.textsafe import one_line, safe_text, visible

from arc_console.tui.grid_render import Grid
from arc_console.tui.widgets.grid_card import GridCard


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


def choose_mode(grids: list[Grid | None], width: int, height: int, titles: list[int] | None = None) -> str:
    """The largest cells with which every card fits side by side: 'large', 'full', else 'compact'.
    `titles`: each card's longer title in cells (the cards fit their titles)."""
    titles = titles or [0] * len(grids)
    for mode in ("large", "full"):
        sizes = [GridCard.card_size(g, mode, t) for g, t in zip(grids, titles)]
        if sum(w for w, _ in sizes) <= width and max((h for _, h in sizes), default=0) <= height:
            return mode
    return "compact"


def cards_out_of_view(grids: list[Grid | None], mode: str, width: int, titles: list[int] | None = None) -> int:
    """How many cards, from the right, do not fit in `width` columns."""
    titles = titles or [0] * len(grids)
    used = 0
    for index, (grid, title) in enumerate(zip(grids, titles)):
        used += GridCard.card_size(grid, mode, title)[0]
        if used > width + 1:  # the last card's right margin may fall outside
            return len(grids) - index
    return 0


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


class CandidatesPanel(Vertical):
    """The cards side by side (scrolling sideways when they do not fit) over the best response's text."""

    DEFAULT_CSS = """
    CandidatesPanel { height: 1fr; border: round $primary; padding: 0 1; }
    CandidatesPanel > #cards { height: 1fr; }
    CandidatesPanel #cards-empty { color: $text-muted; padding: 1 2; }
    CandidatesPanel > #response { height: 1; color: $text-muted; text-wrap: nowrap; text-overflow: ellipsis; }
    .tall CandidatesPanel > #response { height: 8; text-wrap: wrap; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.border_title = "candidates"
        self.diff = False
        self.digits = False
        self.selected_id: int | None = None  # replay: the candidate whose text is shown
        self._candidate_card_list: list[GridCard] = []
        self._state: tuple[int, str, Grid, Grid, list[float], list[dict[str, Any]], int | None] | None = None
        self._seen_as = ""

    def compose(self) -> ComposeResult:
        # The children are held, not queried: a redraw can race the app's shutdown, when queries find nothing.
        self._cards_row = HorizontalScroll(id="cards")
        self._empty_note = Static("waiting for the first step …", id="cards-empty")
        self._input_card = GridCard(id="card-input")
        self._target_card = GridCard(id="card-target")
        self._response = Static(id="response")
        with self._cards_row:
            yield self._empty_note
            yield self._input_card
            yield self._target_card
        yield self._response

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
        self._empty_note.display = not target
        count = max(len(temperatures), len(candidates))
        cards = self._candidate_cards(count)
        grids = [test_input, target] + [c.get("predicted_grid") for c in candidates] + [None] * (count - len(candidates))
        # Digits need two characters per cell: they force the full size (the panel then scrolls).
        cards_area = self._cards_row.size
        # Cards without a grid keep the target's size (GridCard's reserve), so they count as the target.
        sized = grids[:2] + [grid or target for grid in grids[2:]]
        labels = [self._label(index, temperatures, candidates) for index in range(count)]
        badges = [candidate_badges(candidates[index], best_id) if index < len(candidates) else ""
                  for index in range(count)]
        # The candidate cards widen to show their label and badges whole (the input's and target's fit);
        # in replay every label keeps room for the selection's mark, so moving it resizes no card.
        mark = len(SELECTED_MARK) if self.selected_id is not None else 0
        label_cells = [Text(label).cell_len + (0 if label.startswith(SELECTED_MARK) else mark) for label in labels]
        titles = [0, 0] + [max(cells, Text(badge).cell_len) for cells, badge in zip(label_cells, badges)]
        mode = choose_mode(sized, cards_area.width, cards_area.height, titles)
        if self.digits and mode == "compact":
            mode = "full"
        title = Text.assemble(f"step {step} · ", safe_text(problem_id, 40), f" · input · target · {count} candidates")
        if self._seen_as:  # --augment: every grid here is the view's
            title.append_text(Text.assemble(" · as the model saw it: ", safe_text(self._seen_as, 40)))
        self.border_title = title
        hidden = cards_out_of_view(sized[:2 + count], mode, cards_area.width, titles)
        self._show_legend(f"{hidden} more →" if hidden else "")
        self._input_card.show_grid(test_input, "input", mode=mode, digits=self.digits)
        self._target_card.show_grid(target, "target", mode=mode, digits=self.digits)
        for index, card in enumerate(cards):
            card.display = index < count
            if index >= count:
                continue
            label = labels[index]
            if index < len(candidates):
                candidate = candidates[index]
                card.set_class(candidate.get("candidate_id") == best_id and bool(candidate.get("has_grid")), "best")
                card.set_class(bool(candidate.get("perfect_match")), "perfect")
                card.remove_class("pending")
                card.set_class(candidate.get("candidate_id") == self.selected_id, "selected")
                card.show_grid(candidate.get("predicted_grid"), label, badges[index], mode,
                               self.digits, target if self.diff else None, reserve=target, title_cells=label_cells[index])
            else:
                card.remove_class("best", "perfect")
                card.add_class("pending")
                card.show_grid(None, label, "", mode, note="…", reserve=target, title_cells=label_cells[index])

        wanted = self.selected_id if self.selected_id is not None else best_id
        shown = next((c for c in candidates if c.get("candidate_id") == wanted), candidates[-1] if candidates else None)
        self._response.update(response_preview(shown, best_id, max(1, self._response.size.height)), layout=False)
        if self.selected_id is not None:
            self.call_after_refresh(self._scroll_to_selected)  # once the cards have their new sizes

    def _show_legend(self, out_of_view: str) -> None:
        """The border's legend, as much of it as the border holds (legend_variants): a subtitle too long for
        it would be cut mid-word with an ellipsis."""
        variants = legend_variants(out_of_view, self.selected_id is not None, self.diff)
        room = self.outer_size.width - LEGEND_FRAME_CELLS
        if not self.outer_size.width:  # before the first layout: on_resize comes back with a width
            self.border_subtitle = variants[0]
            return
        self.border_subtitle = next((v for v in variants if Text(v).cell_len <= room), "")

    def _scroll_to_selected(self) -> None:
        """Replay: bring the selected card into the row's view, and say which way the hidden cards lie."""
        if not self.is_attached:
            return
        card = next((c for c in self._candidate_card_list if c.display and c.has_class("selected")), None)
        row = self._cards_row
        if card is not None:  # with the input and the target beside it where they fit
            wanted = card.virtual_region_with_margin
            for first in (self._input_card, self._target_card):
                span = first.virtual_region_with_margin.union(wanted)
                if span.width <= row.scrollable_content_region.width:
                    wanted = span
                    break
            row.scroll_to_region(wanted, animate=False, immediate=True, force=True)
        left = right = 0
        window_start, window_end = row.scroll_x, row.scroll_x + row.scrollable_content_region.width
        for shown in (self._input_card, self._target_card, *self._candidate_card_list):
            if not shown.display:
                continue
            region = shown.virtual_region
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

    def _candidate_cards(self, count: int) -> list[GridCard]:
        if len(self._candidate_card_list) < count:
            new = [GridCard(fit_titles=True, classes="candidate") for _ in range(count - len(self._candidate_card_list))]
            self._cards_row.mount_all(new)
            self._candidate_card_list += new
        return self._candidate_card_list
