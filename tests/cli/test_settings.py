"""One source for every setting (issue 20): TrainConfig's field metadata makes `train`'s flags, its --help
and the README's settings table; new runs and resumes layer settings by one rule; engine/ imports no
package above it."""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from arc_console.cli.commands import build_parser
from arc_console.cli.setting_flags import flag_help
from arc_console.cli.settings_table import FIX, settings_table, with_table
from arc_console.config import ConfigError, resumed_config
from arc_console.train_config import setting_fields
from paths import REPO

ROOT = REPO
README = ROOT / "README.md"
CLI = [sys.executable, "-m", "arc_console"]
FAST = ["--max-new-tokens", "12", "--overlong-buffer", "4", "--num-candidates", "4", "--max-extra-draws", "0"]


def train_help() -> str:
    out = subprocess.run([*CLI, "train", "--help"], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "COLUMNS": "100"})
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_every_field_has_help_and_a_flag_made_from_it() -> None:
    train = build_parser()._subparsers._group_actions[0].choices["train"]  # noqa: SLF001 - argparse keeps them there
    by_dest = {action.dest: action for action in train._actions}  # noqa: SLF001
    for spec in setting_fields():
        assert spec.metadata["help"], f"{spec.name} has no help"
        action = by_dest[f"set_{spec.name}"]
        assert action.option_strings[0] == "--" + spec.name.replace("_", "-")
        assert action.default is None and action.help == flag_help(spec)
    choices = {spec.name: spec.metadata["choices"] for spec in setting_fields() if spec.metadata["choices"]}
    assert choices["objective"] == ("dapo", "grpo", "dr_grpo", "preference") and choices["eval_rank"] == ("votes", "logprob")


def test_the_readme_table_is_the_one_the_metadata_makes() -> None:
    text = README.read_text(encoding="utf-8")
    assert with_table(text, settings_table()) == text, f"README.md's settings table is stale: run {FIX}"


def test_every_train_help_flag_is_in_the_readme() -> None:
    readme = README.read_text(encoding="utf-8")
    flags = set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", train_help())) - {"--help"}
    assert len(flags) > 50
    missing = sorted(flag for flag in flags if not re.search(re.escape(flag) + r"(?![\w-])", readme))
    assert not missing, f"train --help flags missing from README.md: {missing}"


def test_check_fails_on_a_stale_table_and_write_fixes_it(tmp_path: Path) -> None:
    stale = tmp_path / "README.md"
    text = README.read_text(encoding="utf-8")
    stale.write_text(text.replace("| `--max-steps STEPS` | 500 |", "| `--max-steps STEPS` | 400 |"), encoding="utf-8")
    tool = [sys.executable, "-m", "arc_console.cli.settings_table"]
    check = subprocess.run([*tool, "--check", str(stale)], capture_output=True, text=True, timeout=120)
    assert check.returncode == 1 and FIX in check.stderr
    assert subprocess.run([*tool, "--write", str(stale)], timeout=120).returncode == 0
    assert stale.read_text(encoding="utf-8") == text
    unmarked = tmp_path / "plain.md"
    unmarked.write_text("# no table here\n", encoding="utf-8")
    missing = subprocess.run([*tool, "--check", str(unmarked)], capture_output=True, text=True, timeout=120)
    assert missing.returncode == 2 and "no settings table markers" in missing.stderr


