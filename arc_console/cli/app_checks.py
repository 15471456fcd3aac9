"""What the CLI checks before a command opens a Textual app: the --theme it was given, and that stdin and
stderr are a terminal (Textual reads keys from stdin and draws on stderr: an app drawn into a pipe or a file is
escape codes no one sees, waiting for keys that never come; stdout, which gets the closing lines, may go anywhere). The App classes check neither: Pilot tests run them without a terminal."""

from __future__ import annotations

import sys

from arc_console.cli.errors import UsageError


def check_theme(requested: str | None) -> None:
    """Refuse a --theme that names no theme, or a theme file that cannot be read (every command, --headless
    and --print too, so that a typo is never silently ignored)."""
    if requested is None:
        return
    from arc_console.tui.themes import theme_problem

    problem = theme_problem(requested)
    if problem is not None:
        raise UsageError(f"--theme: {problem}")


def not_a_terminal() -> str | None:
    """'stdin', 'stderr' or 'stdin and stderr' where those are not a terminal; None where both are."""
    missing = [name for name, stream in (("stdin", sys.stdin), ("stderr", sys.__stderr__))
               if stream is None or not stream.isatty()]
    return " and ".join(missing) or None


def require_terminal(what: str, instead: str) -> None:
    """Refuse to open `what` (a full-screen app) unless stdin and stderr are a terminal; `instead` says
    what to use then."""
    missing = not_a_terminal()
    if missing is not None:
        verb = "are" if " and " in missing else "is"
        raise UsageError(f"{what} needs a terminal, and {missing} {verb} not a terminal; {instead}")
