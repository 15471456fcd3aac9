"""Runs that die: kill -9 before the first step and mid-run, then --resume completes the run with
contiguous steps; a step that raises (CUDA out of memory, injected) exits 1 with a checkpoint."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from child_output import ChildOutput

from arc_console.rundir.files import list_step_files
from faults import fault_env
from warm_cli import WarmProcess

pytestmark = pytest.mark.slow

TRAIN = ["train", "--headless"]
CLI = [sys.executable, "-m", "arc_console", *TRAIN]
FAST = ["--max-new-tokens", "12", "--overlong-buffer", "4", "--num-candidates", "4", "--max-extra-draws", "1"]


def kill_when(condition, proc: subprocess.Popen | WarmProcess, timeout: float = 240.0) -> str:
    """Kill -9 the trainer once condition() holds; what it wrote on stderr."""
    warm = isinstance(proc, WarmProcess)
    streams = {"stderr": proc.stderr_fd} if warm and proc.stderr_fd >= 0 else None
    with ChildOutput(proc, streams) as child:
        child.wait_until(condition, timeout, "the moment to kill the trainer")
        os.kill(proc.pid, signal.SIGKILL)
        child.finish(timeout=30)
    if warm:
        proc.close()
        return child.stderr if streams else ""
    return child.stderr if proc.stderr is not None else ""


@pytest.mark.timeout(900)
def test_kill_9_before_the_first_step_and_mid_run_then_resume(tmp_path: Path, warm_cli) -> None:
    run = tmp_path / "run"
    # The first start and the last resume are `python -m arc_console` itself; the two killed resumes between
    # are fresh processes from the warm launcher (tests/support/warm_cli.py), without the seconds of imports.
    log = run / "logs/training.log"
    # 1. Killed while loading the model: no run.json, no checkpoint. --resume starts it with its flags.
    proc = subprocess.Popen([*CLI, "--preset", "tiny", "--out", str(run), "--max-steps", "4", *FAST],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    kill_when(lambda: log.exists() and "loading model" in log.read_text(), proc)
    assert not (run / "logs/run.json").exists()
    # 2. Resumed, then killed inside step 1 (run.json written, no step finished).
    proc = warm_cli.start([*TRAIN, "--resume", str(run), "--max-steps", "4", *FAST], stdout=False, stderr=True)
    err = kill_when(lambda: (run / "logs/run.json").exists(), proc)
    assert "no complete checkpoint: starting it again from step 1" in err
    assert not (run / "logs/metrics.jsonl").exists()
    # 3. Resumed with its saved settings (run.json), killed after a checkpoint, mid-run.
    proc = warm_cli.start([*TRAIN, "--resume", str(run), "--checkpoint-every", "1"], stdout=False, stderr=True)
    err = kill_when(lambda: (run / "checkpoints/step_2/trainer_state.json").exists(), proc)
    assert "with its saved settings" in err
    # 4. Resumed from the checkpoint: completes with steps 1..4, once each.
    done = subprocess.run([*CLI, "--resume", str(run)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert [f.step for f in list_step_files(run / "logs/responses")] == [1, 2, 3, 4]
    assert [json.loads(x)["step"] for x in (run / "logs/metrics.jsonl").read_text().splitlines()] == [1, 2, 3, 4]
    abandoned = sorted(p.name for p in (run / "logs").glob("abandoned-*"))
    assert len(abandoned) == 2  # the two partial starts, kept aside
    assert "partial logs moved to" in log.read_text()


@pytest.mark.timeout(360)
def test_out_of_memory_inside_a_step_exits_1_with_a_hint_and_a_checkpoint(tmp_path: Path) -> None:
    run = tmp_path / "run"
    env = fault_env(raise_at_step="2:oom")
    out = subprocess.run([*CLI, "--preset", "tiny", "--out", str(run), "--max-steps", "4", *FAST],
                         capture_output=True, text=True, timeout=300, env=env)
    assert out.returncode == 1
    errors = [line for line in out.stderr.splitlines() if line.startswith("arc-console: ") and "preset" not in line]
    assert len(errors) == 2, out.stderr
    assert errors[0].startswith("arc-console: error: step 2 failed: OutOfMemoryError")
    assert "--max-new-tokens" in errors[1] and "--rollout-experts packed" in errors[1]
    assert "--update-micro-rows" in errors[1]
    assert "Traceback" not in out.stderr
    assert (run / "checkpoints/step_1/trainer_state.json").is_file() and (run / "final_model/config.json").is_file()
    assert "OutOfMemoryError" in (run / "logs/training.log").read_text()
