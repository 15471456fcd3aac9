"""The README's settings table, made from TrainConfig's field metadata (the words `train --help` shows).

    python -m arc_console.cli.settings_table                    # print the table
    python -m arc_console.cli.settings_table --write README.md  # replace the table between the markers
    python -m arc_console.cli.settings_table --check README.md  # exit 1 when the README's table is stale
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path

from arc_console.cli.setting_flags import default_text, metavar
from arc_console.config import PRESETS
from arc_console.train_config import flag_name, setting_fields

START = "<!-- settings-table: made by `python -m arc_console.cli.settings_table --write README.md`; edit arc_console/train_config.py -->"
END = "<!-- settings-table end -->"
FIX = "python -m arc_console.cli.settings_table --write README.md"


class TableError(ValueError):
    """The file has no settings table markers, or they are out of order."""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _flag_cell(spec: dataclasses.Field) -> str:
    if spec.type == "bool":
        return f"`{flag_name(spec)}` / `--no-{flag_name(spec)[2:]}`"
    return f"`{flag_name(spec)} {metavar(spec)}`"


def _meaning(spec: dataclasses.Field) -> str:
    doc = spec.metadata["doc"]
    return spec.metadata["help"] + (f". {doc}" if doc else "")


def settings_table() -> str:
    """One row per TrainConfig field, in declared order: the flag, its default under each preset, its help."""
    rows = [f"| setting | default ({' / '.join(PRESETS)}) | meaning |", "| --- | --- | --- |"]
    for spec in setting_fields():
        rows.append(f"| {_flag_cell(spec)} | {_cell(default_text(spec, quote='`'))} | {_cell(_meaning(spec))} |")
    return "\n".join(rows)


def with_table(text: str, table: str) -> str:
    """`text` with the block between the markers replaced by `table`."""
    start, end = text.find(START), text.find(END)
    if start < 0 or end < start:
        raise TableError(f"no settings table markers: put {START!r} and {END!r} where the table goes")
    return f"{text[:start]}{START}\n{table}\n{text[end:]}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m arc_console.cli.settings_table", allow_abbrev=False,
                                     description="The README's settings table, from TrainConfig's field metadata.")
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--write", type=Path, metavar="README", help="replace the table between the markers")
    action.add_argument("--check", type=Path, metavar="README", help="exit 1 when the table differs")
    args = parser.parse_args(argv)
    table = settings_table()
    target = args.write or args.check
    if target is None:
        print(table)
        return 0
    try:
        text = target.read_text(encoding="utf-8")
        updated = with_table(text, table)
    except (OSError, TableError) as exc:
        print(f"settings_table: error: {target}: {exc}", file=sys.stderr)
        return 2
    if args.check:
        if updated != text:
            print(f"settings_table: {target}'s settings table differs from TrainConfig's metadata: run {FIX}",
                  file=sys.stderr)
            return 1
        return 0
    if updated != text:
        target.write_text(updated, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
