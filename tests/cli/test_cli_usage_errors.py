"""Usage errors, a missing terminal and a bad --theme: every command answers in one line
(`arc-console: error: ...`), exits 2, imports no torch and creates nothing. Real CLI processes."""

from __future__ import annotations

import fcntl
import os
import pty
import shutil
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest
from child_output import ChildOutput

from arc_console.tui.app import ConsoleApp
from test_lazy_cli import imported_packages
from tui_fixtures import FixedSampler, replay_source, step_events, until_painted
from paths import STEP_FILE

CLI = [sys.executable, "-X", "importtime", "-m", "arc_console"]


def run(args: list[str], cwd: Path, stdin: int | None = subprocess.DEVNULL) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """The CLI with stdout and stderr pipes and stdin /dev/null (or `stdin`)."""
    out = subprocess.run([*CLI, *args], stdin=stdin, capture_output=True, text=True, cwd=cwd, timeout=120)
    return out, imported_packages(out.stderr)


def the_error(out: subprocess.CompletedProcess[str]) -> str:
    """The one line the command printed (import-time lines aside), checked to be the only one."""
    lines = [line for line in out.stderr.splitlines() if not line.startswith("import time:")]
    assert out.returncode == 2, out.stderr[-2000:]
    assert len(lines) == 1, lines
    assert lines[0].startswith("arc-console: error: "), lines[0]
    assert out.stdout == ""
    return lines[0]


ARGPARSE_ERRORS = {
    "train --nproc abc": (["train", "--nproc", "abc"], "--nproc: expected an integer, got 'abc'"),
    "train --max-steps abc": (["train", "--headless", "--max-steps", "abc"], "--max-steps: expected an integer, got 'abc'"),
    "train --resume (no value)": (["train", "--resume"], "--resume: expected one argument"),
    "train --no-such-flag": (["train", "--no-such-flag"], "unrecognized arguments: --no-such-flag (see arc-console train --help)"),
    "eval --samples abc": (["eval", "--samples", "abc"], "--samples: expected an integer, got 'abc'"),
    "eval --limit abc": (["eval", "--limit", "abc"], "--limit: expected an integer, got 'abc'"),
    "eval --seed x": (["eval", "--seed", "x"], "--seed: expected an integer, got 'x'"),
    "eval --temperature hot": (["eval", "--temperature", "hot"], "--temperature: expected a number, got 'hot'"),
    "replay (no path)": (["replay"], "the following arguments are required: PATH (see arc-console replay --help)"),
    "watch --follow": (["watch", "run", "--follow"], "unrecognized arguments: --follow (see arc-console watch --help)"),
    "export --dtype int4": (["export", "run", "--out", "x", "--dtype", "int4"], "--dtype: invalid choice: 'int4'"),
    "make-model --shape huge": (["make-model", "--shape", "huge", "--out", "m"], "--shape: invalid choice: 'huge'"),
    "runs --jsn": (["runs", "--jsn"], "unrecognized arguments: --jsn (did you mean --json? see arc-console runs --help)"),
    "an unknown command": (["frobnicate"], "COMMAND: invalid choice: 'frobnicate'"),
}


@pytest.mark.parametrize("name", list(ARGPARSE_ERRORS))
def test_argparse_errors_are_one_line(tmp_path: Path, name: str) -> None:
    args, expected = ARGPARSE_ERRORS[name]
    out, imported = run(args, tmp_path)
    assert the_error(out).startswith(f"arc-console: error: {expected}")
    assert "torch" not in imported and "textual" not in imported
    assert list(tmp_path.iterdir()) == []


def test_an_escape_in_an_unknown_flag_is_shown_inert(tmp_path: Path) -> None:
    out, _ = run(["runs", "--\x1b]0;pwned\x07"], tmp_path)
    line = the_error(out)
    assert "\x1b" not in line and "\\x1b]0;pwned\\x07" in line


@pytest.fixture()
def run_dir(tmp_path: Path) -> Path:
    """A finished run's folder as replay and watch read it: one step file."""
    folder = tmp_path / "run"
    (folder / "logs" / "responses").mkdir(parents=True)
    shutil.copy(STEP_FILE, folder / "logs" / "responses" / STEP_FILE.name)
    return folder


NEEDS_A_TERMINAL = {
    "train": (["train", "--preset", "tiny", "--out", "new-run"], "use --headless"),
    "train --nproc 2": (["train", "--preset", "tiny", "--out", "new-run", "--nproc", "2", "--problems-per-step", "2"], "use --headless"),
    "eval": (["eval", "--limit", "1", "--out", "new-eval"], "use --headless"),
    "replay": (["replay", "run"], "use --print"),
    "watch": (["watch", "run"], "replay run --print"),
}


