"""Liveness verdicts from run.json, the heartbeat and the process table, with real processes."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from arc_console.rundir.runlog import RunLog
from arc_console.rundir.liveness import FIRST_STEP_ALLOWANCE_S, STALL_FLOOR_S, assess, heartbeat_age, stall_after_s
from arc_console.rundir.files import read_run_settings

HOST = socket.gethostname()


def test_a_stop_record_means_finished_whatever_the_process() -> None:
    settings = {"pid": 1, "host": HOST, "stopped": {"reason": "early_stop", "step": 12, "time": "2026-12-01T10:00:00"}}
    verdict = assess(settings, heartbeat_age_s=10_000.0, step_times=[1.0])
    assert verdict.state == "finished" and "early stop" in verdict.detail and "step 12" in verdict.detail


def test_a_live_process_on_this_host_is_running_and_a_killed_one_died() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        settings = {"pid": child.pid, "host": HOST, "started_at": time.time()}  # written after it started
        assert assess(settings, 0.5, [0.7]).state == "running"
    finally:
        child.kill()
        child.wait(timeout=30)
    verdict = assess(settings, 0.5, [0.7])
    assert verdict.state == "died" and str(child.pid) in verdict.detail


def test_a_reused_pid_is_not_the_trainer() -> None:
    # This test's own process started before "the run": a pid alive now but younger than the run is not it.
    settings = {"pid": os.getpid(), "host": HOST, "started_at": time.time() - 10 * 365 * 86400}
    assert assess(settings, 0.1, [0.7]).state == "died"


def test_on_another_host_silence_much_longer_than_a_step_is_reported() -> None:
    settings = {"pid": 4242, "host": "elsewhere", "started_at": time.time()}
    assert assess(settings, 20.0, [0.7, 0.8]).state == "running"  # under the floor
    silent = assess(settings, STALL_FLOOR_S + 1, [0.7, 0.8])
    assert silent.state == "silent" and "elsewhere" in silent.detail
    assert assess(settings, 100.0, [20.0]).state == "running"  # slow steps: 10 of them before it counts
    assert assess(settings, 201.0, [20.0]).state == "silent"
    assert stall_after_s([]) == FIRST_STEP_ALLOWANCE_S  # before the first step: compilation can take minutes


def test_a_run_directory_from_before_pids_is_unknown() -> None:
    assert assess({"model": "tiny"}, None, []).state == "unknown"


def test_runlog_names_its_process_beats_and_records_the_stop(tmp_path: Path) -> None:
    runlog = RunLog(tmp_path / "run")
    runlog.write_run_info({"max_steps": 3})
    info = read_run_settings(tmp_path / "run")
    assert info["pid"] == os.getpid() and info["host"] == HOST and "stopped" not in info
    age = heartbeat_age(runlog.heartbeat_path, time.time())
    assert age is not None and age < 5
    runlog.record_stop("max_steps", 3)
    stop = read_run_settings(tmp_path / "run")["stopped"]
    assert stop["reason"] == "max_steps" and stop["step"] == 3 and stop["time"]
    assert read_run_settings(tmp_path / "run")["max_steps"] == 3


def test_the_status_line_shows_a_death_literally_and_a_new_start_clears_it() -> None:
    from arc_console.engine import events as ev
    from arc_console.tui.run_view import RunView
    from arc_console.tui.widgets.status_bar import status_text

    view = RunView()
    view.apply(ev.RunStarted("r", "tiny", "hf", "cpu", "dapo", 1, 10, 4, []))
    view.step_durations = [0.7]
    assert "ETA" in status_text(view, watching=True).plain
    hostile = "the trainer (pid 7 on [bold]x[/]\x1b[31m) is gone"
    assert view.apply(ev.TrainerLiveness("died", hostile)) == {"status"}
    text = status_text(view, watching=True)
    assert "DIED" in text.plain and "[bold]x[/]" in text.plain and "\x1b" not in text.plain
    assert "ETA" not in text.plain
    view.apply(ev.RunStarted("r", "tiny", "hf", "cpu", "dapo", 3, 10, 4, []))  # resumed
    assert view.lost is None and "DIED" not in status_text(view, watching=True).plain


def test_a_folder_moved_aside_whose_replacement_never_came_is_put_back(tmp_path: Path) -> None:
    """A process killed between staged_folder's two renames leaves `.old-final_model` and no final_model:
    the next start restores it (the last good model), and still clears real leftovers."""
    run = tmp_path / "run"
    (run / ".old-final_model").mkdir(parents=True)
    (run / ".old-final_model/config.json").write_text("{}")
    (run / "checkpoints/.old-checkpoint-0002").mkdir(parents=True)  # replaced: its successor is there
    (run / "checkpoints/checkpoint-0002").mkdir()
    (run / ".staging-final_model-x1").mkdir()
    runlog = RunLog(run)
    assert (run / "final_model/config.json").read_text() == "{}"
    assert not (run / ".old-final_model").exists() and not (run / ".staging-final_model-x1").exists()
    assert not (run / "checkpoints/.old-checkpoint-0002").exists() and (run / "checkpoints/checkpoint-0002").is_dir()
    assert sorted(Path(p).name for p in runlog.removed_leftovers) == [".old-checkpoint-0002", ".staging-final_model-x1"]
