"""The CLI's own user errors (UsageError, a kind of arc_console.UserError): one line, exit code 2."""

from __future__ import annotations

from arc_console import UserError

EXIT_USAGE = UserError.exit_code


class UsageError(UserError):
    """A problem with what the user asked for: shown as one line, exit code 2."""


def describe_os_error(exc: OSError) -> str:
    """An OSError as a user reads it: the reason, then the file."""
    where = f": {exc.filename}" if exc.filename else ""
    return f"{exc.strerror or exc}{where}"
