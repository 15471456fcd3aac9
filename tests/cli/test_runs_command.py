"""`arc-console runs`: real run directories written by real trainer processes, one finished, one killed."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

CLI = [sys.executable, "-m", "arc_console"]
FAST = ["--model", "tiny-random", "--max-new-tokens", "8", "--overlong-buffer", "2", "--num-candidates", "3"]


def runs_json(folder: Path) -> dict[str, dict]:
    out = subprocess.run([*CLI, "runs", str(folder), "--json"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return {run["name"]: run for run in json.loads(out.stdout)}


def wait_for(condition, timeout: float = 240.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


@pytest.mark.slow
def test_finished_running_and_killed_runs(tmp_path: Path, warm_cli) -> None:
    # The trainers are fresh processes from the warm launcher (tests/support/warm_cli.py); `runs` is the real command.
    runs = tmp_path / "runs"
    finished = warm_cli.run(["train", "--headless", "--preset", "tiny", "--max-steps", "2",
                             "--out", str(runs / "finished"), *FAST], timeout=300)
    assert finished.returncode == 0, finished.stderr
    (runs / "finished/logs/eval.jsonl").write_text('{"step": 1, "pass@2": 0.25}\n{"step": 2, "pass@2": 0.5}\n'
                                                   '{"step": 3, "pass@2": 0.4}\n')
    live = warm_cli.start(["train", "--headless", "--preset", "tiny", "--max-steps", "1000",
                           "--out", str(runs / "live"), *FAST], stdout=False)
    try:
        metrics = runs / "live/logs/metrics.jsonl"
        wait_for(lambda: metrics.exists() and metrics.read_text().count("\n") >= 1)
        table = runs_json(runs)
        assert table["finished"]["state"] == "stopped" and table["finished"]["why"] == "max steps"
        assert table["finished"]["step"] == 2 and table["finished"]["max_steps"] == 2
        assert table["finished"]["last_checkpoint"] == "step_2" and table["finished"]["best_pass_at_2"] == 0.5
        assert table["finished"]["started"] and table["finished"]["model"] == "tiny-random"
        assert table["live"]["state"] == "running" and table["live"]["step"] >= 1
    finally:
        live.send_signal(signal.SIGKILL)
        live.wait(timeout=60)
    # Killed: nothing says it stopped. Once its files have been quiet for a while it reads as crashed...
    long_ago = time.time() - 3600
    for path in (runs / "live/logs").iterdir():
        os.utime(path, (long_ago, long_ago))
    assert runs_json(runs)["live"]["state"] == "crashed"
    # ... and at once when the run recorded its process id (issue 23's run.json field).
    settings_path = runs / "live/logs/run.json"
    settings = json.loads(settings_path.read_text())
    settings_path.write_text(json.dumps({**settings, "pid": live.pid}))
    killed = runs_json(runs)["live"]
    assert killed["state"] == "crashed" and str(live.pid) in killed["why"]
    # A structured stop record (issue 24's) is believed first.
    settings_path.write_text(json.dumps({**settings, "pid": live.pid, "stopped": {"reason": "stop_requested"}}))
    assert runs_json(runs)["live"]["why"] == "stop requested"

    out = subprocess.run([*CLI, "runs", str(runs)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    header, *rows = out.stdout.splitlines()
    assert header.split() == ["run", "state", "steps", "pass@2", "perfect", "checkpoint", "started", "resumed"]
    assert rows[0].split()[:6] == ["finished", "stopped", "(max", "steps)", "2/2", "0.500"]


def test_untrusted_names_and_bad_input(tmp_path: Path) -> None:
    hostile = tmp_path / "runs" / "evil\x1b[31mred"
    (hostile / "logs").mkdir(parents=True)
    (hostile / "logs/run.json").write_text(json.dumps({"model": "[bold]x[/bold]", "started": "2026-12-01T10:00:00",
                                                       "stopped": {"reason": "error", "error": "boom\x1b]0;title\x07"}}))
    out = subprocess.run([*CLI, "runs", str(tmp_path / "runs")], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "\x1b" not in out.stdout and "evil\\x1b[31mred" in out.stdout and "boom\\x1b]0;title\\x07" in out.stdout
    (tmp_path / "empty").mkdir()
    out = subprocess.run([*CLI, "runs", str(tmp_path / "empty")], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "no run directories" in out.stdout
    out = subprocess.run([*CLI, "runs", str(tmp_path / "missing")], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and out.stderr.strip() == f"arc-console: error: {tmp_path / 'missing'}: no such folder"
