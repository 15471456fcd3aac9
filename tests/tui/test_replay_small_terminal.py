"""Replay in an 80x24 terminal: the selected candidate's card is always scrolled into the row's view, and
shows its whole label; moving the selection resizes no card."""

from pathlib import Path

import pytest

from arc_console.rundir.files import list_step_files
from arc_console.tui.replay_app import ReplayApp
from arc_console.tui.widgets.candidates import CandidatesPanel
from arc_console.tui.widgets.grid_card import CardSpec

from helpers import make_trainer
from tui_fixtures import footer_line, screen_text, until

SMALL = (80, 24)


@pytest.fixture(scope="module")
def eight_candidate_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("replay-small") / "run"
    trainer, _ = make_trainer(run, max_steps=1, num_candidates=8)
    trainer.run()
    return run


def selected_card(app: ReplayApp) -> CardSpec:
    (card,) = [c for c in app.screen.query_one(CandidatesPanel).candidate_cards if c.marks.selected]
    return card


def selected_card_in_view(app: ReplayApp) -> bool:
    """The selected card's place in the cards' view lies within the part scrolled into sight."""
    view = app.screen.query_one(CandidatesPanel).cards_view
    region = view.regions[view.cards.index(selected_card(app))]
    window = view.scrollable_content_region.reset_offset.translate(view.scroll_offset)
    return window.contains_region(region)


def cards_subtitle(app: ReplayApp) -> str:
    return str(app.screen.query_one(CandidatesPanel).border_subtitle)


async def test_the_selected_card_is_always_in_view(eight_candidate_run: Path) -> None:
    files = list_step_files(eight_candidate_run / "logs/responses")
    app = ReplayApp(files, 0, eight_candidate_run)
    async with app.run_test(size=SMALL) as pilot:
        screen = app.screen
        await until(pilot, lambda: selected_card_in_view(app))  # on open: the best candidate
        row = screen.query_one(CandidatesPanel).cards_view
        assert row.max_scroll_x > 0, "the test needs more cards than 80 columns hold"
        candidates = screen.record["candidates"]
        card_widths = lambda: [region.width for region in row.regions]  # noqa: E731
        widths = card_widths()
        seen = set()
        for _ in range(len(candidates)):  # right all the way round, past the last card and back to the first
            await pilot.press("right")
            await until(pilot, lambda: selected_card_in_view(app) and "▶" in selected_card(app).title)
            label = selected_card(app).title
            assert label.startswith(f"▶ #{screen.selected + 1} "), label
            await pilot.pause()
            assert label in screen_text(app), label  # the card is wide enough for its whole label
            assert card_widths() == widths  # and moving the selection resized no card
            seen.add(screen.selected)
        assert seen == set(range(len(candidates)))
        while screen.selected != 0:
            await pilot.press("right")
        await until(pilot, lambda: selected_card_in_view(app) and "← " not in cards_subtitle(app))
        await pilot.press("left")  # from the first card, round to the last
        await until(pilot, lambda: screen.selected == len(candidates) - 1 and selected_card_in_view(app))
        await until(pilot, lambda: "← " in cards_subtitle(app))  # the hidden cards now lie to the left
        await pilot.press("b")
        await until(pilot, lambda: screen.selected == screen._best_index() and selected_card_in_view(app))
        await pilot.press("q")


@pytest.mark.parametrize("width", [50, 60, 80, 100, 120, 140, 200])
async def test_the_legend_is_shortened_to_fit_never_cut(eight_candidate_run: Path, width: int) -> None:
    """The cards' legend gives up words to fit its border (legend_variants: what the borders mean, then the
    rarer marks, then 'scroll sideways'), so it is drawn whole, and it is the longest variant that fits;
    the count of hidden cards always stays."""
    from rich.text import Text

    from arc_console.tui.widgets.candidates import LEGEND_FRAME_CELLS, legend_variants

    files = list_step_files(eight_candidate_run / "logs/responses")
    app = ReplayApp(files, 0, eight_candidate_run)
    async with app.run_test(size=(width, 30)) as pilot:
        await until(pilot, lambda: selected_card_in_view(app))
        await pilot.pause()
        panel = app.screen.query_one(CandidatesPanel)
        subtitle = cards_subtitle(app)
        assert subtitle and any(subtitle in row for row in screen_text(app).splitlines()), subtitle  # drawn whole
        hidden = panel.cards_view.max_scroll_x > 0
        assert ("more" in subtitle) == hidden, subtitle
        counts = subtitle.split("  · ")[0].removeprefix("scroll sideways: ") if hidden else ""
        variants = legend_variants(counts, True, False)
        room = panel.outer_size.width - LEGEND_FRAME_CELLS
        longer = variants[:variants.index(subtitle)]
        assert all(Text(variant).cell_len > room for variant in longer), (subtitle, longer)  # none longer fits
        if width >= 60:
            assert "★ best" in subtitle, subtitle
            await until(pilot, lambda: "q Quit" in footer_line(app))  # the footer keeps it (once composed)
        if width >= 140:
            assert "(thick border)" in subtitle, subtitle
