"""Resuming with the command the user ran plus --resume: the run's own --preset is accepted (it was
refused with "a resumed run keeps the settings saved"), another preset is refused in one line with
exit 2 and nothing touched. run.json records the preset; `runs` shows when the run first started and,
apart, when it was resumed (it showed the resume as "started"). Real trainer processes (the two that train
forked by the warm launcher, tests/support/warm_cli.py; the refused one is `python -m arc_console`)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

CLI = [sys.executable, "-m", "arc_console"]

pytestmark = pytest.mark.slow  # real training runs
FAST = ["--max-new-tokens", "8", "--overlong-buffer", "2", "--num-candidates", "2"]


def train(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, "train", "--headless", *args, *FAST], capture_output=True, text=True, cwd=cwd,
                          stdin=subprocess.DEVNULL, timeout=300)


def warm_train(warm_cli, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """train() for a run that trains: a fresh process from the warm launcher (the `warm_cli` fixture)."""
    return warm_cli.run(["train", "--headless", *args, *FAST], timeout=300, cwd=cwd)


def run_json(run: Path) -> dict:
    return json.loads((run / "logs" / "run.json").read_text())


@pytest.fixture(scope="module")
def resumed(tmp_path_factory: pytest.TempPathFactory, warm_cli) -> tuple[Path, dict, dict]:
    """A tiny run of 1 step, resumed to 2 with the same command plus --resume; run.json after each."""
    root = tmp_path_factory.mktemp("resume-preset")
    first = warm_train(warm_cli, "--preset", "tiny", "--max-steps", "1", "--out", "run", cwd=root)
    assert first.returncode == 0, first.stderr
    before = run_json(root / "run")
    time.sleep(1.1)  # the resume starts in a later second
    again = warm_train(warm_cli, "--preset", "tiny", "--max-steps", "2", "--resume", "run", cwd=root)
    assert again.returncode == 0, again.stderr
    assert "stopped (max steps) after step 2" in again.stdout
    return root / "run", before, run_json(root / "run")


def test_the_runs_own_preset_is_accepted_at_resume_and_recorded(resumed: tuple[Path, dict, dict]) -> None:
    run, before, after = resumed
    assert before["preset"] == "tiny" and after["preset"] == "tiny"
    assert after["resumed_from"] and after["config"]["max_steps"] == 2


def test_another_preset_is_refused_in_one_line_and_nothing_changes(resumed: tuple[Path, dict, dict]) -> None:
    run, _, after = resumed
    files = {p: p.stat().st_mtime_ns for p in run.rglob("*")}
    out = train("--preset", "gpt-oss-20b", "--max-steps", "3", "--resume", str(run), cwd=run.parent)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.splitlines() == [
        f"arc-console: error: --preset gpt-oss-20b: this run was started with preset tiny; a resumed run keeps "
        f"the settings saved in {run}/checkpoints/step_2: leave out --preset, or change single settings with flags "
        "or --config"]
    assert {p: p.stat().st_mtime_ns for p in run.rglob("*")} == files


def test_runs_shows_the_first_start_and_the_resume(resumed: tuple[Path, dict, dict]) -> None:
    run, before, after = resumed
    assert after["first_started"] == before["started"] == before["first_started"]
    assert after["started"] > before["started"]
    out = subprocess.run([*CLI, "runs", str(run), "--json"], capture_output=True, text=True, timeout=120)
    summary = json.loads(out.stdout)[0]
    assert (summary["started"], summary["resumed"]) == (before["started"], after["started"])
    table = subprocess.run([*CLI, "runs", str(run)], capture_output=True, text=True, timeout=120).stdout.splitlines()
    assert table[0].split()[-2:] == ["started", "resumed"]
    assert table[1].split()[-4:] == [*before["started"][:16].split("T"), *after["started"][:16].split("T")]


def test_a_run_that_never_recorded_its_preset_takes_the_one_its_settings_match(tmp_path: Path, warm_cli) -> None:
    """A run from before run.json named its preset and first start (here: resumed once already): --preset
    tiny is accepted where the saved model and backend are tiny's, and the run records it from then on;
    gpt-oss-20b's are not its settings. Its first start is then training.log's first line."""
    first = warm_train(warm_cli, "--preset", "tiny", "--max-steps", "1", "--out", "run", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    settings = run_json(tmp_path / "run")
    del settings["preset"], settings["first_started"]
    settings.update(resumed_from=str(tmp_path / "run" / "checkpoints" / "step_1"), started="2030-01-01T00:00:00")
    (tmp_path / "run" / "logs" / "run.json").write_text(json.dumps(settings))
    first_line = (tmp_path / "run" / "logs" / "training.log").read_text().splitlines()[0]
    logged = first_line[:19].replace(" ", "T")
    out = subprocess.run([*CLI, "runs", "run", "--json"], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert [(r["started"], r["resumed"]) for r in json.loads(out.stdout)] == [(logged, "2030-01-01T00:00:00")]

    refused = train("--preset", "gpt-oss-20b", "--max-steps", "2", "--resume", "run", cwd=tmp_path)
    assert refused.returncode == 2
    assert "this run was not started with preset gpt-oss-20b (model 'tiny')" in refused.stderr
    accepted = warm_train(warm_cli, "--preset", "tiny", "--max-steps", "2", "--resume", "run", cwd=tmp_path)
    assert accepted.returncode == 0, accepted.stderr
    after = run_json(tmp_path / "run")
    assert after["preset"] == "tiny" and after["first_started"] == logged
