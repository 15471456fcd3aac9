"""watch over a run that has ended: the perfect count and the early-stop target that the run's files record."""

import json
from pathlib import Path

import pytest

from arc_console.engine import events as ev
from arc_console.monitor.follow import RunDirFollower
from arc_console.tui.app import ConsoleApp
from arc_console.tui.run_view import RunView

from tui_fixtures import until


@pytest.fixture
def early_stopped_run(early_stopped_toy_run) -> tuple[Path, ev.Stopped]:
    """The session's tiny run on three 1x1 toy tasks that stopped early after perfect answers on two of them."""
    run, stopped = early_stopped_toy_run
    assert stopped.reason == "early_stop" and len(stopped.perfect_problems) == 2
    return run, stopped


def status_line(app: ConsoleApp) -> str:
    return app.dashboard.status_bar.render().plain


async def test_watch_opened_after_the_end_shows_the_perfect_count_and_target(early_stopped_run) -> None:
    run, stopped = early_stopped_run
    metrics = [json.loads(line) for line in (run / "logs/metrics.jsonl").read_text().splitlines()]
    assert metrics[-1]["perfect_problems"] == 2
    app = ConsoleApp(RunDirFollower(run), mode="watch", sampler_factory=None)
    async with app.run_test(size=(160, 50)) as pilot:
        await until(pilot, lambda: app.view.finished is not None)
        assert app.view.finished.reason == "early_stop" and app.view.finished.step == stopped.step
        assert sorted(app.view.perfect_problems) == sorted(stopped.perfect_problems)
        assert app.view.early_stop_perfect == 2
        await until(pilot, lambda: " perfect 2/2 " in status_line(app))
        await pilot.press("q")
    assert app.return_code == 0


def test_the_follower_names_the_perfect_problems_when_it_tells_the_stop(early_stopped_run) -> None:
    run, stopped = early_stopped_run
    events: list[ev.Event] = []
    follower = RunDirFollower(run)
    follower._announce(events.append)
    follower.poll(events.append)
    assert events[0].early_stop_perfect == 2
    (told,) = [e for e in events if isinstance(e, ev.Stopped)]
    assert sorted(told.perfect_problems) == sorted(stopped.perfect_problems)


def test_a_stop_that_names_no_problems_keeps_those_the_steps_showed() -> None:
    """What watch saw live: perfect steps, then a stop told from files. The count must not drop to 0."""
    view = RunView()
    view.apply(ev.RunStarted("r", "tiny", "hf", "cpu", "dapo", 1, 10, 4, [], early_stop_perfect=3))
    for step, problem, solved in ((1, "a", 1), (2, "b", 2), (3, "a", 2)):
        view.apply(ev.StepFinished(step, problem, {"step": step, "perfect": True, "perfect_problems": solved},
                                   {"candidates": []}))
    view.apply(ev.Stopped(3, "max_steps"))
    assert view.perfect_problems == ["a", "b"] and view.perfect_count() == 2 and view.early_stop_perfect == 3


def test_the_trainers_count_wins_when_metrics_name_fewer_problems() -> None:
    """--problems-per-step > 1: a step's metrics name its first problem, perfect_problems counts them all."""
    view = RunView()
    view.apply(ev.HistoryLoaded([{"step": 1, "problem_id": "a", "perfect": False, "perfect_problems": 2}]))
    assert view.perfect_problems == [] and view.perfect_count() == 2


def test_a_live_run_keeps_the_target_it_was_given() -> None:
    """train: the app knows --early-stop-perfect; the trainer's RunStarted does not repeat it."""
    view = RunView(early_stop_perfect=3)
    view.apply(ev.RunStarted("r", "tiny", "hf", "cpu", "dapo", 1, 10, 4, []))
    assert view.early_stop_perfect == 3
