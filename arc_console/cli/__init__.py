"""The command line: one module per command; `console` is the process's entry point, `main` the command
line itself (the tests call it in-process)."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    from arc_console.cli.main import main as run_main  # lazy: importing cli.errors must not load every command

    return run_main(argv)


def console() -> int:
    """The console script's and `python -m arc_console`'s entry point. A KeyboardInterrupt that reaches it
    (a second Ctrl+C or SIGTERM, which gives up on saving; a Ctrl+C where nothing is saved) ends the
    process at once with one line and exit 130: no traceback, and no wait for a trainer thread to finish."""
    try:
        return main()
    except KeyboardInterrupt:
        try:
            print("arc-console: interrupted; whatever was saved before stays", file=sys.stderr, flush=True)
            sys.stdout.flush()
        except (OSError, ValueError):  # a terminal gone, a stream closed
            pass
        os._exit(130)
