"""Every string a file, a task, a model or the command line carries, shown everywhere it is shown.

One hostile value (OSC title changes ended by BEL and by ST, a clear-screen CSI, C1 controls and Rich
markup) goes into each field a run can carry: the problem id, the prompt, the response text, the
timestamp, the task ids, the log, the run directory's name. Each place that shows it (border titles,
the status line, notifications, the log panel, the headless printer, CLI errors, a real terminal
through tmux) must show it literally and leave the terminal alone."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from rich.console import Console
from textual.content import Content

from arc_console.engine import events as ev
from arc_console.monitor.follow import RunDirFollower
from arc_console.rundir.files import list_step_files
from arc_console.rundir.runlog import RunLog
from arc_console.tui.app import ConsoleApp
from arc_console.tui.headless import HeadlessPrinter
from arc_console.tui.replay_app import ReplayApp

from tui_fixtures import FixedSampler, replay_source, step_events, until, until_painted

MARKUP = "[bold red]x[/]"
HOSTILE = MARKUP + "\x1b]0;pwned\x07\x1b]2;pwned2\x1b\\\x1b[2J\x9b2J\x9d0;c1\x9c[link=https://e.x]l[/link]"
# Run directory names cannot hold "/": the same, without the link's URL.
HOSTILE_DIR = "run" + MARKUP.replace("/", "") + "\x1b]0;pwned\x07\x1b[2J\x9b\x9d"
RAW = ["\x1b", "\x07", "\x9b", "\x9d", "\x9c"]
CLI = [sys.executable, "-m", "arc_console"]


def assert_inert(shown: str) -> None:
    for raw in RAW:
        assert raw not in shown, repr(raw)


def hostile_events(run_dir: str = "runs/" + HOSTILE_DIR) -> list[ev.Event]:
    """The fixture's step with the hostile value as every problem id, response and log line."""
    events = []
    for event in step_events(hostile_text=HOSTILE):
        if isinstance(event, ev.RunStarted):
            event = dataclasses.replace(event, run_dir=run_dir, model=HOSTILE, problems=[HOSTILE, "6150a2bd"])
        elif isinstance(event, (ev.StepStarted, ev.CandidateScored)):
            event = dataclasses.replace(event, problem_id=HOSTILE)
        elif isinstance(event, ev.StepFinished):
            record = {**event.record, "problem_id": HOSTILE, "prompt": HOSTILE}
            event = dataclasses.replace(event, problem_id=HOSTILE, metrics={**event.metrics, "problem_id": HOSTILE, "grad_norm": 0.5},
                                        record=record)
        elif isinstance(event, ev.LogLine):
            event = ev.LogLine(f"2026-11-30 08:00:00 INFO    step 3 problem {HOSTILE}")
        events.append(event)
    return events


def write_hostile_run(parent: Path) -> Path:
    """A real run directory, written through RunLog as the trainer writes it, hostile in every field."""
    run_dir = parent / HOSTILE_DIR
    runlog = RunLog(run_dir)
    events = hostile_events(str(run_dir))
    started = events[0]
    runlog.write_run_info({**started.__dict__, "early_stop_perfect": 3, "config": {}})
    for event in events:
        if isinstance(event, ev.StepFinished) and event.record.get("candidates"):
            runlog.write_step({**event.record, "best_candidate_id": 1, "best_accuracy": 1.0,
                               "timestamp": HOSTILE})
            runlog.append_metrics(event.metrics)
    runlog.log(f"step 3 problem {HOSTILE}")
    return run_dir


def screen_text(app) -> str:
    return app.export_screenshot()


def title_shown(widget) -> str:
    """A border title as drawn: Textual hands it back as markup (escaped where it came as a Text)."""
    return Content.from_markup(widget.border_title or "").plain


async def test_replay_shows_every_field_literally(tmp_path: Path) -> None:
    run_dir = write_hostile_run(tmp_path)
    app = ReplayApp(list_step_files(run_dir / "logs" / "responses"), 0, run_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        panel = app.replay.candidates_panel
        assert_inert(title_shown(panel))
        assert MARKUP in title_shown(panel) and "\\x1b]0;pwned\\x07" in title_shown(panel)
        header = app.query_one("#header").render().plain
        assert_inert(header)
        assert MARKUP in header and "\\x1b]0;pwned" in header  # the problem id, the timestamp, the path
        await pilot.press("right", "left")  # the selected candidate's response: literal, markup included
        response = app.query_one("#response-text").render().plain
        assert_inert(response)
        assert MARKUP in response
        await pilot.press("t")  # a notification
        await pilot.pause()
        assert_inert(screen_text(app))


async def test_replay_notification_of_a_hostile_path_is_inert(tmp_path: Path) -> None:
    folder = tmp_path / HOSTILE_DIR
    folder.mkdir()
    (folder / "step_001.json").write_text("{not json")
    app = ReplayApp(list_step_files(folder), 0, None)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        notices = [n.message for n in app._notifications]
        assert notices and all("\x1b" not in n for n in notices)
        assert_inert(screen_text(app))


async def test_live_dashboard_shows_every_field_literally() -> None:
    app = ConsoleApp(replay_source(hostile_events()), sampler_factory=FixedSampler, early_stop_perfect=3)
    async with app.run_test(size=(160, 50)) as pilot:
        await until_painted(pilot, app)
        assert_inert(title_shown(app.dashboard.candidates_panel))
        assert MARKUP in title_shown(app.dashboard.candidates_panel)
        status = app.dashboard.status_bar.render().plain
        assert_inert(status)
        assert "\\x1b]0;pwned" in status
        assert any(MARKUP in line for line in app.dashboard.log_tail.lines)
        assert all("\x1b" not in line for line in app.dashboard.log_tail.lines)
        await pilot.press("v")  # the accuracy history by problem: border title and notification
        await pilot.pause()
        assert_inert(title_shown(app.dashboard.history_plot))
        assert MARKUP in title_shown(app.dashboard.history_plot)
        assert all("\x1b" not in n.message and "\x07" not in n.message for n in app._notifications)
        assert_inert(screen_text(app))


async def test_watch_shows_every_field_literally(tmp_path: Path) -> None:
    run_dir = write_hostile_run(tmp_path)
    app = ConsoleApp(RunDirFollower(run_dir), mode="watch", sampler_factory=FixedSampler)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.view.step == 3 and app.dashboard.log_tail.line_count > 0 and app.painted)
        await pilot.pause()
        assert MARKUP in title_shown(app.dashboard.candidates_panel)
        assert "\\x1b]0;pwned" in app.dashboard.status_bar.render().plain  # the run directory's name
        assert_inert(screen_text(app))


