"""Hostile model output shows literally and leaves the terminal alone, in --print and in the apps."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from arc_console.rundir.files import list_step_files
from arc_console.tui.replay_app import ReplayApp

from seed_step import SEED_FILE

CLI = [sys.executable, "-m", "arc_console"]
HOSTILE = {
    "markup": "[bold red]boom[/] [link=https://x]y[/link] :warning:",
    "ansi": "\x1b[31mred\x1b[0m \x1b[2J\x1b[H \x1b[?1049h",
    "osc": "\x1b]0;pwned\x07 \x1b]52;c;aGVsbG8=\x07 \x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\",
    "c1": "\x9b31m \x90dcs\x9c \x85",
    "long-line": "9 " * 20_000,
    "many-lines": "\n".join(f"line {i}" for i in range(10_000)),
    "bidi": "abc\u202edcba\u2066x\u2069",
}
RAW_SEQUENCES = ["\x1b[", "\x1b]", "\x07", "\x9b", "\x90", "\x9c", "\x85", "\u202e"]


def write_step(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "step_001.json"
    candidate = {**SEED_FILE["candidates"][0], "response_text": text if isinstance(text, str) else "x"}
    payload = json.dumps({**SEED_FILE, "candidates": [candidate]})
    if isinstance(text, bytes):  # invalid UTF-8 inside the JSON string itself
        data = payload.encode().replace(b'"response_text": "x"', b'"response_text": "' + text + b'"')
        path.write_bytes(data)
        return path
    path.write_text(payload)
    return path


@pytest.mark.parametrize("kind", list(HOSTILE))
def test_print_shows_hostile_text_literally(tmp_path: Path, kind: str) -> None:
    path = write_step(tmp_path, HOSTILE[kind])
    out = subprocess.run([*CLI, "replay", "--print", str(path)], capture_output=True, text=True,
                         env={**os.environ, "NO_COLOR": "1"}, timeout=120)
    assert out.returncode == 0, out.stderr
    for raw in RAW_SEQUENCES:
        assert raw not in out.stdout, (kind, repr(raw))
    if kind == "markup":
        assert "[bold red]boom[/]" in out.stdout and "[link=https://x]y[/link]" in out.stdout
    if kind == "ansi":
        assert "\\x1b[31mred" in out.stdout and "\\x1b[?1049h" in out.stdout
    if kind == "many-lines":
        assert "line 9999" in out.stdout


def test_invalid_utf8_is_a_clear_error(tmp_path: Path) -> None:
    path = write_step(tmp_path, b"\xff\xfe bad")
    out = subprocess.run([*CLI, "replay", "--print", str(path)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "not UTF-8" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize("kind", list(HOSTILE))
async def test_replay_app_shows_hostile_text_literally(tmp_path: Path, kind: str) -> None:
    write_step(tmp_path, HOSTILE[kind])
    app = ReplayApp(list_step_files(tmp_path), 0, None)
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        shown = app.query_one("#response-text").render().plain
        for raw in RAW_SEQUENCES:
            assert raw not in shown
        screen = app.export_screenshot()
        for raw in RAW_SEQUENCES:
            assert raw not in screen
        if kind == "markup":
            assert "[bold red]boom[/]" in shown
