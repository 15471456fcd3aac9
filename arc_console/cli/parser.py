"""The argument parser every command shares: argparse's errors (a bad number or choice, a missing value,
an unknown flag) end in one line, `arc-console: error: ...`, and exit 2, as the command's own errors do,
instead of the whole usage text. Subparsers inherit the class, so one place covers every command."""

from __future__ import annotations

import argparse
import re
import sys
from typing import NoReturn

from arc_console.cli.errors import EXIT_USAGE
from arc_console.terminal.textsafe import one_line

# argparse's wording for a value its `type` refused, rewritten to the words train's setting flags use.
_BAD_VALUE = re.compile(r"^argument (?P<flag>[^:]+): invalid (?P<kind>int|float) value: (?P<value>.*)$", re.S)
_EXPECTED = {"int": "an integer", "float": "a number"}


def one_line_error(message: str, prog: str) -> str:
    """argparse's error message as the one line arc-console prints (without the `arc-console: error: `)."""
    bad_value = _BAD_VALUE.match(message)
    if bad_value:
        return f"{bad_value['flag']}: expected {_EXPECTED[bad_value['kind']]}, got {bad_value['value']}"
    if message.startswith("argument "):
        message = message[len("argument "):]
    if message.startswith(("unrecognized arguments", "the following arguments are required")):
        message = f"{message} (see {prog} --help)"
    return message


class OneLineErrorParser(argparse.ArgumentParser):
    def parse_args(self, args=None, namespace=None):  # type: ignore[no-untyped-def, override]
        """As argparse's, but an unknown flag is reported by the command it was given to, whose --help lists
        the flags it takes (argparse reports it from the top-level parser)."""
        namespace, extras = self.parse_known_args(args, namespace)
        if extras:
            self._command_parser(getattr(namespace, "command", None)).error(
                f"unrecognized arguments: {' '.join(extras)}")
        return namespace

    def _command_parser(self, command: str | None) -> argparse.ArgumentParser:
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction) and command in action.choices:
                return action.choices[command]
        return self

    def error(self, message: str) -> NoReturn:
        print(f"arc-console: error: {one_line(one_line_error(message, self.prog), 4000)}", file=sys.stderr)
        sys.exit(EXIT_USAGE)
