"""Command line: parse arguments and dispatch. Errors a user can fix (UserError) end in one line and exit 2."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from arc_console import UserError, __version__
from arc_console.cli.eval import add_eval_parser
from arc_console.cli.export import add_export_parser
from arc_console.cli.make_model import add_make_model_parser
from arc_console.cli.runs import add_runs_parser
from arc_console.cli.train import add_train_parser
from arc_console.cli.view import add_view_parsers
from arc_console.terminal.textsafe import one_line

from arc_console.cli.parser import OneLineErrorParser


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrorParser(
        prog="arc-console",
        description="Train GPT-OSS on ARC puzzles with DAPO, and watch and steer the run from a terminal.",
    )
    parser.add_argument("--version", action="version", version=f"arc-console {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    add_train_parser(subparsers)
    add_eval_parser(subparsers)
    add_view_parsers(subparsers)
    add_make_model_parser(subparsers)
    add_export_parser(subparsers)
    add_runs_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # the --nproc shortcut starts the same command again
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return args.handler(args)
    except UserError as exc:  # every layer's errors a user can fix: one line
        print(f"arc-console: error: {one_line(str(exc), 4000)}", file=sys.stderr)
        return exc.exit_code
