"""The command line: one module per command; `console` is the process's entry point, `main` the command
line itself (the tests call it in-process)."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Sequence
from typing import NoReturn


def main(argv: Sequence[str] | None = None) -> int:
    from arc_console.cli.commands import main as run_main  # lazy: importing cli.errors must not load every command

    return run_main(argv)


def console() -> int:
    """The console script's and `python -m arc_console`'s entry point. A KeyboardInterrupt that reaches it
    (a second Ctrl+C or SIGTERM, which gives up on saving; a Ctrl+C where nothing is saved) ends the
    process at once with one line (and a second where the interrupt carries one: how to resume a training
    run) and exit 130: no traceback, and no wait for a trainer thread to finish."""
    from arc_console.engine.library_noise import quiet_library_noise

    quiet_library_noise()  # before any command imports the libraries: some speak at import time
    try:
        code = main()
    except KeyboardInterrupt as interrupt:
        follow_up = f"\narc-console: {interrupt}" if str(interrupt) else ""
        _flush_and_exit(130, "arc-console: interrupted; whatever was saved before stays" + follow_up)
    # The command is done, a run's save included. The interpreter's teardown (torch's exit hooks) can take
    # a second or two: a stop signal then ends the process with the command's own exit code, not with
    # a traceback from an exit hook or a bare 143.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(signum) is not signal.SIG_IGN:
            signal.signal(signum, lambda *_: _flush_and_exit(code))
    return code


def _flush_and_exit(code: int, line: str = "") -> NoReturn:
    try:
        if line:
            print(line, file=sys.stderr, flush=True)
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):  # a terminal gone, a stream closed
        pass
    os._exit(code)
