"""Snapshots of the dashboard's panels from a fixed event sequence, at 160x50 and at the three sizes a newcomer's
terminal is likely to have (80x24, 120x40, 160x50)."""

from pathlib import Path

import pytest

from arc_console.tui.app import ConsoleApp

from tui_fixtures import FixedSampler, replay_source, step_events, until_painted
from paths import REPO

# Relative to the repository, as a user types it: the replay header shows the path, and the snapshots must
# not depend on where the clone is.
DATA = Path("tests/data")

SIZE = (160, 50)


def _app() -> ConsoleApp:
    return ConsoleApp(replay_source(step_events()), sampler_factory=FixedSampler, early_stop_perfect=3)


async def _settle(pilot) -> None:
    if isinstance(pilot.app, ConsoleApp):
        await until_painted(pilot, pilot.app)
    for _ in range(5):
        await pilot.pause()


def test_dashboard_after_a_step(snap_compare) -> None:
    assert snap_compare(_app(), terminal_size=SIZE, run_before=_settle)


def test_dashboard_diff_view(snap_compare) -> None:
    async def diff(pilot) -> None:
        await _settle(pilot)
        await pilot.press("d")

    assert snap_compare(_app(), terminal_size=SIZE, run_before=diff)


def test_dashboard_digits_and_next_theme(snap_compare) -> None:
    async def digits(pilot) -> None:
        await _settle(pilot)
        await pilot.press("g", "t")

    assert snap_compare(_app(), terminal_size=SIZE, run_before=digits)


def test_help_screen(snap_compare) -> None:
    async def help_screen(pilot) -> None:
        await _settle(pilot)
        await pilot.press("question_mark")

    assert snap_compare(_app(), terminal_size=SIZE, run_before=help_screen)


def test_small_terminal_uses_compact_grids(snap_compare) -> None:
    assert snap_compare(_app(), terminal_size=(100, 32), run_before=_settle)


def test_replayed_step(snap_compare, monkeypatch) -> None:
    monkeypatch.chdir(REPO)
    from arc_console.rundir.files import list_step_files
    from arc_console.tui.replay_app import ReplayApp

    files = list_step_files(DATA)
    assert snap_compare(ReplayApp(files, 0, None), terminal_size=SIZE, run_before=_settle)


# The three sizes a newcomer's terminal is likely to have: every panel readable at each.
LAYOUT_SIZES = [(80, 24), (120, 40), (160, 50)]


@pytest.mark.parametrize("size", LAYOUT_SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_dashboard_layout(snap_compare, size) -> None:
    assert snap_compare(_app(), terminal_size=size, run_before=_settle)


@pytest.mark.parametrize("size", LAYOUT_SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_replay_layout_with_a_selected_candidate(snap_compare, size, monkeypatch) -> None:
    monkeypatch.chdir(REPO)
    from arc_console.rundir.files import list_step_files
    from arc_console.tui.replay_app import ReplayApp

    async def select_second(pilot) -> None:
        await _settle(pilot)
        await pilot.press("right")  # #2 selected, #1 still the best: the two borders differ
        await _settle(pilot)

    files = list_step_files(DATA)
    assert snap_compare(ReplayApp(files, 0, None), terminal_size=size, run_before=select_second)


@pytest.mark.parametrize("size", LAYOUT_SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_small_grids_fill_the_panel(snap_compare, size) -> None:
    """The tiny preset's 3x3 grids (issue 35): every candidate in view, cells as large as the room allows."""
    app = ConsoleApp(replay_source(step_events(problem="6150a2bd")), sampler_factory=FixedSampler, early_stop_perfect=3)
    assert snap_compare(app, terminal_size=size, run_before=_settle)
