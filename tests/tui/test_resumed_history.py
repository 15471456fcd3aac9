"""The dashboard of `train --resume` (issue 35, item 2): the steps before the resume, and the held-out scores
logged with them, are on the chart from its first frame, read as watch and replay read them."""

from pathlib import Path

import pytest

from arc_console.cli.session import train_with_dashboard
from arc_console.config import build_config
from arc_console.engine.checkpoint_files import find_checkpoint
from arc_console.evaluation.held_out_log import append_row
from arc_console.rundir.files import read_metrics
from arc_console.tui.app import ConsoleApp
from arc_console.tui.recorded_history import read_recorded_history
from arc_console.tui.widgets.history import AccuracyHistory

from headless_console import headless_consoles
from helpers import FAST, make_trainer

HELD_OUT_ROW = {"step": 2, "pass_at_2": 0.25, "pass_at_1": 0.125, "oracle": 0.25, "tasks": 8, "seconds": 1.0,
                "tokens": 100, "source": "synthetic", "final": False, "settings": {}, "time": "2026-12-06T10:00:00"}


@pytest.fixture
def stopped_at_step_3(tmp_path: Path) -> Path:
    run = tmp_path / "run"
    trainer, _ = make_trainer(run, max_steps=3)
    assert trainer.run().reason == "max_steps"
    append_row(run, HELD_OUT_ROW)  # as --eval-every 2 would have
    return run


@pytest.mark.slow
def test_the_chart_of_a_resumed_run_starts_at_step_1(stopped_at_step_3: Path, monkeypatch) -> None:
    run = stopped_at_step_3
    apps: list[ConsoleApp] = []
    charted: list[list[int]] = []  # the steps on the chart, each time it was drawn

    init, show = ConsoleApp.__init__, AccuracyHistory.show

    def recording_init(app, *args, **kwargs) -> None:
        init(app, *args, **kwargs)
        apps.append(app)

    def recording_show(chart, history, *args, **kwargs) -> None:
        charted.append([row["step"] for row in history])
        show(chart, history, *args, **kwargs)

    monkeypatch.setattr(ConsoleApp, "__init__", recording_init)  # a subclass here would look for app.tcss here
    monkeypatch.setattr(AccuracyHistory, "show", recording_show)
    config = build_config("tiny", None, {**FAST, "max_steps": 5})
    with headless_consoles():  # the command's console on Textual's headless driver, q once the run has finished
        assert train_with_dashboard(config, run, find_checkpoint(run), None) == 0

    (app,) = apps
    assert charted and all(steps[0] == 1 for steps in charted), charted  # from the first frame on
    assert charted[-1] == [1, 2, 3, 4, 5]
    assert [row["step"] for row in app.view.history] == [1, 2, 3, 4, 5]
    assert [row["step"] for row in app.view.held_out] == [2]
    assert app.dashboard.history_plot.held_out == [HELD_OUT_ROW]


def test_the_recorded_history_is_what_the_files_hold_up_to_the_resumed_step(stopped_at_step_3: Path) -> None:
    run = stopped_at_step_3
    recorded = read_recorded_history(run)
    assert recorded.metrics == read_metrics(run) and [r["step"] for r in recorded.metrics] == [1, 2, 3]
    assert recorded.held_out == [HELD_OUT_ROW]
    assert [r["step"] for r in read_recorded_history(run, through_step=1).metrics] == [1]
    assert read_recorded_history(run, through_step=1).held_out == []
    assert read_recorded_history(run / "missing") == type(recorded)([], [])
