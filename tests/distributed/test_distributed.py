"""Data parallel on the CPU with gloo: real processes, the tiny model (issue 18)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import torch
from safetensors.torch import load_file

from faults import fault_env

CLI = [sys.executable, "-m", "arc_console"]
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
FAST = ["--headless", "--preset", "tiny", "--model", "tiny-random", "--max-new-tokens", "12", "--overlong-buffer", "4",
        "--num-candidates", "4", "--problems-per-step", "2"]


def candidates(run: Path, step: int) -> list[tuple[list[str], dict | None]]:
    """Each group of the step: its candidates' texts and the view its problem was shown under."""
    record = json.loads((run / f"logs/responses/step_{step:03d}.json").read_text())
    groups = [record] + record.get("extra_groups", [])
    return [([c["response_text"] for c in g["candidates"]], g.get("view")) for g in groups]


def rank_pid(launcher: subprocess.Popen, rank: int) -> int:
    """The pid of a rank under a launcher (--nproc or torchrun), found by its RANK variable."""
    for child in psutil.Process(launcher.pid).children(recursive=True):
        try:
            if child.environ().get("RANK") == str(rank) and "arc_console" in child.cmdline():
                return child.pid
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    raise AssertionError(f"no rank {rank} under {launcher.pid}")


def wait_for_line(proc: subprocess.Popen, prefix: str) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith(prefix):
            return
    raise AssertionError(f"the run ended before a line starting {prefix!r}: {proc.wait()}")


@pytest.mark.parametrize("settings", [
    [],
    # Each rank shows its slots under the views one process would (the views are drawn in slot order), and
    # Dr. GRPO's constant denominator is the step's sequences, summed over the ranks.
    pytest.param(["--augment", "dihedral+colors", "--objective", "dr_grpo"], marks=pytest.mark.slow),
])
def test_torchrun_two_ranks_equal_one_process(tmp_path: Path, settings: list[str]) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    single = subprocess.run([*CLI, "train", *FAST, *settings, "--max-steps", "2", "--out", str(one)],
                            capture_output=True, text=True, timeout=300)
    assert single.returncode == 0, single.stderr
    ranks = subprocess.run([*TORCHRUN, "-m", "arc_console", "train", *FAST, *settings, "--max-steps", "2", "--out",
                            str(two)], capture_output=True, text=True, timeout=300)
    assert ranks.returncode == 0, ranks.stderr
    for step in (1, 2):
        assert candidates(one, step) == candidates(two, step)
        assert all((view is not None) == bool(settings) for _, view in candidates(one, step))
        drawn = json.loads((two / f"logs/responses/step_{step:03d}.json").read_text())["groups_drawn"]
        assert len(candidates(two, step)) == drawn >= 2  # rank 0's step file holds every rank's groups
    first, second = load_file(one / "final_model/model.safetensors"), load_file(two / "final_model/model.safetensors")
    assert first.keys() == second.keys()
    assert max(float((first[k] - second[k]).abs().max()) for k in first) <= 1e-4
    metrics = [json.loads(line) for line in (two / "logs/metrics.jsonl").read_text().splitlines()]
    reference = [json.loads(line) for line in (one / "logs/metrics.jsonl").read_text().splitlines()]
    for got, want in zip(metrics, reference, strict=True):
        for key in ("loss", "groups_kept", "groups_drawn", "tokens", "entropy", "reward_mean"):
            if key in want:
                assert got[key] == pytest.approx(want[key], abs=1e-4), key
    log = (two / "logs/training.log").read_text()
    assert "data parallel: 2 ranks (gloo), 2 problems per step, 1 per rank" in log
    # Rank 1 prints nothing but errors: the only step lines are rank 0's.
    assert ranks.stdout.count("step 1/2") == 1 and "rank 1" not in ranks.stderr
    assert "(cpu, 2 ranks)" in ranks.stdout  # the world size, in the start line and the dashboard's device


