"""A flag is taken only as spelled in full: argparse's prefix matching ran `train --headless --max-step 5`
as a 5-step run. Every command refuses an abbreviation in one line, exit 2, naming the flag it abbreviates,
and creates nothing. Real CLI processes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from arc_console.cli.commands import build_parser

CLI = [sys.executable, "-m", "arc_console"]

# One abbreviation per command (and the top level), with the flag it abbreviates.
ABBREVIATED = {
    "train": (["train", "--headless", "--max-step", "5"], "--max-step 5", "--max-steps"),
    "train (with =)": (["train", "--headless", "--max-step=5"], "--max-step=5", "--max-steps"),
    "eval": (["eval", "--headless", "--limi", "1"], "--limi 1", "--limit"),
    "replay": (["replay", "step_001.json", "--prin"], "--prin", "--print"),
    "watch": (["watch", "run", "--them", "dark"], "--them dark", "--theme"),
    "runs": (["runs", "--js"], "--js", "--json"),
    "export": (["export", "run", "--out", "x", "--merge"], "--merge", "--merged"),
    "make-model": (["make-model", "--out", "m", "--shap", "tiny"], "--shap tiny", "--shape"),
    "the top level": (["--vers"], "--vers", "--version"),
}


@pytest.mark.parametrize("name", list(ABBREVIATED))
def test_an_abbreviated_flag_is_refused_with_the_flag_it_abbreviates(tmp_path: Path, name: str) -> None:
    args, given, meant = ABBREVIATED[name]
    out = subprocess.run([*CLI, *args], capture_output=True, text=True, cwd=tmp_path, stdin=subprocess.DEVNULL,
                         timeout=120)
    assert out.returncode == 2, out.stderr[-2000:]
    assert out.stdout == ""
    command = "arc-console" if args[0].startswith("-") else f"arc-console {args[0]}"
    assert out.stderr.splitlines() == [f"arc-console: error: unrecognized arguments: {given} "
                                       f"(did you mean {meant}? see {command} --help)"]
    assert list(tmp_path.iterdir()) == []


def test_an_abbreviation_of_several_flags_names_them() -> None:
    out = subprocess.run([*CLI, "eval", "--test-time", "2"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert "(did you mean one of --test-time-mode, --test-time-weights, --test-time-pool, --test-time-steps, " in out.stderr


def test_no_parser_takes_abbreviations() -> None:
    """Every parser of the CLI, subcommands included: a command added later is covered too."""
    parser = build_parser()
    subparsers = [action for action in parser._actions if action.choices and isinstance(action.choices, dict)]
    parsers = [parser, *(sub for action in subparsers for sub in action.choices.values())]
    assert len(parsers) >= 8
    assert [p.prog for p in parsers if p.allow_abbrev] == []
