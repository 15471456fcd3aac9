"""What a new user hit at 80x24, 120x40 and 160x50 (issue 35, items 3 and 4): the cards grow into the room
there is, every candidate in view, their cells square-looking; the chart's legend covers no line; the keys
a user needs are in the footer, and `? Help` always is."""

from dataclasses import replace
from pathlib import Path

import pytest

from arc_console.rundir.files import list_step_files
from arc_console.tui.app import ConsoleApp
from arc_console.tui.grid_render import COMPACT, grid_rows, grid_size
from arc_console.tui.replay_app import ReplayApp
from arc_console.tui.widgets.candidates import CandidatesPanel
from arc_console.tui.widgets.card_layout import MAX_SCALE, choose_layout, grid_extent
from arc_console.tui.widgets.grid_card import card_size
from arc_console.tui.widgets.history import AccuracyHistory

from paths import REPO
from tui_fixtures import FixedSampler, footer_line, replay_source, screen_lines, step_events, until, until_painted

SIZES = [(80, 24), (120, 40), (160, 50)]
# The tiny preset's problems have 3x3 grids (6150a2bd: a real ARC-AGI-1 task): the smallest scale each size
# must reach. At 120x40 main drew them 3 columns by 2 rows (compact) and hid 3 cards.
TINY_GRID_SCALE = {(80, 24): COMPACT, (120, 40): 2, (160, 50): 2}


def dashboard(problem: str = "af902bf9", mode: str = "train") -> ConsoleApp:
    return ConsoleApp(replay_source(step_events(problem=problem)), mode=mode, sampler_factory=FixedSampler)


def every_card_in_view(panel: CandidatesPanel) -> bool:
    view = panel.cards_view
    return len(view.cards) == 10 and view.max_scroll_x == 0 and view.max_scroll_y == 0


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_small_grids_grow_and_every_candidate_shows(size) -> None:
    app = dashboard("6150a2bd")
    async with app.run_test(size=size) as pilot:
        await until_painted(pilot, app)
        await pilot.pause()
        panel = app.dashboard.candidates_panel
        assert every_card_in_view(panel), (panel.layout_chosen, panel.cards_view.virtual_size, panel.cards_view.size)
        assert panel.layout_chosen.scale >= TINY_GRID_SCALE[size], panel.layout_chosen
        assert "scroll sideways" not in str(panel.border_subtitle)
        # and the next scale up would not fit: the cells take the room there is
        room, scale = panel.cards_view.outer_size, panel.layout_chosen.scale
        if scale < MAX_SCALE:
            bigger = [replace(card, scale=scale + 1).size() for card in panel.cards_view.cards]
            assert not any(grid_extent(bigger, columns)[0] <= room.width and grid_extent(bigger, columns)[1] <= room.height
                           for columns in range(1, len(bigger) + 1)), (scale, room)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_replay_shows_every_candidate_where_there_is_room(size, monkeypatch) -> None:
    monkeypatch.chdir(REPO)
    app = ReplayApp(list_step_files(Path("tests/data")), 0, None)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        await pilot.pause()
        panel = app.replay.candidates_panel
        if size != (80, 24):  # 80 columns hold five 10x10 cards a row, and 24 rows one row: the rest scroll
            assert every_card_in_view(panel), panel.layout_chosen
            assert "#8" in "\n".join(screen_lines(app))


def test_cells_look_square_at_every_scale() -> None:
    """Two characters wide per row of a cell (a terminal cell is about twice as tall as wide)."""
    grid = [[1, 2, 3], [4, 5, 6]]
    for scale in range(1, 5):
        width, height = grid_size(grid, scale)
        assert (width / 3, height / 2) == (2 * scale, scale)
        assert [sum(s.cell_length for s in row) for row in grid_rows(grid, scale)] == [width] * height
    assert grid_size(grid, COMPACT) == (3, 1)  # one character, half a row: the same shape


def test_the_layout_prefers_larger_cells_then_fewer_rows_evenly_filled() -> None:
    tiny = [[0] * 3] * 3
    sizes = lambda scale: [card_size(tiny, scale, 14) for _ in range(10)]  # noqa: E731
    layout = choose_layout(sizes, 154, 23)
    assert layout.scale == 3 and layout.columns == 5 and not layout.scrolls  # rows of 5 and 5, not 9 and 1
    assert choose_layout(sizes, 40, 3).scrolls  # nothing fits: one row that scrolls sideways


async def test_the_chart_legend_covers_no_line() -> None:
    app = dashboard()
    async with app.run_test(size=(160, 50)) as pilot:
        await until_painted(pilot, app)
        await pilot.pause()
        chart = app.query_one(AccuracyHistory)
        rows = screen_lines(app)[chart.region.y + 1:chart.region.bottom - 1]  # inside the chart's border
        inside = [row[chart.region.x:chart.region.right] for row in rows]
        assert not any(word in row for row in inside for word in ("best", "mean", "reward", "perfect")), inside
        for word in ("best", "mean", "trend", "reward"):  # the legend is the border title
            assert word in str(chart.border_title)


# The keys a user needs, as the footer shows them; `? Help` is in every footer at every width.
NEEDED = {
    "train": ["p Pause/Resume", "s Save", "q Stop", "? Help"],
    "watch": ["q Quit", "? Help"],
    "replay": ["←→ Candidate", "[] Step", "q Quit", "? Help"],
}


async def footer_of(use: str, size: tuple[int, int]) -> str:
    if use == "replay":
        app = ReplayApp(list_step_files(REPO / "tests/data"), 0, None)
    else:
        app = dashboard(mode=use)
    async with app.run_test(size=size) as pilot:
        if isinstance(app, ConsoleApp):
            await until_painted(pilot, app)
        await until(pilot, lambda: footer_line(app).strip())  # the footer composes once the bindings are known
        await pilot.pause()
        return footer_line(app)


@pytest.mark.parametrize("use", ["train", "watch", "replay"])
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_the_keys_a_user_needs_are_in_the_footer(use, size) -> None:
    footer = await footer_of(use, size)
    for keys in NEEDED[use]:
        assert keys in footer, (keys, footer)
    assert footer.rstrip().endswith("? Help"), footer  # at its right end, where nothing pushes it out


@pytest.mark.parametrize("use", ["train", "replay"])
async def test_help_stays_in_a_footer_too_narrow_for_every_key(use) -> None:
    footer = await footer_of(use, (50, 24))
    assert footer.rstrip().endswith("? Help"), footer
