"""One base class for the errors a user can fix (issue 33): every layer's own error type is a UserError, and
every command shows one as a single line with its exit code, whichever layer raised it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from arc_console import UserError
from arc_console.arc import TaskError
from arc_console.cli.errors import UsageError
from arc_console.config import ConfigError
from arc_console.engine.checkpoint_files import CheckpointError
from arc_console.engine.export import ExportError
from arc_console.engine.model_path import BackendError
from arc_console.evaluation.settings import SettingsError
from arc_console.reporting.targets import ReportingError
from arc_console.rundir.files import RunFileError

CLI = [sys.executable, "-m", "arc_console"]


@pytest.mark.parametrize("error", [TaskError, ConfigError, SettingsError, BackendError, CheckpointError, ExportError,
                                   ReportingError, RunFileError, UsageError])
def test_every_layers_user_error_is_a_user_error_with_exit_code_2(error: type[Exception]) -> None:
    assert issubclass(error, UserError) and error("x").exit_code == 2


def test_the_old_bases_still_hold() -> None:  # callers that catch ValueError or RuntimeError keep catching them
    assert issubclass(TaskError, ValueError) and issubclass(ConfigError, ValueError)
    assert issubclass(CheckpointError, RuntimeError) and issubclass(BackendError, RuntimeError)


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120)


def test_a_corrupt_checkpoint_state_at_resume_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    # read_state's CheckpointError came after train's own conversion of errors and ended in a traceback.
    step = tmp_path / "run" / "checkpoints" / "step_1"
    step.mkdir(parents=True)
    (step / "trainer_state.json").write_text("{oops", encoding="utf-8")
    (step / "trainable.safetensors").write_bytes(b"")
    out = run("train", "--headless", "--resume", str(tmp_path / "run"))
    assert out.returncode == 2, out.stderr
    assert out.stderr.startswith("arc-console: error: ") and "unreadable trainer state" in out.stderr
    assert "Traceback" not in out.stderr and out.stderr.count("\n") == 1


def test_errors_from_the_run_directory_and_the_tasks_reach_the_user_in_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "step_001.json"
    bad.write_text("{not json", encoding="utf-8")
    for args, words in ((("replay", str(bad), "--print"), "not valid JSON"),
                        (("eval", "--headless", "--tasks", str(tmp_path / "none")), "no such file or folder"),
                        (("export", str(tmp_path), "--out", str(tmp_path / "out")), "neither a run directory")):
        out = run(*args)
        assert out.returncode == 2 and words in out.stderr and out.stderr.count("\n") == 1, (args, out.stderr)
    assert not (tmp_path / "out").exists()


def test_a_bad_synthetic_task_count_is_one_line_and_creates_nothing(tmp_path: Path) -> None:
    for command, source in (("train", "synthetic:0"), ("eval", "synthetic-heldout:ten")):
        extra = ("--problems", "") if command == "train" else ()
        out = run(command, "--headless", "--tasks", source, *extra, "--out", str(tmp_path / command))
        assert out.returncode == 2 and f"{source}: N in" in out.stderr and out.stderr.count("\n") == 1, out.stderr
        assert not (tmp_path / command).exists()
