"""The error a user can fix: shown as one line (`arc-console: error: ...`), exit code 2."""

from __future__ import annotations

EXIT_USAGE = 2


class UsageError(Exception):
    """A problem with what the user asked for: shown as one line, exit code 2."""


def describe_os_error(exc: OSError) -> str:
    """An OSError as a user reads it: the reason, then the file."""
    where = f": {exc.filename}" if exc.filename else ""
    return f"{exc.strerror or exc}{where}"
