"""What a newcomer hit in the first ten minutes (issue 23): the log's newest line, watch's footer and
hardware panel, the selected candidate against the best one, grid sizes for the room there is."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import psutil

from arc_console.engine import events as ev
from arc_console.monitor.hardware import HardwareSampler
from arc_console.rundir.files import list_step_files, read_trainer_pid
from arc_console.tui.app import ConsoleApp
from arc_console.tui.replay_app import ReplayApp
from arc_console.tui.grid_render import COMPACT
from arc_console.tui.widgets.card_layout import CardLayout, cards_out_of_view, choose_layout
from arc_console.tui.widgets.grid_card import card_size

from tui_fixtures import FixedSampler, replay_source, step_events, until, until_painted
from child_output import ChildOutput
from paths import DATA


async def test_the_newest_log_line_stays_in_view_when_lines_are_long() -> None:
    long_lines = [ev.LogLine(f"2026-11-30 08:00:{i:02d} INFO    step {i} " + "x" * 300) for i in range(40)]
    events = step_events() + long_lines + [ev.LogLine("stopped: NEWEST-LINE-MARKER")]
    app = ConsoleApp(replay_source(events), sampler_factory=FixedSampler)
    async with app.run_test(size=(80, 24)) as pilot:
        await until_painted(pilot, app)
        await until(pilot, lambda: app.dashboard.log_tail.line_count == 42)
        await pilot.pause()
        assert "NEWEST-LINE-MARKER" in app.export_screenshot()
        rows = app.dashboard.log_tail.render().plain.splitlines()
        assert rows[-1] == "stopped: NEWEST-LINE-MARKER"
        assert len(rows) == app.dashboard.log_tail.content_size.height  # one row a line: none wrapped
        assert all(len(row) <= app.dashboard.log_tail.content_size.width for row in rows)


async def test_watch_footer_says_quit_and_q_quits() -> None:
    app = ConsoleApp(replay_source(step_events()), mode="watch", sampler_factory=FixedSampler)
    async with app.run_test(size=(120, 40)) as pilot:
        await until_painted(pilot, app)
        shown = {binding.key: binding.description for (_, binding, _, _) in app.screen.active_bindings.values()
                 if binding.show}
        assert shown["q"] == "Quit"
        await pilot.press("q")
    assert app.return_code == 0
    train = ConsoleApp(replay_source(step_events()), mode="train", sampler_factory=FixedSampler)
    assert train.dashboard._bindings.key_to_bindings["q"][0].description == "Stop"


def _write_run_json(run_dir: Path, pid: int) -> None:
    (run_dir / "logs").mkdir(parents=True, exist_ok=True)
    (run_dir / "logs" / "run.json").write_text(json.dumps({"pid": pid, "max_steps": 5}))


def test_watch_samples_the_trainers_memory_not_its_own(tmp_path: Path) -> None:
    # A stand-in trainer: a real process holding ~200 MB, started before its run.json is written.
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; x = bytearray(200 * 2**20); "
                               "x[::4096] = b'1' * len(x[::4096]); print('ready', flush=True); time.sleep(120)"],
                              stdout=subprocess.PIPE, text=True)
    with ChildOutput(holder) as child:
        child.wait_for_line(lambda line: line == "ready", timeout=60)
        _write_run_json(tmp_path, holder.pid)
        assert read_trainer_pid(tmp_path) == holder.pid
        sampler = HardwareSampler(watched_pid=lambda: read_trainer_pid(tmp_path))
        sample = sampler.sample()
        assert sample.process_label == f"trainer (pid {holder.pid})"
        assert sample.host.process_rss == psutil.Process(holder.pid).memory_info().rss or \
            abs(sample.host.process_rss - psutil.Process(holder.pid).memory_info().rss) < 8 * 2**20
        assert sample.host.process_rss > 150 * 2**20  # the holder's memory, not this test process's
        holder.kill()
        holder.wait(timeout=30)
    sample = sampler.sample()
    assert sample.process_label == "trainer (not running)" and sample.host.process_rss is None


def test_a_pid_reused_after_the_run_is_not_the_trainer(tmp_path: Path) -> None:
    _write_run_json(tmp_path, 1)  # written now; pid 1 started long before: plausible
    assert read_trainer_pid(tmp_path) == 1
    later = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        _write_run_json(tmp_path, later.pid)
        old = time.time() - 3600
        import os

        os.utime(tmp_path / "logs" / "run.json", (old, old))  # run.json older than the process
        assert read_trainer_pid(tmp_path) is None
    finally:
        later.kill()
        later.wait(timeout=30)
    for bad in ("12", None, True, -4):
        (tmp_path / "logs" / "run.json").write_text(json.dumps({"pid": bad}))
        assert read_trainer_pid(tmp_path) is None


async def test_replay_selected_and_best_candidates_look_different() -> None:
    app = ReplayApp(list_step_files(DATA), 0, None)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("right")
        await pilot.pause()
        best, selected = app.replay.candidates_panel.candidate_cards[:2]
        assert best.marks.best and not best.marks.selected
        assert selected.marks.selected and not selected.marks.best
        assert best.marks.frame()[0] != selected.marks.frame()[0]
        assert selected.title.startswith("▶") and not best.title.startswith("▶")
        legend = str(app.replay.candidates_panel.border_subtitle)
        assert "▶ selected" in legend and "★ best" in legend


async def test_replay_arrows_choose_candidates_even_when_the_response_has_focus() -> None:
    app = ReplayApp(list_step_files(DATA), 0, None)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.query_one("#response-scroll").focus()
        before = app.replay.selected
        await pilot.press("right")
        assert app.replay.selected == (before + 1) % len(app.replay.record["candidates"])


def test_small_grids_get_larger_cells_where_there_is_room() -> None:
    small = [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
    sizes = lambda grids: lambda scale: [card_size(grid, scale) for grid in grids]  # noqa: E731
    assert choose_layout(sizes([small] * 8), 156, 20).scale > choose_layout(sizes([small] * 8), 130, 12).scale
    big = [[0] * 10 for _ in range(10)]
    assert choose_layout(sizes([big] * 10), 156, 20) == CardLayout(COMPACT, 10)
    assert cards_out_of_view(sizes([big] * 10)(COMPACT), 156) == 0
    assert cards_out_of_view(sizes([big] * 10)(COMPACT), 74) == 5


def test_the_tiny_model_trains_on_one_cpu_thread_unless_asked() -> None:
    import torch

    from arc_console.engine.backends import apply_cpu_threads, load_policy

    before = torch.get_num_threads()
    try:
        policy = load_policy("tiny", "hf", 0, 32, 2048)
        assert apply_cpu_threads(0, policy) == 1 and torch.get_num_threads() == 1
        assert apply_cpu_threads(2, policy) == 2 and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
