"""--version, --help and every usage error answer without importing torch and the other heavy packages:
the real CLI in a real process under `python -X importtime`, which names every module it imports."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

HEAVY = ("torch", "transformers", "peft", "unsloth", "textual")


def imported_packages(importtime_stderr: str) -> set[str]:
    """The top-level packages named in `-X importtime` lines ("import time: SELF | CUMULATIVE | name")."""
    names = set()
    for line in importtime_stderr.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            name = line.rsplit("|", 1)[1].strip()
            if name != "imported package":  # the header line
                names.add(name.split(".")[0])
    return names


def run_cli(args: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    out = subprocess.run([sys.executable, "-X", "importtime", "-m", "arc_console", *args], capture_output=True,
                         text=True, cwd=cwd, timeout=120)
    return out, imported_packages(out.stderr)


def errors_of(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if not line.startswith("import time:")]


def test_the_detector_sees_torch(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", "import arc_console.engine.backends"],
                         capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert out.returncode == 0 and "torch" in imported_packages(out.stderr)


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["train", "--help"], ["eval", "--help"],
                                  ["replay", "--help"], ["watch", "--help"], ["export", "--help"],
                                  ["make-model", "--help"], ["runs", "--help"]])
def test_version_and_help_import_nothing_heavy(tmp_path: Path, args: list[str]) -> None:
    out, imported = run_cli(args, tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip()
    assert not imported & set(HEAVY), sorted(imported & set(HEAVY))


def write_bad_files(tmp: Path) -> None:
    """The files the bad command lines below name: a broken TOML, a bad task, a folder in use."""
    (tmp / "bad.toml").write_text("max_steps = [\n")
    (tmp / "tasks").mkdir()
    (tmp / "tasks" / "t.json").write_text(json.dumps({"train": [{"input": [[1, 10]], "output": [[1]]}],
                                                       "test": [{"input": [[1]], "output": [[2]]}]}))
    (tmp / "full").mkdir()
    (tmp / "full" / "keep.txt").write_text("mine")


def train_args(tmp: Path) -> list[str]:
    return ["train", "--headless", "--preset", "tiny", "--out", str(tmp / "run")]


def eval_args(tmp: Path) -> list[str]:
    return ["eval", "--headless", "--out", str(tmp / "eval")]


BAD_INPUTS: dict[str, Callable[[Path], list[str]]] = {
    "train: an unknown flag": lambda tmp: [*train_args(tmp), "--no-such-flag"],
    "train: a value of the wrong type": lambda tmp: [*train_args(tmp), "--num-candidates", "many"],
    "train: a value out of range": lambda tmp: [*train_args(tmp), "--update-micro-groups", "-1"],
    "train: auto preset, refused by both": lambda tmp: ["train", "--headless", "--out", str(tmp / "run"),
                                                        "--num-candidates", "1"],
    "train: an unknown preset": lambda tmp: ["train", "--headless", "--preset", "huge", "--out", str(tmp / "run")],
    "train: bad TOML": lambda tmp: [*train_args(tmp), "--config", str(tmp / "bad.toml")],
    "train: a missing TOML": lambda tmp: [*train_args(tmp), "--config", str(tmp / "nowhere.toml")],
    "train: a bad task file": lambda tmp: [*train_args(tmp), "--tasks", str(tmp / "tasks"), "--problems", ""],
    "train: a missing model": lambda tmp: [*train_args(tmp), "--model", str(tmp / "no_such_model")],
    "train: a missing run to resume": lambda tmp: ["train", "--headless", "--resume", str(tmp / "no_run")],
    "train: --nproc 0": lambda tmp: [*train_args(tmp), "--nproc", "0"],
    "eval: a bad augmentation": lambda tmp: [*eval_args(tmp), "--augment", "rotations"],
    "eval: a bad test-time setting": lambda tmp: [*eval_args(tmp), "--test-time-steps", "-1"],
    "eval: missing tasks": lambda tmp: [*eval_args(tmp), "--tasks", str(tmp / "nowhere")],
    "eval: a missing model": lambda tmp: [*eval_args(tmp), "--model", "no/such/folder/x"],
    "replay: a missing path": lambda tmp: ["replay", str(tmp / "nope")],
    "watch: a missing run": lambda tmp: ["watch", str(tmp / "nope")],
    "export: a missing run": lambda tmp: ["export", str(tmp / "nope"), "--out", str(tmp / "exported")],
    "make-model: an unknown shape": lambda tmp: ["make-model", "--shape", "huge", "--out", str(tmp / "m")],
    "make-model: a folder in use": lambda tmp: ["make-model", "--out", str(tmp / "full")],
    "runs: a missing folder": lambda tmp: ["runs", str(tmp / "nope")],
}


@pytest.mark.parametrize("name", list(BAD_INPUTS))
def test_usage_errors_import_nothing_heavy_and_create_nothing(tmp_path: Path, name: str) -> None:
    write_bad_files(tmp_path)
    before = sorted(tmp_path.rglob("*"))
    out, imported = run_cli(BAD_INPUTS[name](tmp_path), tmp_path)
    assert out.returncode == 2, out.stderr[-2000:]
    last = errors_of(out.stderr)[-1]
    # ours ("arc-console: error: ...") or argparse's ("arc-console train: error: ...")
    assert last.startswith("arc-console") and ": error: " in last, last
    assert "Traceback" not in out.stderr
    assert not imported & set(HEAVY), (name, sorted(imported & set(HEAVY)))
    assert sorted(tmp_path.rglob("*")) == before
