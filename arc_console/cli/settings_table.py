"""The settings tables (docs/settings.md), made from the settings dataclasses' field metadata (the words
`--help` shows): train's from TrainConfig, eval's from EvalInputs, EvalSettings, TestTimePlan, SftSettings and TestTimeSettings.

    python -m arc_console.cli.settings_table                    # print the tables
    python -m arc_console.cli.settings_table --write docs/settings.md  # replace the tables between their markers
    python -m arc_console.cli.settings_table --check docs/settings.md  # exit 1 when a table is stale
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path

from arc_console.cli.setting_flags import default_text, field_default_text, flag_fields, metavar
from arc_console.config import PRESETS
from arc_console.evaluation.settings import EvalInputs, EvalSettings
from arc_console.evaluation.test_time_settings import SftSettings, TestTimePlan, TestTimeSettings
from arc_console.train_config import flag_name, setting_fields

START = "<!-- settings-table: made by `python -m arc_console.cli.settings_table --write docs/settings.md`; edit arc_console/train_config.py -->"
END = "<!-- settings-table end -->"
EVAL_START = ("<!-- eval-settings-table: made by `python -m arc_console.cli.settings_table --write docs/settings.md`; "
              "edit arc_console/evaluation/settings.py or test_time_settings.py -->")
EVAL_END = "<!-- eval-settings-table end -->"
FIX = "python -m arc_console.cli.settings_table --write docs/settings.md"
EVAL_CLASSES = (EvalInputs, EvalSettings, TestTimePlan, SftSettings, TestTimeSettings)


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


def eval_settings_table() -> str:
    """One row per eval flag, in declared order (what to answer, how, test-time RL): the flag, its default, its help."""
    rows = ["| setting | default | meaning |", "| --- | --- | --- |"]
    for settings_class in EVAL_CLASSES:
        for spec in flag_fields(settings_class):
            rows.append(f"| {_flag_cell(spec)} | {_cell(field_default_text(spec, quote='`'))} | {_cell(_meaning(spec))} |")
    return "\n".join(rows)


def with_table(text: str, table: str, start_marker: str = START, end_marker: str = END) -> str:
    """`text` with the block between the markers replaced by `table`."""
    start, end = text.find(start_marker), text.find(end_marker)
    if start < 0 or end < start:
        raise TableError(f"no settings table markers: put {start_marker!r} and {end_marker!r} where the table goes")
    return f"{text[:start]}{start_marker}\n{table}\n{text[end:]}"


def with_tables(text: str) -> str:
    """`text` with train's and eval's tables remade."""
    return with_table(with_table(text, settings_table()), eval_settings_table(), EVAL_START, EVAL_END)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m arc_console.cli.settings_table", allow_abbrev=False,
                                     description="The settings tables (docs/settings.md), from the settings' field metadata.")
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--write", type=Path, metavar="FILE", help="replace the table between the markers")
    action.add_argument("--check", type=Path, metavar="FILE", help="exit 1 when the table differs")
    args = parser.parse_args(argv)
    target = args.write or args.check
    if target is None:
        print(f"{settings_table()}\n\n{eval_settings_table()}")
        return 0
    try:
        text = target.read_text(encoding="utf-8")
        updated = with_tables(text)
    except (OSError, TableError) as exc:
        print(f"settings_table: error: {target}: {exc}", file=sys.stderr)
        return 2
    if args.check:
        if updated != text:
            print(f"settings_table: {target}'s settings tables differ from the settings' metadata: run {FIX}",
                  file=sys.stderr)
            return 1
        return 0
    if updated != text:
        target.write_text(updated, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
