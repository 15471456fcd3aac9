"""The Textual evaluation console, driven by Pilot at 160x50 over a real evaluation of the tiny model."""

import asyncio
import json
import re
from pathlib import Path

from arc_console.arc import load_tasks
from arc_console.engine.control import RunControl
from arc_console.evaluation.model import load_eval_model
from arc_console.evaluation.runner import run_evaluation
from arc_console.evaluation.settings import EvalSettings
from arc_console.tui.eval_app import EvalApp
from arc_console.tui.widgets.grid_card import GridCard
from arc_console.tui.widgets.log_tail import LogTail

from tui_fixtures import screen_text


def app_alive(pilot) -> bool:
    return pilot.app.is_running


async def wait_for(pilot, condition, timeout: float = 300) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert app_alive(pilot), "the app stopped"
        assert loop.time() < deadline, "timed out"
        await pilot.pause(0.1)


async def test_console_shows_progress_attempts_target_and_every_views_answers(tmp_path: Path):
    engine, _ = load_eval_model("tiny")
    tasks = load_tasks("synthetic-heldout")[:2]
    tasks[0] = tasks[0].__class__(tasks[0].id + "[red]\x1b[2J", tasks[0].train, tasks[0].test)  # hostile id
    control = RunControl()
    out = tmp_path / "eval"
    app = EvalApp(lambda sink: run_evaluation(tasks, engine, EvalSettings(augment="dihedral"), out, sink, control,
                                              model_name="tiny", device="cpu"), control.request_stop)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for(pilot, lambda: app.finished is not None)
        await pilot.pause()
        status = str(app.query_one("#status").render())
        assert "task 2/2" in status and "pass@2" in status and "finished" in status
        assert "\x1b" not in status
        log = list(app.query_one(LogTail).lines)
        assert not any("\x1b" in line for line in log)
        assert any("\\x1b" in line and "[red]" in line for line in log)  # the hostile id shown as text
        attempts = [app.query_one(f"#card-attempt{n}", GridCard) for n in (1, 2)]
        assert all(card.grid_data for card in attempts)
        assert app.query_one("#card-target", GridCard).grid_data == tasks[1].test_output
        assert app.query_one("#card-input", GridCard).grid_data == tasks[1].test_input
        assert len(app.query(".view-candidate")) == 16  # 8 views x 2 samples
        report = json.loads((out / "eval.json").read_text())
        assert report["totals"]["tasks_answered"] == 2
        await pilot.press("q")
    assert app.return_code == 0


async def test_stop_key_keeps_the_tasks_answered(tmp_path: Path):
    engine, _ = load_eval_model("tiny")
    tasks = load_tasks("synthetic-heldout")[:40]
    control = RunControl()
    out = tmp_path / "eval"
    app = EvalApp(lambda sink: run_evaluation(tasks, engine, EvalSettings(augment="none"), out, sink, control),
                  control.request_stop)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for(pilot, lambda: app.totals.get("tasks_answered", 0) >= 1)
        await pilot.press("q")
        await wait_for(pilot, lambda: app.finished is not None)
        assert app.finished.stopped
        answered = app.finished.totals["tasks_answered"]
        assert 1 <= answered < 40
        assert len(json.loads((out / "submission.json").read_text())) == answered


# Small 2x2 grids: every card title reads whole (attempt 1 from attempt 2), not cut to "attempt…".
SMALL_TASK = {"train": [{"input": [[1, 2], [3, 4]], "output": [[4, 3], [2, 1]]}],
              "test": [{"input": [[5, 6], [7, 8]], "output": [[8, 7], [6, 5]]}]}


async def test_small_grids_keep_their_card_titles_whole(tmp_path: Path) -> None:
    task_file = tmp_path / "small2x2.json"
    task_file.write_text(json.dumps(SMALL_TASK))
    tasks = load_tasks(str(task_file))
    engine, _ = load_eval_model("tiny")
    control = RunControl()
    app = EvalApp(lambda sink: run_evaluation(tasks, engine, EvalSettings(augment="dihedral"), tmp_path / "eval", sink,
                                              control, model_name="tiny", device="cpu"), control.request_stop)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for(pilot, lambda: app.finished is not None)
        await pilot.pause()
        cards = [app.query_one(f"#card-{name}", GridCard) for name in ("input", "target", "attempt1", "attempt2")]
        views_row = app.query_one("#views-row").scrollable_content_region
        in_view = [card for card in app.query(".view-candidate").results(GridCard)
                   if card.region and views_row.contains_region(card.region)]  # the rest lie past the row's edge
        assert len(in_view) >= 4
        cards += in_view
        assert [len(card.grid_data) for card in cards[:2]] == [2, 2]
        shown = screen_text(app)
        assert not re.search(r"(attempt|input|target|view|\d disti)[^│\n]{0,30}…", shown)  # what QA saw: "attempt…", "0 disti…"
        for card in cards:
            for title in (card.card_title, card.card_subtitle):
                assert title.strip() in shown, title
        assert re.search(r"attempt 1 [✓✗]", shown) and re.search(r"attempt 2 [✓✗]", shown)
        assert "distinct" in cards[2].card_subtitle and f"input {tasks[0].id}" in shown
        await pilot.press("q")
    assert app.return_code == 0


async def test_a_second_stop_signal_gives_up_on_writing_the_answers(tmp_path: Path) -> None:
    tasks = load_tasks("synthetic-heldout")[:3]
    engine, _ = load_eval_model("tiny")
    control = RunControl()
    app = EvalApp(lambda sink: run_evaluation(tasks, engine, EvalSettings(augment="none"), tmp_path / "eval", sink,
                                              control, model_name="tiny", device="cpu"), control.request_stop)
    async with app.run_test(size=(160, 50)) as pilot:
        app.stop_signalled()  # as SIGTERM's handler: stop, and close once the answers are written
        assert control.stop_requested and app.exit_on_finish and not app.gave_up
        app.stop_signalled()  # another before they are: give up
        await pilot.pause()
    assert app.gave_up and app.return_value == 130