def test_engine_imports_nothing_above_it() -> None:
    above = ("arc_console.evaluation", "arc_console.cli", "arc_console.tui", "arc_console.reporting")
    for module in sorted((ROOT / "arc_console" / "engine").glob("*.py")):
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else \
                [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            assert not [n for n in names if n.startswith(above)], f"{module.name} imports {names}"


# Resume layering: the run's saved settings < the --config TOML < flags, checked as a new run's are.

@pytest.fixture(scope="module")
def trained_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real one-step run of the tiny preset with settings the preset does not have."""
    run = tmp_path_factory.mktemp("resume") / "run"
    out = subprocess.run([*CLI, "train", "--headless", "--preset", "tiny", "--out", str(run), "--max-steps", "1",
                          "--checkpoint-every", "1", "--temperature-min", "0.5", *FAST],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    return run


def snapshot(folder: Path) -> dict[str, tuple[str, int]]:
    return {str(p.relative_to(folder)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def run_json(run: Path) -> dict:
    return json.loads((run / "logs/run.json").read_text())


@pytest.mark.slow
def test_a_bad_value_at_resume_is_one_line_exit_2_and_changes_nothing(trained_run: Path, tmp_path: Path) -> None:
    before = snapshot(trained_run)
    toml = tmp_path / "more.toml"
    toml.write_text("max_step = 3\n")
    cases = [
        (["--top-p", "2"], ["--top-p: top_p must be in (0, 1], got 2.0"]),
        (["--config", str(toml), "--objective", "ppo"],
         [f"{toml}: unknown setting 'max_step' (did you mean max_steps?)", "--objective: objective must be one of"]),
        (["--num-candidates", "many"], ["--num-candidates: expected an integer, got 'many'"]),
        (["--preset", "tiny"], ["--preset tiny: a resumed run keeps the settings saved in",
                                str(trained_run / "checkpoints" / "step_1")]),
        (["--problems", "no-such-task"], ["no-such-task"]),
    ]
    for args, messages in cases:
        out = subprocess.run([*CLI, "train", "--headless", "--resume", str(trained_run), *args], capture_output=True,
                             text=True, timeout=120)
        assert out.returncode == 2, (args, out.stderr)
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("arc-console: error: "), (args, out.stderr)
        assert all(message in lines[0] for message in messages), (args, lines[0])
        assert "Traceback" not in out.stderr
    assert snapshot(trained_run) == before


@pytest.mark.slow
def test_a_flag_at_resume_wins_and_what_is_not_given_keeps_its_saved_value(trained_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    subprocess.run(["cp", "-a", str(trained_run), str(run)], check=True)
    saved = run_json(run)["config"]
    assert (saved["max_new_tokens"], saved["num_candidates"], saved["temperature_min"]) == (12, 4, 0.5)
    out = subprocess.run([*CLI, "train", "--headless", "--resume", str(run), "--max-steps", "2",
                          "--temperature-max", "1.1"], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    now = run_json(run)["config"]
    assert (now["max_steps"], now["temperature_max"]) == (2, 1.1)  # given now
    # Not given: the run's own values, not the tiny preset's (48 tokens, 8 candidates, 0.6).
    assert {k: v for k, v in now.items() if k not in ("max_steps", "temperature_max")} == \
        {k: v for k, v in saved.items() if k not in ("max_steps", "temperature_max")}
    step = json.loads((run / "logs/responses/step_002.json").read_text())
    assert [c["temperature"] for c in step["candidates"]] == [0.5, 0.7, 0.9, 1.1]


@pytest.mark.slow
def test_resume_layering_order_and_the_task_source_rule(trained_run: Path, tmp_path: Path) -> None:
    saved = run_json(trained_run)["config"]
    toml = tmp_path / "resume.toml"
    toml.write_text('[train]\nmax_steps = 9\nlearning_rate = 0.001\n')
    config = resumed_config(saved, "run.json", toml, {"max_steps": 7, "seed": None})
    assert (config.max_steps, config.learning_rate, config.num_candidates) == (7, 0.001, 4)  # flag > TOML > saved
    assert config.problems == saved["problems"]
    # Other tasks given without problems: the saved ids belonged to the saved source, so every task.
    assert resumed_config(saved, "run.json", None, {"tasks": "synthetic"}).problems == []
    assert resumed_config(saved, "run.json", None, {"tasks": saved["tasks"]}).problems == saved["problems"]
    # A bad saved value is named by where it was saved; every problem at once.
    with pytest.raises(ConfigError) as caught:
        resumed_config({**saved, "top_p": 5.0, "objective": "ppo"}, "run.json", None, {"eval_samples": 0})
    message = str(caught.value)
    assert "run.json: top_p must be in (0, 1]" in message and "run.json: objective must be one of" in message
    assert "--eval-samples: eval_samples must be 1..64" in message
