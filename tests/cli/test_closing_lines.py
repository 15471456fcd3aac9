"""A training run closes with one line saying how it stopped, in training.log's words, and that line is
the same whether the run was headless or in the dashboard (one function writes it): the headless one
printed "checkpoint X, final model Y", the dashboard's "checkpoint X; final model Y", and both said
"max steps" where training.log said "max_steps"."""

from __future__ import annotations

from pathlib import Path

import pytest

from arc_console.cli.session import train_with_dashboard
from arc_console.config import build_config
from headless_console import headless_consoles

FAST = {"model": "tiny-random", "max_new_tokens": 8, "overlong_buffer": 2, "num_candidates": 2, "max_steps": 1}


def closing_line(stdout: str, run: Path) -> str:
    lines = [line for line in stdout.splitlines() if line.startswith("stopped ")]
    assert len(lines) == 1, stdout
    return lines[0].replace(str(run), "RUN")


def log_stop_line(run: Path) -> str:
    lines = [line for line in (run / "logs" / "training.log").read_text().splitlines() if " stopped (" in line]
    assert len(lines) == 1
    return lines[0].split(" INFO    ", 1)[1]


@pytest.mark.slow
def test_headless_and_dashboard_close_with_the_same_line_in_the_logs_words(tmp_path: Path, capsys, warm_cli) -> None:
    flags = [word for key, value in FAST.items() for word in (f"--{key.replace('_', '-')}", str(value))]
    headless_run = tmp_path / "headless"
    # The headless run in a fresh process (from the warm launcher, tests/support/warm_cli.py), as a user starts it.
    out = warm_cli.run(["train", "--headless", "--preset", "tiny", "--out", str(headless_run), *flags], timeout=300)
    assert out.returncode == 0, out.stderr
    headless = closing_line(out.stdout, headless_run)

    dashboard_run = tmp_path / "dashboard"
    config = build_config("tiny", None, FAST)
    with headless_consoles():  # the command's console on Textual's headless driver, q once the run has finished
        assert train_with_dashboard(config, dashboard_run, None, None) == 0
    dashboard = closing_line(capsys.readouterr().out, dashboard_run)

    assert headless == dashboard == ("stopped (max steps) after step 1; checkpoint RUN/checkpoints/step_1, "
                                     "final model RUN/final_model")
    for run in (headless_run, dashboard_run):
        assert log_stop_line(run) == "stopped (max steps) after step 1"  # the closing line's words
