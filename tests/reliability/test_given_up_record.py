"""What a given-up save leaves in the run directory (cli/session.record_given_up), on a real tiny trainer:
the trainer's own record where its save finished first, and nothing at all before run.json holds the
run's settings. The interrupted record itself is made by real processes in tests/test_cli_train.py and
tests/reliability/test_signals_dashboard.py."""

import json
from pathlib import Path

from arc_console.cli.session import record_given_up
from arc_console.engine.control import RunControl

from helpers import make_trainer


def run_json(run: Path) -> dict:
    return json.loads((run / "logs/run.json").read_text())


def test_a_save_that_finished_first_keeps_its_own_record(tmp_path: Path) -> None:
    run = tmp_path / "run"
    control = RunControl()
    trainer, _ = make_trainer(run, control=control, max_steps=3, checkpoint_every=1)
    control.request_stop()
    trainer.run()
    before = run_json(run)["stopped"]
    interrupt = record_given_up(trainer, run, headless=False)
    assert str(interrupt).startswith("the stop was saved before the interrupt (checkpoint step_")
    assert run_json(run)["stopped"] == before and before["reason"] == "stop_requested"
    assert "interrupted" not in (run / "logs/training.log").read_text()


def test_nothing_is_recorded_before_the_run_settings_are_written(tmp_path: Path) -> None:
    run = tmp_path / "run"
    trainer, _ = make_trainer(run, max_steps=1)  # set up, not run: run.json is written when the run starts
    assert not (run / "logs/run.json").exists()
    interrupt = record_given_up(trainer, run, headless=True)
    assert str(interrupt).startswith("resume from step 1 (no checkpoint was saved) with: ")
    assert not (run / "logs/run.json").exists()
