"""kill -9 at random moments, 20 times over one run directory: nothing half-written survives,
and --resume continues from the last complete checkpoint with contiguous step files.

The first run and the last resume are `python -m arc_console` itself; the 19 runs between are forked by a warm
launcher (tests/support/warm_cli.py) that has imported torch and the trainer once, so each is a fresh process
that loads the model, trains and is killed as any other, without seconds of imports before its first step."""

import json
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from child_output import ChildOutput

from arc_console.engine.checkpoint import STATE, latest_checkpoint
from arc_console.rundir.files import list_step_files, load_step_file

pytestmark = pytest.mark.slow

CLI = [sys.executable, "-m", "arc_console"]
# Checkpoints every step and short answers: the process is often inside a checkpoint or step write.
FAST = ["--max-new-tokens", "24", "--overlong-buffer", "4", "--num-candidates", "4", "--checkpoint-every", "1",
        "--early-stop-perfect", "0"]  # the run ends at its --max-steps, however well the model answers
KILLS = 20


def assert_everything_complete(run: Path) -> None:
    """Every file is absent or complete and valid (a killed process may leave hidden staging leftovers,
    which the next start removes; they are never read)."""
    for path in run.rglob("*"):
        if any(part.startswith(".") for part in path.relative_to(run).parts):
            continue
        if path.suffix == ".json" and path.is_file():
            json.loads(path.read_text())  # raises on a torn file
    for step_file in list_step_files(run / "logs/responses"):
        load_step_file(step_file.path)
    metrics = (run / "logs/metrics.jsonl")
    if metrics.exists():
        text = metrics.read_text()
        assert text == "" or text.endswith("\n")
        for line in text.splitlines():
            json.loads(line)
    for checkpoint in (run / "checkpoints").glob("step_*"):
        names = {p.name for p in checkpoint.iterdir()}
        assert {"trainable.safetensors", "optimizer.pt", "rng.pt", STATE} <= names, (checkpoint, names)


@pytest.mark.timeout(1200)
def test_kill_minus_9_twenty_times_then_resume(tmp_path: Path, warm_cli) -> None:
    rng = random.Random(1234)
    run = tmp_path / "run"
    kills = 0
    target = 4
    while kills < KILLS:
        resuming = latest_checkpoint(run / "checkpoints") is not None if (run / "checkpoints").exists() else False
        args = ["--resume", str(run)] if resuming else ["--preset", "tiny", "--out", str(run)]
        target += 3
        argv = ["train", "--headless", *args, "--max-steps", str(target), *FAST]
        if kills == 0:
            proc = subprocess.Popen([*CLI, *argv], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            child = ChildOutput(proc)
        else:
            proc = warm_cli.start(argv)
            child = ChildOutput(proc, {"stdout": proc.stdout_fd})
        with child:
            # Wait for the run to be under way (its first step line), then kill at a random moment.
            child.wait_for_line(lambda line: line.startswith("step "), timeout=180)
            child.drain(rng.uniform(0.0, 0.8))
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        kills += 1
        assert_everything_complete(run)
    last = latest_checkpoint(run / "checkpoints")
    assert last is not None
    done = json.loads((last / STATE).read_text())["step"]
    final = done + 2
    out = subprocess.run([*CLI, "train", "--headless", "--resume", str(run), "--max-steps", str(final), *FAST],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert_everything_complete(run)
    steps = [f.step for f in list_step_files(run / "logs/responses")]
    assert steps == list(range(1, final + 1))  # contiguous: none missing, none twice
    metric_steps = [json.loads(line)["step"] for line in (run / "logs/metrics.jsonl").read_text().splitlines()]
    assert metric_steps == list(range(1, final + 1))
    assert not [p for p in run.rglob(".*")]  # leftovers of the kills were cleaned up
