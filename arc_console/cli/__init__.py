"""The command line: one module per command; `main` is the console script's entry point."""

from __future__ import annotations

from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    from arc_console.cli.main import main as run_main  # lazy: importing cli.errors must not load every command

    return run_main(argv)