@pytest.mark.parametrize("name", list(NEEDS_A_TERMINAL))
def test_an_app_refuses_a_pipe_and_creates_nothing(run_dir: Path, name: str) -> None:
    args, instead = NEEDS_A_TERMINAL[name]
    before = sorted(run_dir.parent.rglob("*"))
    started = time.monotonic()
    out, imported = run(args, run_dir.parent)
    line = the_error(out)
    assert "stdin and stderr are not a terminal" in line and instead in line, line
    assert sorted(run_dir.parent.rglob("*")) == before
    assert "textual" not in imported and "torch" not in imported
    assert time.monotonic() - started < 60


def test_stderr_alone_not_a_terminal_is_named(run_dir: Path) -> None:
    """Textual draws on stderr: with stdin a terminal and stderr a pipe, the app would draw into the pipe."""
    primary, secondary = pty.openpty()
    try:
        out, _ = run(["replay", "run"], run_dir.parent, stdin=secondary)
    finally:
        os.close(primary)
        os.close(secondary)
    assert "stderr is not a terminal; use --print" in the_error(out)


def test_bad_input_comes_before_the_terminal_check(tmp_path: Path) -> None:
    out, _ = run(["train", "--preset", "tiny", "--nproc", "0"], tmp_path)
    assert "--nproc must be at least 1" in the_error(out)


def test_the_headless_forms_need_no_terminal(run_dir: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "arc_console", "replay", "run", "--print"], stdin=subprocess.DEVNULL,
                         capture_output=True, text=True, cwd=run_dir.parent, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "af902bf9" in out.stdout and "step_003.json" in out.stdout


# ------------------------------------------------------------------ --theme


def bad_theme_file(folder: Path) -> Path:
    path = folder / "mine.toml"
    path.write_text('name = "mine"\nprimary = "not-a-colour"\n')
    return path


THEMED_COMMANDS = {
    "train --headless": ["train", "--headless", "--preset", "tiny", "--out", "new-run"],
    "train": ["train", "--preset", "tiny", "--out", "new-run"],
    "eval --headless": ["eval", "--headless", "--limit", "1", "--out", "new-eval"],
    "replay --print": ["replay", "run", "--print"],
    "replay": ["replay", "run"],
    "watch": ["watch", "run"],
}


@pytest.mark.parametrize("theme", ["nonexist", "/nonexistent.toml", "BAD_FILE"])
@pytest.mark.parametrize("command", list(THEMED_COMMANDS))
def test_a_bad_theme_is_refused_everywhere(run_dir: Path, command: str, theme: str) -> None:
    if theme == "BAD_FILE":
        theme = str(bad_theme_file(run_dir.parent))
    before = sorted(run_dir.parent.rglob("*"))
    out, imported = run([*THEMED_COMMANDS[command], "--theme", theme], run_dir.parent)
    line = the_error(out)
    assert line.startswith("arc-console: error: --theme: ")
    assert {"nonexist": "no theme named 'nonexist': choose arc-dark", "/nonexistent.toml": "cannot read",
            }.get(theme, "primary is not a colour") in line, line
    assert sorted(run_dir.parent.rglob("*")) == before
    assert "torch" not in imported


@pytest.mark.parametrize("theme", ["arc-light", "nord", "GOOD_FILE"])
def test_a_good_theme_is_taken(run_dir: Path, theme: str) -> None:
    if theme == "GOOD_FILE":
        theme = str(run_dir.parent / "mine.toml")
        Path(theme).write_text('name = "mine"\nprimary = "#336699"\n')
    out = subprocess.run([sys.executable, "-m", "arc_console", "replay", "run", "--print", "--theme", theme],
                         capture_output=True, text=True, cwd=run_dir.parent, timeout=120)
    assert out.returncode == 0 and out.stderr == "", out.stderr


async def test_the_watch_dashboard_warns_about_an_unreadable_theme_once() -> None:
    """Where an App is given a theme the CLI never checked (the Pilot tests, the benchmarks), it falls back
    to arc-dark and says so once."""
    app = ConsoleApp(replay_source(step_events()), mode="watch", sampler_factory=FixedSampler,
                     theme="/nonexistent.toml")
    async with app.run_test(size=(160, 50)) as pilot:
        await until_painted(pilot, app)
        warnings = [n for n in app._notifications if "cannot read" in str(n.message)]
        assert len(warnings) == 1 and app.theme == "arc-dark"


# ------------------------------------------------------------------ a real terminal


def test_replay_opens_in_a_real_terminal(run_dir: Path) -> None:
    primary, secondary = pty.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 160, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color"}
    proc = subprocess.Popen([sys.executable, "-m", "arc_console", "replay", "run", "--theme", "arc-light"],
                            stdin=secondary, stdout=secondary, stderr=secondary, cwd=run_dir.parent, env=env,
                            start_new_session=True)
    os.close(secondary)
    try:
        with ChildOutput.of_terminal(proc, primary) as child:
            child.wait_until(lambda: b"af902bf9" in child.raw("out"), 90, "the replay's task id")
            os.write(primary, b"q")
            assert child.finish(timeout=30) == 0, child.transcript()  # kept reading: never blocked on a full terminal
    finally:
        os.close(primary)
    assert b"not a terminal" not in child.raw("out")
