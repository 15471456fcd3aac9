"""What a given-up save leaves in the run directory (cli/session.record_given_up), on a real tiny trainer:
the trainer's own record where its save finished first, and nothing at all before run.json holds the
run's settings. The interrupted record itself is made by real processes in tests/test_cli_train.py and
tests/reliability/test_signals_dashboard.py."""

import json
import signal
from pathlib import Path

import pytest

from arc_console.cli.session import record_given_up
from arc_console.engine.control import RunControl

from helpers import make_trainer


@pytest.fixture(autouse=True)
def stop_handlers_restored():
    """record_given_up leaves SIGINT and SIGTERM ignored (its process ends right after): put them back."""
    saved = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


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
    assert str(interrupt).startswith(f"the run had stopped (stop requested) after step {before['step']}, saved, "
                                     "before the interrupt; resume with: "), str(interrupt)
    assert str(interrupt).endswith(f"train --resume {run}")
    assert run_json(run)["stopped"] == before and before["reason"] == "stop_requested"
    assert "interrupted" not in (run / "logs/training.log").read_text()


def test_a_run_that_had_reached_its_max_steps_resumes_with_more(tmp_path: Path) -> None:
    run = tmp_path / "run"
    trainer, _ = make_trainer(run, max_steps=1)
    trainer.run()
    interrupt = record_given_up(trainer, run, headless=True)
    assert str(interrupt).endswith(f"train --resume {run} --max-steps 2 --headless"), str(interrupt)
    assert run_json(run)["stopped"]["reason"] == "max_steps"


def test_nothing_is_recorded_before_the_run_settings_are_written(tmp_path: Path) -> None:
    run = tmp_path / "run"
    trainer, _ = make_trainer(run, max_steps=1)  # set up, not run: run.json is written when the run starts
    assert not (run / "logs/run.json").exists()
    interrupt = record_given_up(trainer, run, headless=True)
    assert str(interrupt).startswith("resume from step 1 (no checkpoint was saved) with: ")
    assert not (run / "logs/run.json").exists()
