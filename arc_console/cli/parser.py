"""The argument parser every command shares: argparse's errors (a bad number or choice, a missing value,
an unknown flag) end in one line, `arc-console: error: ...`, and exit 2, as the command's own errors do,
instead of the whole usage text. A flag is taken only as spelled in full (argparse would run
`--max-step 5` as --max-steps); an unknown one gets a did-you-mean. Subparsers inherit the class, so one
place covers every command."""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from typing import NoReturn

from arc_console.cli.errors import EXIT_USAGE
from arc_console.terminal.textsafe import one_line

# argparse's wording for a value its `type` refused, rewritten to the words train's setting flags use.
_BAD_VALUE = re.compile(r"^argument (?P<flag>[^:]+): invalid (?P<kind>int|float) value: (?P<value>.*)$", re.S)
_EXPECTED = {"int": "an integer", "float": "a number"}


def one_line_error(message: str, prog: str, guess: str | None = None) -> str:
    """argparse's error message as the one line arc-console prints (without the `arc-console: error: `);
    `guess`: the flag or flags an unknown one may have meant."""
    bad_value = _BAD_VALUE.match(message)
    if bad_value:
        return f"{bad_value['flag']}: expected {_EXPECTED[bad_value['kind']]}, got {bad_value['value']}"
    if message.startswith("argument "):
        message = message[len("argument "):]
    if message.startswith(("unrecognized arguments", "the following arguments are required")):
        message = f"{message} ({f'did you mean {guess}? ' if guess else ''}see {prog} --help)"
    return message


def did_you_mean(flag: str, known: list[str]) -> str | None:
    """What the unknown `flag` most likely meant: the flags it abbreviates, else the closest spelling."""
    name = flag.split("=", 1)[0]
    longer = [option for option in known if option.startswith(name)]
    if len(longer) == 1:
        return longer[0]
    if longer:
        return "one of " + ", ".join(longer[:4]) + (", ..." if len(longer) > 4 else "")
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    return close[0] if close else None


class OneLineErrorParser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        kwargs.setdefault("allow_abbrev", False)  # subparsers are made through this class too
        super().__init__(*args, **kwargs)

    def parse_args(self, args=None, namespace=None):  # type: ignore[no-untyped-def, override]
        """As argparse's, but an unknown flag is reported by the command it was given to, whose --help lists
        the flags it takes (argparse reports it from the top-level parser)."""
        namespace, extras = self.parse_known_args(args, namespace)
        if extras:
            parser = self._command_parser(getattr(namespace, "command", None))
            flags = [extra for extra in extras if extra.startswith("-") and len(extra) > 1]
            guess = did_you_mean(flags[0], list(parser._option_string_actions)) if flags else None
            parser.fail(f"unrecognized arguments: {' '.join(extras)}", guess)
        return namespace

    def _command_parser(self, command: str | None) -> argparse.ArgumentParser:
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction) and command in action.choices:
                return action.choices[command]
        return self

    def error(self, message: str) -> NoReturn:
        self.fail(message)

    def fail(self, message: str, guess: str | None = None) -> NoReturn:
        print(f"arc-console: error: {one_line(one_line_error(message, self.prog, guess), 4000)}", file=sys.stderr)
        sys.exit(EXIT_USAGE)