def test_headless_printer_is_inert() -> None:
    out = io.StringIO()
    printer = HeadlessPrinter(Console(file=out, force_terminal=True, width=400, highlight=False))
    for event in hostile_events():
        printer(event)
    printer(ev.LogLine(HOSTILE, "warning"))
    printer(ev.CheckpointSaved(3, "runs/" + HOSTILE_DIR + "/checkpoints/step_3", "saved"))
    text = out.getvalue()
    # Rich's own colours are CSI sequences; nothing else may reach the terminal.
    stripped = text.replace("\x1b[0m", "")
    import re
    stripped = re.sub(r"\x1b\[[0-9;]*m", "", stripped)
    assert_inert(stripped)
    assert MARKUP in stripped and "\\x1b]0;pwned\\x07" in stripped


def test_cli_errors_are_inert(tmp_path: Path) -> None:
    out = subprocess.run([*CLI, "train", "--headless", "--preset", "tiny", "--problems", HOSTILE,
                          "--out", str(tmp_path / "run")], capture_output=True, text=True, timeout=300)
    assert out.returncode == 2
    assert_inert(out.stderr)
    assert "unknown problem id" in out.stderr and MARKUP in out.stderr
    out = subprocess.run([*CLI, "replay", str(tmp_path / HOSTILE_DIR)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "no such file" in out.stderr
    assert_inert(out.stderr)


# ------------------------------------------------------------------ a real terminal


TMUX = shutil.which("tmux")


def _tmux(socket: str, *args: str) -> str:
    return subprocess.run(["tmux", "-L", socket, *args], capture_output=True, text=True, timeout=30).stdout


def _wait_for(predicate, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    assert predicate(), "tmux pane did not reach the expected state"


@pytest.mark.skipif(TMUX is None, reason="tmux is not installed (the CI installs it: .ci/run)")
def test_replay_in_a_real_terminal_keeps_its_title_and_screen(tmp_path: Path) -> None:
    run_dir = write_hostile_run(tmp_path)
    socket = f"arc-console-test-{uuid.uuid4().hex[:8]}"
    # COLUMNS/LINES from the test runner would size the app, not the pane: a real terminal has neither.
    command = (f"env -u COLUMNS -u LINES PYTHONPATH={shlex.quote(os.environ.get('PYTHONPATH', ''))} {shlex.quote(sys.executable)} "
               f"-m arc_console replay {shlex.quote(str(run_dir))}; echo EXITED=$?; sleep 60")
    _tmux(socket, "-f", "/dev/null", "new-session", "-d", "-x", "120", "-y", "40", "-s", "t", command)
    try:
        _tmux(socket, "set-option", "-g", "allow-rename", "on")  # a title change would land, were one sent
        title_before = "arc-console-title-probe"
        _tmux(socket, "select-pane", "-t", "t", "-T", title_before)

        def screen() -> str:
            return _tmux(socket, "capture-pane", "-p", "-t", "t")

        _wait_for(lambda: "response of #1" in screen() and "? Help" in screen())
        time.sleep(1.0)  # the app has drawn: give any stray sequence time to reach tmux
        shown = screen()
        assert _tmux(socket, "display", "-p", "-t", "t", "#{pane_title}").strip() == title_before
        assert "\\x1b]0;pwned\\x07" in shown  # shown, as visible escapes
        assert MARKUP in shown  # as typed, not as bold red
        lines = shown.splitlines()
        assert lines[0].startswith(" replay ") and "step 3" in lines[0]  # the screen was not cleared
        assert len(lines) >= 39 and "? Help" in lines[39]  # nor scrolled: the footer on the last row
        _tmux(socket, "send-keys", "-t", "t", "q")
        _wait_for(lambda: "EXITED=0" in screen())
        assert _tmux(socket, "display", "-p", "-t", "t", "#{pane_title}").strip() == title_before
    finally:
        _tmux(socket, "kill-server")


def test_a_theme_named_with_escapes_or_markup_is_skipped(tmp_path: Path) -> None:
    from arc_console.tui.themes import ThemeError, load_theme_file

    for name in ("\x1b]0;pwned\x07", "[bold]x[/]"):
        theme = tmp_path / "evil.toml"
        theme.write_text(f'name = {json.dumps(name)}\nprimary = "#ff0000"\n')
        with pytest.raises(ThemeError, match="control characters or brackets") as caught:
            load_theme_file(theme)
        assert "\x1b" not in str(caught.value)
