"""`arc-console runs [DIR] [--json]`: a table of the run directories under DIR (default runs/)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from arc_console.cli.errors import UsageError


def add_runs_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("runs", help="list run directories: state, steps, results",
                                   description="One line per run directory under DIR: running, stopped (and why) "
                                               "or crashed; steps; best held-out pass@2; perfect problems; last "
                                               "checkpoint; when it first started and when it was last resumed.")
    parser.add_argument("folder", type=Path, nargs="?", default=Path("runs"), metavar="DIR",
                        help="a folder of run directories, or one run directory (default runs/)")
    parser.add_argument("--json", action="store_true", dest="as_json", help="print a JSON list instead of a table")
    parser.set_defaults(handler=run_runs)


def run_runs(args: argparse.Namespace) -> int:
    from arc_console.rundir.index import summarize_all

    if not args.folder.is_dir():
        raise UsageError(f"{args.folder}: no such folder")
    try:
        runs = summarize_all(args.folder)
    except OSError as exc:
        raise UsageError(f"{args.folder}: cannot read ({exc.strerror or exc})") from None
    if args.as_json:
        print(json.dumps([run.to_dict() for run in runs], indent=2))
        return 0
    if not runs:
        print(f"no run directories under {args.folder}")
        return 0
    _print_table(runs)
    return 0


STATE_STYLE = {"running": "bold green", "stopped": "", "crashed": "bold red", "empty": "dim"}


def _print_table(runs: list[Any]) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from arc_console.terminal.textsafe import one_line

    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("run", "state", "steps", "pass@2", "perfect", "checkpoint", "started", "resumed"):
        table.add_column(column, justify="right" if column in ("steps", "pass@2", "perfect") else "left",
                         no_wrap=column != "state")
    for run in runs:
        state = Text(run.state, style=STATE_STYLE.get(run.state, ""))
        state.append(f" ({one_line(run.why, 60)})", style="dim")
        steps = f"{run.step}/{run.max_steps}" if run.max_steps else str(run.step)
        started, resumed = (when.replace("T", " ")[:16] if when else "-" for when in (run.started, run.resumed))
        table.add_row(Text(one_line(run.name, 40)), state, steps,
                      f"{run.best_pass_at_2:.3f}" if run.best_pass_at_2 is not None else "-",
                      str(run.perfect_problems), Text(run.last_checkpoint or "-"), Text(one_line(started, 20)),
                      Text(one_line(resumed, 20)))
    console = Console(highlight=False, soft_wrap=False)
    if not console.is_terminal:  # piped into a file or grep: one line per run, whatever the width
        console = Console(highlight=False, soft_wrap=False, width=1000)
    console.print(table)
