"""One source for every setting (issue 20): TrainConfig's field metadata makes `train`'s flags, its --help
and the settings table in docs/settings.md, and eval's settings dataclasses make `eval`'s (issue 33); new runs
and resumes layer settings by one rule. (Which package may import which is pyproject's import-linter contracts,
run by `make test`.)"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from arc_console.cli.commands import build_parser
from arc_console.cli.setting_flags import add_field_flags, flag_fields, flag_help, settings_from_flags
from arc_console.cli.settings_table import EVAL_CLASSES, FIX, with_tables
from arc_console.config import ConfigError, resumed_config
from arc_console.evaluation.settings import EvalInputs, EvalSettings
from arc_console.evaluation import test_time_settings  # its class, imported by name, would be collected as a test
from arc_console.train_config import TrainConfig, flag_name, setting, setting_fields
from paths import REPO

ROOT = REPO
SETTINGS_DOC = ROOT / "docs" / "settings.md"
COMMANDS_DOC = ROOT / "docs" / "commands.md"
EVALUATION_DOC = ROOT / "docs" / "evaluation.md"
CLI = [sys.executable, "-m", "arc_console"]
FAST = ["--max-new-tokens", "12", "--overlong-buffer", "4", "--num-candidates", "4", "--max-extra-draws", "0"]


def command_help(command: str) -> str:
    out = subprocess.run([*CLI, command, "--help"], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "COLUMNS": "100"})
    assert out.returncode == 0, out.stderr
    return out.stdout


def train_help() -> str:
    return command_help("train")


def help_flags(text: str) -> set[str]:
    return set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", text)) - {"--help"}


def missing_from(flags: set[str], documented: str) -> list[str]:
    return sorted(flag for flag in flags if not re.search(re.escape(flag) + r"(?![\w-])", documented))


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


def test_the_docs_tables_are_the_ones_the_metadata_makes() -> None:
    text = SETTINGS_DOC.read_text(encoding="utf-8")
    assert with_tables(text) == text, f"docs/settings.md's settings tables are stale: run {FIX}"


def test_every_train_help_flag_is_in_the_settings_doc() -> None:
    documented = SETTINGS_DOC.read_text(encoding="utf-8") + COMMANDS_DOC.read_text(encoding="utf-8")
    flags = help_flags(train_help())
    assert len(flags) > 50
    missing = missing_from(flags, documented)
    assert not missing, f"train --help flags missing from docs/settings.md and docs/commands.md: {missing}"


def eval_parser() -> argparse.ArgumentParser:
    return build_parser()._subparsers._group_actions[0].choices["eval"]  # noqa: SLF001


def test_every_eval_setting_field_with_help_is_a_flag_and_defaults_come_from_the_dataclass() -> None:
    parser = eval_parser()
    by_flag = {action.option_strings[0]: action for action in parser._actions if action.option_strings}  # noqa: SLF001
    for settings_class in EVAL_CLASSES:
        for spec in flag_fields(settings_class):
            action = by_flag[flag_name(spec)]
            assert action.default is None and action.help.startswith(spec.metadata["help"])
    no_flags = parser.parse_args([])
    for settings_class in EVAL_CLASSES:
        assert settings_from_flags(no_flags, settings_class) == settings_class()
    assert EvalSettings().max_seq_length == TrainConfig().max_seq_length  # eval fits prompts to train's context
    given = parser.parse_args(["--samples", "5", "--rank", "logprob", "--max-seq-length", "0", "--test-time-lr",
                               "0.01", "--test-time-augment", "none", "--model", "runs/x"])
    assert settings_from_flags(given, EvalSettings) == EvalSettings(samples=5, rank="logprob", max_seq_length=0)
    assert settings_from_flags(given, test_time_settings.TestTimeSettings) == test_time_settings.TestTimeSettings(
        learning_rate=0.01, augment="none")
    assert {flag_name(spec) for spec in flag_fields(test_time_settings.TestTimeSettings)} == {
        "--test-time-steps", "--test-time-lr", "--test-time-augment", "--test-time-candidates", "--test-time-lora-r"}
    assert {flag_name(spec) for spec in flag_fields(test_time_settings.SftSettings)} == {
        "--sft-steps", "--sft-lr", "--sft-batch", "--sft-augment", "--sft-repeat-examples"}
    assert {flag_name(spec) for spec in flag_fields(test_time_settings.TestTimePlan)} == {
        "--test-time-mode", "--test-time-weights", "--test-time-pool"}
    given = parser.parse_args(["--test-time-mode", "sft", "--sft-lr", "3e-5", "--include-trained"])
    assert settings_from_flags(given, test_time_settings.SftSettings).learning_rate == 3e-5  # a number, optional
    assert settings_from_flags(given, EvalInputs).include_trained


def test_a_new_settings_field_is_a_new_flag() -> None:
    @dataclasses.dataclass(frozen=True)
    class Extra:
        include_trained: bool = setting(False, "answer the tasks the model trained on too")
        mode: str = setting("rl", "how to train at test time", choices=("rl", "sft"), flag="test-time-mode")
        rounds: int = setting(1, "how many rounds", metavar="N")
        fixed: float = 0.5  # no help: not a flag

    parser = argparse.ArgumentParser()
    add_field_flags(parser, Extra)
    assert settings_from_flags(parser.parse_args([]), Extra) == Extra()
    given = parser.parse_args(["--include-trained", "--test-time-mode", "sft", "--rounds", "3"])
    assert settings_from_flags(given, Extra) == Extra(include_trained=True, mode="sft", rounds=3)
    assert settings_from_flags(parser.parse_args(["--no-include-trained"]), Extra) == Extra()
    assert "--fixed" not in parser.format_help() and "(default: rl)" in parser.format_help()


def test_every_eval_help_flag_is_in_the_docs() -> None:
    documented = SETTINGS_DOC.read_text(encoding="utf-8") + EVALUATION_DOC.read_text(encoding="utf-8")
    flags = help_flags(command_help("eval"))
    assert len(flags) > 15
    missing = missing_from(flags, documented)
    assert not missing, f"eval --help flags missing from docs/settings.md and docs/evaluation.md: {missing}"


def test_bad_eval_numbers_and_choices_are_refused_in_one_line() -> None:
    for args, expected in ((["--samples", "x"], "--samples: expected an integer, got 'x'"),
                           (["--test-time-lr", "fast"], "--test-time-lr: expected a number, got 'fast'"),
                           (["--augment", "mirror"], "--augment must be one of none, dihedral, dihedral+colors")):
        out = subprocess.run([*CLI, "eval", "--headless", *args], capture_output=True, text=True, timeout=120)
        assert out.returncode == 2 and out.stderr.count("\n") == 1 and expected in out.stderr, out.stderr


def test_check_fails_on_a_stale_table_and_write_fixes_it(tmp_path: Path) -> None:
    stale = tmp_path / "settings.md"
    text = SETTINGS_DOC.read_text(encoding="utf-8")
    tool = [sys.executable, "-m", "arc_console.cli.settings_table"]
    for row, changed in (("| `--max-steps STEPS` | 500 |", "| `--max-steps STEPS` | 400 |"),
                         ("| `--samples K` | 2 |", "| `--samples K` | 3 |")):
        assert row in text
        stale.write_text(text.replace(row, changed), encoding="utf-8")
        check = subprocess.run([*tool, "--check", str(stale)], capture_output=True, text=True, timeout=120)
        assert check.returncode == 1 and FIX in check.stderr
        assert subprocess.run([*tool, "--write", str(stale)], timeout=120).returncode == 0
        assert stale.read_text(encoding="utf-8") == text
    unmarked = tmp_path / "plain.md"
    unmarked.write_text("# no table here\n", encoding="utf-8")
    missing = subprocess.run([*tool, "--check", str(unmarked)], capture_output=True, text=True, timeout=120)
    assert missing.returncode == 2 and "no settings table markers" in missing.stderr


# Resume layering: the run's saved settings < the --config TOML < flags, checked as a new run's are.

@pytest.fixture(scope="module")
def trained_run(tmp_path_factory: pytest.TempPathFactory, warm_cli) -> Path:
    """A real one-step run of the tiny preset with settings the preset does not have (a fresh process from the
    warm launcher, tests/support/warm_cli.py; the refused resumes below are `python -m arc_console`)."""
    run = tmp_path_factory.mktemp("resume") / "run"
    out = warm_cli.run(["train", "--headless", "--preset", "tiny", "--out", str(run), "--max-steps", "1",
                        "--checkpoint-every", "1", "--temperature-min", "0.5", *FAST], timeout=600)
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
        (["--preset", "gpt-oss-20b"], ["--preset gpt-oss-20b: this run was started with preset tiny; a resumed run "
                                       "keeps the settings saved in", str(trained_run / "checkpoints" / "step_1")]),
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
def test_a_flag_at_resume_wins_and_what_is_not_given_keeps_its_saved_value(trained_run: Path, tmp_path: Path,
                                                                          warm_cli) -> None:
    run = tmp_path / "run"
    subprocess.run(["cp", "-a", str(trained_run), str(run)], check=True, timeout=300)
    saved = run_json(run)["config"]
    assert (saved["max_new_tokens"], saved["num_candidates"], saved["temperature_min"]) == (12, 4, 0.5)
    out = warm_cli.run(["train", "--headless", "--resume", str(run), "--max-steps", "2", "--temperature-max", "1.1"],
                       timeout=600)
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
