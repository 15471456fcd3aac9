"""Bad configs, flags and task files through the command line (in-process: no process boundary is under test
here; tests/cli/test_cli_usage_errors.py starts real processes): one clear line, exit 2, no traceback."""

import json
from pathlib import Path

import pytest
from cli_in_process import usage_error

GOOD_PAIR = {"input": [[1]], "output": [[2]]}


def bad_tasks(tmp_path: Path, name: str) -> Path:
    folder = tmp_path / "tasks"
    folder.mkdir()
    if name == "ragged":
        data = {"train": [{"input": [[1, 2], [3]], "output": [[1]]}], "test": [GOOD_PAIR]}
    elif name == "above-9":
        data = {"train": [{"input": [[1, 10]], "output": [[1]]}], "test": [GOOD_PAIR]}
    elif name == "no-train":
        data = {"train": [], "test": [GOOD_PAIR]}
    elif name == "unreadable":
        (folder / "t.json").mkdir()  # a folder where a file should be: reading it fails, even as root
        return folder
    elif name == "not-json":
        (folder / "t.json").write_text("{oops")
        return folder
    (folder / "t.json").write_text(json.dumps(data))
    return folder


@pytest.mark.parametrize(("name", "message"), [
    ("ragged", "rows differ in length"), ("above-9", "is 10, not a colour"), ("no-train", "at least one train pair"),
    ("unreadable", "cannot read"), ("not-json", "not valid JSON"),
])
def test_bad_task_files(tmp_path: Path, name: str, message: str, capsys) -> None:
    folder = bad_tasks(tmp_path, name)
    line = usage_error(["train", "--headless", "--preset", "tiny", "--tasks", str(folder), "--problems", "",
                        "--out", str(tmp_path / "run")], capsys)
    assert message in line
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(("toml", "message"), [
    ("max_steps = -1", "max_steps must be at least 1"),
    ("num_candidates = 1", "num_candidates must be 2..256"),
    ("learning_rate = 'fast'", "expected float"),
    ("unknown_thing = 3", "unknown setting 'unknown_thing'"),
    ("max_steps = [", "not valid TOML"),
    ("temperature_min = 2.0\ntemperature_max = 1.0", "temperatures must satisfy"),
])
def test_bad_config_files(tmp_path: Path, toml: str, message: str, capsys) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(toml + "\n")
    line = usage_error(["train", "--headless", "--preset", "tiny", "--config", str(config),
                        "--out", str(tmp_path / "run")], capsys)
    assert message in line
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("args", [["--num-candidates", "0"], ["--checkpoint-every", "0"], ["--lora-r", "-1"],
                                  ["--backend", "tpu"], ["--model", "no_such_folder"]])
def test_bad_flags(tmp_path: Path, args: list[str], capsys) -> None:
    usage_error(["train", "--headless", "--preset", "tiny", *args, "--out", str(tmp_path / "run")], capsys)
    assert not (tmp_path / "run").exists()


def test_watch_and_replay_of_missing_paths(tmp_path: Path, capsys) -> None:
    for args in (["watch", str(tmp_path / "nope")], ["replay", str(tmp_path / "nope")],
                 ["make-model", "--shape", "huge", "--out", str(tmp_path / "m")]):
        usage_error(args, capsys)
    assert not (tmp_path / "m").exists()
