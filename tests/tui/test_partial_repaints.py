"""What the dashboard repaints when one thing changes (the UI thread shares the interpreter lock with the trainer,
so a repaint of rows that did not change is the trainer's loss): a hardware sample repaints the hardware panel's
changed rows, a new step the candidates panel's title row (its cards are their own widget), an unchanged set of
keys leaves the footer as it is. And what is repainted shows the new state, nothing stale."""

from __future__ import annotations

import dataclasses
import gc

import pytest
from textual.geometry import Region
from textual.widget import Widget

from arc_console.cli.session import loaded_objects_kept_out_of_gc
from arc_console.engine import events as ev
from arc_console.tui.app import ConsoleApp
from arc_console.tui.widgets.keys_footer import KeysFooter

from tui_fixtures import FixedSampler, replay_source, screen_lines, step_events, until, until_painted

SIZE = (160, 50)
GB = 1024**3


def recording_refreshes(widget, monkeypatch) -> list[tuple[Region, ...]]:
    """The regions of every repaint Textual is asked for on `widget` from now on (an empty tuple: all of it)."""
    calls: list[tuple[Region, ...]] = []
    refresh = Widget.refresh

    def recorded(self, *regions, **kwargs):
        if self is widget and not kwargs:
            calls.append(regions)
        return refresh(self, *regions, **kwargs)

    monkeypatch.setattr(Widget, "refresh", recorded)
    return calls


async def settled(pilot, app) -> None:
    await until_painted(pilot, app)
    for _ in range(3):
        await pilot.pause()


def panel_rows(app, widget) -> list[str]:
    region = widget.region
    return [line[region.x:region.right] for line in screen_lines(app)[region.y:region.bottom]]


@pytest.mark.asyncio
async def test_a_hardware_sample_repaints_the_rows_it_changed_and_shows_them(monkeypatch) -> None:
    app = ConsoleApp(replay_source(step_events()), sampler_factory=None)  # the samples come from the test
    async with app.run_test(size=SIZE) as pilot:
        app.dashboard.show_hardware(FixedSampler().sample())
        await settled(pilot, app)
        panel = app.dashboard.gpu_panel
        before = panel_rows(app, panel)
        assert any("CPU 35%" in row for row in before), before
        calls = recording_refreshes(panel, monkeypatch)
        sample = FixedSampler().sample()
        busier = dataclasses.replace(sample, host=dataclasses.replace(sample.host, cpu_percent=88.0))
        app.dashboard.show_hardware(busier)
        await settled(pilot, app)
        after = panel_rows(app, panel)
        assert any("CPU 88%" in row for row in after) and not any("CPU 35%" in row for row in after), after
        changed = [y for y, (old, new) in enumerate(zip(before, after)) if old != new]
        assert len(changed) == 1, changed  # the host's CPU row, the rest as it was
        assert calls and all(len(regions) == 1 and regions[0].height == 1 for regions in calls), calls

        # A sample with a row fewer (no GPU any more): the row it no longer has is blank, not left over.
        without_gpu = dataclasses.replace(busier, gpus=[], gpu_note="no GPU")
        app.dashboard.show_hardware(without_gpu)
        await settled(pilot, app)
        rows = panel_rows(app, panel)
        assert not any("H200" in row or "util 97%" in row for row in rows), rows
        assert any("no GPU" in row for row in rows) and any("CPU 88%" in row for row in rows), rows


@pytest.mark.asyncio
async def test_a_new_step_repaints_the_candidates_title_row_and_shows_the_new_step(monkeypatch) -> None:
    app = ConsoleApp(replay_source(step_events()), sampler_factory=FixedSampler)
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot, app)
        panel = app.dashboard.candidates_panel
        assert "step 3 · af902bf9" in panel_rows(app, panel)[0]
        calls = recording_refreshes(panel, monkeypatch)
        started = next(e for e in step_events() if isinstance(e, ev.StepStarted))
        app.dashboard.show_event(dataclasses.replace(started, step=4, problem_id="af902bf9"))
        await settled(pilot, app)
        rows = panel_rows(app, panel)
        assert "step 4 · af902bf9" in rows[0] and "step 3" not in rows[0], rows[0]
        # Its frame's top row alone (refresh takes regions relative to the content, inside border and padding).
        assert [tuple(region.translate(panel.content_offset) for region in regions) for regions in calls] == \
            [(Region(0, 0, panel.outer_size.width, 1),)], calls
        assert sum("…" in row for row in rows) >= 1  # the cards wait for the new step's answers


@pytest.mark.asyncio
async def test_the_log_tail_shows_its_newest_lines_cut_to_the_width_and_looks_back() -> None:
    app = ConsoleApp(replay_source(step_events()), sampler_factory=FixedSampler)
    async with app.run_test(size=(80, 24)) as pilot:
        await settled(pilot, app)
        log = app.dashboard.log_tail
        for number in range(30):
            app.dashboard.show_event(ev.LogLine(f"line {number:02d} " + "x" * 100))
        await settled(pilot, app)
        rows = panel_rows(app, log)[1:-1]  # inside the frame
        assert rows[-1].startswith("│line 29 ") and rows[-1].rstrip().endswith("…│"), rows
        assert rows[0].startswith(f"│line {30 - len(rows):02d} "), rows
        await pilot.click(log)
        await pilot.press("up", "up")
        await settled(pilot, app)
        assert panel_rows(app, log)[1:-1][-1].startswith("│line 27 ")
        await pilot.press("end")
        app.dashboard.show_event(ev.LogLine("short"))
        await settled(pilot, app)
        assert panel_rows(app, log)[1:-1][-1] == "│short" + " " * (log.outer_size.width - 7) + "│"


@pytest.mark.asyncio
async def test_the_footer_is_composed_again_only_when_its_keys_change() -> None:
    app = ConsoleApp(replay_source(step_events()), sampler_factory=FixedSampler)
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot, app)
        footer = app.dashboard.query_one(KeysFooter)
        keys = list(footer.children)
        assert keys
        app.dashboard.refresh_bindings()  # nothing it shows changed
        await settled(pilot, app)
        assert list(footer.children) == keys
        app.dashboard.show_event(ev.Stopped(3, "max_steps"))  # q now quits, p and s are off
        await settled(pilot, app)
        await until(pilot, lambda: list(footer.children) != keys)
        assert "Quit" in screen_lines(app)[-1]


def test_loaded_objects_are_kept_out_of_the_collector_only_while_the_run_trains() -> None:
    assert gc.get_freeze_count() == 0
    with loaded_objects_kept_out_of_gc():
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0
    with pytest.raises(RuntimeError), loaded_objects_kept_out_of_gc():
        raise RuntimeError("the run failed")
    assert gc.get_freeze_count() == 0  # a run that fails gives them back too
