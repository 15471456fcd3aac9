"""The command line run in this process, for usage errors where no process boundary is under test (what a new
process imports, signals, terminals: those tests start a real one). Saves a process start and its imports."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from arc_console.cli import main


def usage_error(argv: Sequence[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run `arc-console ARGV` as a usage error must end: exit 2 and a last stderr line 'arc-console: error: ...'
    (a traceback here is an exception the test sees). Returns that line."""
    try:
        code = main(list(argv))
    except SystemExit as exit:  # argparse's own errors end that way
        code = exit.code
    captured = capsys.readouterr()
    assert code == 2, f"exit {code}\n{captured.err}"
    lines = captured.err.strip().splitlines()
    assert lines and lines[-1].startswith("arc-console: error: "), captured.err
    assert "Traceback" not in captured.err
    return lines[-1]