def test_stop_from_rank_0_then_kill_9_of_a_rank_then_resume_with_one_process(tmp_path: Path) -> None:
    run = tmp_path / "run"
    args = [*CLI, "train", *FAST, "--max-steps", "1000", "--checkpoint-every", "1", "--out", str(run), "--nproc", "2"]
    launcher = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_line(launcher, "step 1/")
    follower = psutil.Process(rank_pid(launcher, 1))
    psutil.Process(rank_pid(launcher, 0)).send_signal(signal.SIGINT)  # rank 0 alone: the stop must reach rank 1
    out, err = launcher.communicate(timeout=120)
    assert launcher.returncode == 0, err
    assert not follower.is_running() or follower.status() == psutil.STATUS_ZOMBIE
    assert "stopped (stop requested)" in out and "Traceback" not in err
    assert json.loads((run / "logs/run.json").read_text())["stopped"]["reason"] == "stop_requested"
    saved = sorted(int(p.name.split("_")[1]) for p in (run / "checkpoints").glob("step_*"))
    assert saved

    resumed = subprocess.Popen([*CLI, "train", "--headless", "--resume", str(run), "--nproc", "2"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_line(resumed, f"step {saved[-1] + 1}/")
    killed_at = time.monotonic()
    psutil.Process(rank_pid(resumed, 1)).kill()
    _, err = resumed.communicate(timeout=90)
    assert time.monotonic() - killed_at < 60
    assert resumed.returncode != 0
    assert "a rank of the 2 processes failed" in err and f"--resume {run} --headless --nproc 2" in err
    last = max(int(p.name.split("_")[1]) for p in (run / "checkpoints").glob("step_*"))

    again = subprocess.run([*CLI, "train", "--headless", "--resume", str(run), "--max-steps", str(last + 1)],
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert f"step {last + 1}/{last + 1}" in again.stdout
    assert (run / f"checkpoints/step_{last + 1}/trainer_state.json").is_file()


@pytest.mark.slow
def test_a_step_that_raises_on_every_rank_keeps_the_last_checkpoint(tmp_path: Path) -> None:
    """A fault the test injects into every torchrun rank (faults.fault_env): step 2's update raises on each;
    every rank reports it and exits 1, and rank 0 keeps step 1's checkpoint and writes the final model."""
    run = tmp_path / "run"
    done = subprocess.run([*TORCHRUN, "-m", "arc_console", "train", *FAST, "--max-steps", "3", "--checkpoint-every",
                           "1", "--out", str(run)], capture_output=True, text=True, timeout=300,
                          env=fault_env(raise_at_step="2"))
    assert done.returncode != 0
    assert "arc-console: rank 1: error: step 2 failed: InjectedFailure" in done.stderr  # the fault reached rank 1
    assert "step 2 failed: InjectedFailure" in (run / "logs/training.log").read_text()  # ... and rank 0
    stopped = json.loads((run / "logs/run.json").read_text())["stopped"]
    assert stopped["reason"] == "error" and stopped["step"] == 1
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step_1"]
    assert (run / "final_model/model.safetensors").is_file()


def test_bad_process_counts_are_refused_before_anything_starts(tmp_path: Path) -> None:
    run = tmp_path / "run"
    odd = subprocess.run([*CLI, "train", *FAST, "--problems-per-step", "3", "--nproc", "2", "--out", str(run)],
                         capture_output=True, text=True, timeout=120)
    assert odd.returncode == 2
    assert odd.stderr.strip().splitlines()[-1].startswith("arc-console: error: --problems-per-step 3 is not a multiple")
    zero = subprocess.run([*CLI, "train", *FAST, "--nproc", "0", "--out", str(run)], capture_output=True, text=True,
                          timeout=120)
    assert zero.returncode == 2 and "--nproc must be at least 1" in zero.stderr
    assert not run.exists()


def test_pause_and_stop_of_rank_0_reach_every_rank(tmp_path: Path) -> None:
    """The trainer's safe-point calls (control_sync) between real gloo processes: rank 0 pauses, resumes, stops."""
    report = tmp_path / "follower.json"
    worker = Path(__file__).with_name("distributed_control_worker.py")
    done = subprocess.run([*TORCHRUN, str(worker), str(report)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(report.read_text()) == {"paused_after_sync": True, "waited_rounds": 3, "resumed": True,
                                              "stopped": True}
