"""watch: the dashboard fed by a run directory that a headless trainer writes from another process (each one a
fresh process from the warm launcher, tests/support/warm_cli.py: the trainer without seconds of imports)."""

import json
import signal
from pathlib import Path

import pytest

from arc_console.engine import events as ev
from arc_console.monitor.follow import RunDirFollower
from arc_console.tui.app import ConsoleApp

from helpers import make_trainer
from tui_fixtures import until

FAST = ["--max-new-tokens", "12", "--overlong-buffer", "4", "--num-candidates", "4"]


@pytest.mark.timeout(420)
@pytest.mark.slow
async def test_watch_follows_a_headless_run_through_its_end_and_a_resume(tmp_path: Path, warm_cli) -> None:
    run = tmp_path / "run"
    run.mkdir()
    app = ConsoleApp(RunDirFollower(run), mode="watch", sampler_factory=None)
    async with app.run_test(size=(160, 50)) as pilot:
        first = warm_cli.start(["train", "--headless", "--preset", "tiny", "--max-steps", "4", "--out", str(run), *FAST],
                               stdout=False)
        await until(pilot, lambda: app.view.completed_step >= 1, timeout=120)
        await until(pilot, lambda: app.view.finished is not None and app.view.completed_step == 4, timeout=120)
        assert first.wait(60) == 0
        assert app.view.max_steps == 4 and len(app.view.history) == 4
        # Which problem step 4 trained on depends on dynamic sampling's refills: its step file says.
        last_problem = json.loads((run / "logs/responses/step_004.json").read_text())["problem_id"]
        assert app.view.candidates and app.view.problem_id == last_problem
        assert not {"p", "s"} & set(app.screen.active_bindings)  # a watcher has no keys that steer the run
        second = warm_cli.start(["train", "--headless", "--resume", str(run), "--max-steps", "6"], stdout=False)
        await until(pilot, lambda: app.view.completed_step == 6 and app.view.finished is not None, timeout=120)
        assert second.wait(60) == 0
        assert [m["step"] for m in app.view.history] == [1, 2, 3, 4, 5, 6]
        assert app.view.max_steps == 6
        await pilot.press("q")
    assert app.return_code == 0


def test_follower_replays_a_finished_run(tmp_path: Path) -> None:
    trainer, _ = make_trainer(tmp_path / "run", max_steps=3)
    trainer.run()
    events: list = []
    follower = RunDirFollower(tmp_path / "run")
    follower._announce(events.append)
    follower.poll(events.append)
    kinds = [type(e) for e in events]
    assert kinds[0] is ev.RunStarted and events[0].max_steps == 3
    assert ev.HistoryLoaded in kinds and ev.Stopped in kinds
    finished = [e for e in events if isinstance(e, ev.StepFinished)]
    assert finished[-1].step == 3 and len(finished[-1].record["candidates"]) == 4
    assert sum(isinstance(e, ev.LogLine) for e in events) >= 5
    follower.poll(events.append)  # nothing new: nothing more
    assert len(events) == len(kinds)


def status_line(app: ConsoleApp) -> str:
    return app.dashboard.status_bar.render().plain


@pytest.mark.timeout(900)
@pytest.mark.slow
async def test_watch_says_a_killed_run_died_and_picks_it_up_when_resumed(tmp_path: Path, warm_cli) -> None:
    run = tmp_path / "run"
    run.mkdir()
    app = ConsoleApp(RunDirFollower(run), mode="watch", sampler_factory=None)
    async with app.run_test(size=(160, 50)) as pilot:
        doomed = warm_cli.start(["train", "--headless", "--preset", "tiny", "--max-steps", "500", "--out", str(run),
                                 "--checkpoint-every", "1", *FAST], stdout=False)
        try:
            await until(pilot, lambda: app.view.completed_step >= 2, timeout=300)
            assert "DIED" not in status_line(app) and app.view.lost is None
        finally:
            doomed.kill()  # SIGKILL: no stop record, no last log line
            doomed.wait(30)
        await until(pilot, lambda: app.view.lost is not None, timeout=5)
        assert app.view.lost.state == "died" and str(doomed.pid) in app.view.lost.detail
        await until(pilot, lambda: "DIED" in status_line(app), timeout=5)
        assert "ETA" not in status_line(app)
        await until(pilot, lambda: any("watch: the trainer" in line and "gone" in line for line in app.dashboard.log_tail.lines))

        killed_at = app.view.completed_step
        resumed = warm_cli.start(["train", "--headless", "--resume", str(run), "--max-steps", "500"], stdout=False)
        try:
            await until(pilot, lambda: app.view.lost is None and app.view.completed_step > killed_at, timeout=300)
            await until(pilot, lambda: "DIED" not in status_line(app) and "ETA" in status_line(app), timeout=5)
        finally:
            resumed.send_signal(signal.SIGTERM)  # a stop with a word: checkpoint, final model, stop record
            assert resumed.wait(120) == 0
        await until(pilot, lambda: app.view.finished is not None, timeout=10)
        assert app.view.finished.reason == "stop_requested" and app.view.lost is None
        await until(pilot, lambda: "finished: stop requested" in status_line(app), timeout=5)
        stop = json.loads((run / "logs" / "run.json").read_text())["stopped"]
        assert stop["reason"] == "stop_requested" and stop["step"] == app.view.finished.step
        await pilot.press("q")
    assert app.return_code == 0
