"""Data parallel on the CPU with gloo: real processes, the tiny model (issue 18)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from child_output import ChildOutput
from cli_in_process import usage_error
from faults import fault_env
from safetensors.torch import load_file

from arc_console.distributed.ranks import TIMEOUT_ENV

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




@pytest.mark.slow
@pytest.mark.timeout(660)
@pytest.mark.parametrize("settings", [
    [],
    # Each rank shows its slots under the views one process would (the views are drawn in slot order), and
    # Dr. GRPO's constant denominator is the step's sequences, summed over the ranks.
    ["--augment", "dihedral+colors", "--objective", "dr_grpo"],
])
def test_torchrun_two_ranks_equal_one_process(tmp_path: Path, settings: list[str], warm_cli) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    # The one-process reference is a fresh process from the warm launcher (tests/support/warm_cli.py); the
    # ranks are torchrun's own.
    single = warm_cli.run(["train", *FAST, *settings, "--max-steps", "2", "--out", str(one)], timeout=300)
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


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_stop_from_rank_0_then_kill_9_of_a_rank_then_resume_with_one_process(tmp_path: Path, warm_cli) -> None:
    run = tmp_path / "run"
    args = [*CLI, "train", *FAST, "--max-steps", "1000", "--checkpoint-every", "1", "--out", str(run), "--nproc", "2"]
    launcher = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with ChildOutput(launcher) as child:
        child.wait_for_line(lambda line: line.startswith("step 1/"), timeout=240)
        follower = psutil.Process(rank_pid(launcher, 1))
        psutil.Process(rank_pid(launcher, 0)).send_signal(signal.SIGINT)  # rank 0 alone: the stop must reach rank 1
        assert child.finish(timeout=120) == 0, child.transcript()
    out, err = child.stdout, child.stderr
    assert not follower.is_running() or follower.status() == psutil.STATUS_ZOMBIE
    assert "stopped (stop requested)" in out and "Traceback" not in err
    assert json.loads((run / "logs/run.json").read_text())["stopped"]["reason"] == "stop_requested"
    saved = sorted(int(p.name.split("_")[1]) for p in (run / "checkpoints").glob("step_*"))
    assert saved

    resumed = subprocess.Popen([*CLI, "train", "--headless", "--resume", str(run), "--nproc", "2"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with ChildOutput(resumed) as child:
        child.wait_for_line(lambda line: line.startswith(f"step {saved[-1] + 1}/"), timeout=240)
        killed_at = time.monotonic()
        psutil.Process(rank_pid(resumed, 1)).kill()
        assert child.finish(timeout=90) != 0
    err = child.stderr
    assert time.monotonic() - killed_at < 60
    assert "a rank of the 2 processes failed" in err and f"--resume {run} --headless --nproc 2" in err
    last = max(int(p.name.split("_")[1]) for p in (run / "checkpoints").glob("step_*"))

    # The one-process resume: a fresh process from the warm launcher (tests/support/warm_cli.py).
    again = warm_cli.run(["train", "--headless", "--resume", str(run), "--max-steps", str(last + 1)], timeout=300)
    assert again.returncode == 0, again.stderr
    assert f"step {last + 1}/{last + 1}" in again.stdout
    assert (run / f"checkpoints/step_{last + 1}/trainer_state.json").is_file()


@pytest.mark.slow
@pytest.mark.timeout(360)
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


def test_bad_process_counts_are_refused_before_anything_starts(tmp_path: Path, capsys) -> None:
    run = tmp_path / "run"
    odd = usage_error(["train", *FAST, "--problems-per-step", "3", "--nproc", "2", "--out", str(run)], capsys)
    assert odd.startswith("arc-console: error: --problems-per-step 3 is not a multiple")
    assert "--nproc must be at least 1" in usage_error(["train", *FAST, "--nproc", "0", "--out", str(run)], capsys)
    assert not run.exists()


@pytest.mark.slow
def test_pause_and_stop_of_rank_0_reach_every_rank(tmp_path: Path) -> None:
    """The trainer's safe-point calls (control_sync) between real gloo processes: rank 0 pauses, resumes, stops."""
    report = tmp_path / "follower.json"
    worker = Path(__file__).with_name("distributed_control_worker.py")
    done = subprocess.run([*TORCHRUN, str(worker), str(report)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(report.read_text()) == {"paused_after_sync": True, "waited_rounds": 3, "resumed": True,
                                              "stopped": True}


@pytest.fixture(scope="module")
def update_report(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """distributed_update_worker.py under torchrun: each objective's update with the groups split 2/1 or 3/0,
    and DAPO's draws split unevenly, each beside the same in one process."""
    report = tmp_path_factory.mktemp("update") / "report.json"
    worker = Path(__file__).with_name("distributed_update_worker.py")
    # A cache of its own: both ranks build the random tiny model at once, after joining the process group (where
    # transformers' save_pretrained writes on rank 0 only), as a torchrun run on a fresh machine does.
    cache = tmp_path_factory.mktemp("cache")
    done = subprocess.run([*TORCHRUN, str(worker), str(report)], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "ARC_CONSOLE_CACHE": str(cache)})
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(report.read_text())


@pytest.mark.slow
@pytest.mark.parametrize("case", ["dapo-uneven", "grpo-uneven", "dr_grpo-uneven", "preference-uneven", "dapo-empty",
                                  "grpo-empty"])
def test_an_update_over_ranks_is_one_processs_update(update_report: dict, case: str) -> None:
    """Each rank scales its loss by its share of the step's count (the objective's denominator: DAPO's loss
    tokens, GRPO's candidates, Dr. GRPO's candidates x --max-new-tokens, the seed's rule's groups) and the gradients are summed: the weights are those of one process with every group,
    whether the ranks hold 2 and 1 groups of different lengths or one rank holds none (it follows the update
    with a zero gradient of its own). Two updates on the rollout, so the clip and the KL are live."""
    result = update_report[case]
    assert result["ranks_agree"] == 0.0  # every rank holds the same weights after the step
    assert result["moved"] > 1e-3  # the update did something
    assert result["equals_one_process"] < 5e-5, result["equals_one_process"]
    for name, (ranks, alone) in result["figures"].items():
        if alone is None:
            assert ranks is None, name
        else:
            assert ranks == pytest.approx(alone, rel=1e-5, abs=1e-7), name


def test_draws_split_slots_unevenly_and_keep_what_one_process_keeps(update_report: dict) -> None:
    """3 slots over 2 ranks (1 and 2), refills of 2 (1 and 1) and 1 (none and 1): every rank sees every group in
    slot order, keeps what one process keeps, and rank 0, which rolled out no kept group, trains on none."""
    draws = update_report["draws"]
    assert draws["rolled"] == [[[0], [3]], [[1, 2], [4], [5]]]
    assert draws["drawn"] == [draws["alone_drawn"]] * 2 == [[0, 1, 2, 3, 4, 5]] * 2
    assert draws["kept"] == draws["alone_kept"] == [1, 4, 5] and draws["rounds"] == draws["alone_rounds"] == 3
    assert draws["mine"] == [[], [1, 4, 5]]


def test_slot_shares_are_contiguous_and_differ_by_at_most_one() -> None:
    from arc_console.engine.dynamic_sampling import share_of

    for world in (2, 3, 4):
        for count in range(0, 9):
            shares = [share_of(5, count, rank, world) for rank in range(world)]
            assert [slot for share in shares for slot in share] == list(range(5, 5 + count))
            sizes = [len(share) for share in shares]
            assert max(sizes) - min(sizes) <= 1


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_hung_rank_times_out_and_the_run_keeps_its_checkpoint(tmp_path: Path) -> None:
    """A rank that hangs without dying (SIGSTOP) holds the others in a collective: they give up after
    ARC_CONSOLE_COLLECTIVE_TIMEOUT_S (5 s here, 600 by default), record the failed step with the time-out,
    keep the last complete checkpoint and say how to resume, rather than waiting for ever."""
    run = tmp_path / "run"
    env = {**os.environ, TIMEOUT_ENV: "5"}
    launcher = subprocess.Popen([*CLI, "train", *FAST, "--max-steps", "1000", "--checkpoint-every", "1", "--out", str(run),
                                 "--nproc", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    with ChildOutput(launcher) as child:
        child.wait_for_line(lambda line: line.startswith("step 1/"), timeout=240)
        hung = psutil.Process(rank_pid(launcher, 1))
        hung.suspend()
        hung_at = time.monotonic()
        try:
            # Rank 0 gives up on its own after the 5 s time-out and says so...
            child.wait_for_line(lambda line: line.startswith("arc-console: error: step "), timeout=180,
                                stream="stderr")
            waited = time.monotonic() - hung_at
            # ...and the launcher would wait 30 s for the hung rank to take its SIGTERM: an operator kills it.
            hung.kill()
            code = child.finish(timeout=120)
        finally:
            if hung.is_running():
                hung.kill()
    assert code != 0, child.transcript()
    assert waited < 90, waited
    failed = [line for line in child.stderr.splitlines() if line.startswith("arc-console: error: step ")]
    assert failed and "failed" in failed[0] and "Timed out waiting 5000ms" in failed[0], child.stderr[-3000:]
    assert f"--resume {run} --headless --nproc 2" in child.stderr.strip().splitlines()[-1]
    stopped = json.loads((run / "logs/run.json").read_text())["stopped"]
    assert stopped["reason"] == "error"
    last = max(int(p.name.split("_")[1]) for p in (run / "checkpoints").glob("step_*"))
    assert last == stopped["step"] and (run / f"checkpoints/step_{last}/trainer_state.json").is_file()
    assert "Timed out" in (run / "logs/training.log").read_text()
