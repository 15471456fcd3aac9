"""The Textual evaluation console, driven by Pilot at 160x50 over a real evaluation of the tiny model."""

import asyncio
import json
from pathlib import Path

from arc_console.arc import load_tasks
from arc_console.engine.control import RunControl
from arc_console.evaluation.model import load_eval_model
from arc_console.evaluation.runner import run_evaluation
from arc_console.evaluation.settings import EvalSettings
from arc_console.tui.eval_app import EvalApp
from arc_console.tui.widgets.grid_card import GridCard
from arc_console.tui.widgets.log_tail import LogTail


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
