"""The signals that stop a run gracefully (a checkpoint, the final model, the stop record): Ctrl+C, SIGTERM,
and SIGHUP, which a process gets when its terminal closes (a tmux session killed, an ssh connection dropped;
what is done about the terminal then is terminal/hung_up.py's).
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Protocol

from arc_console.terminal.hung_up import detach_from_hung_up_terminal

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Stoppable(Protocol):
    """What a stop signal is told to (the engine's RunControl is one)."""

    @property
    def stop_requested(self) -> bool: ...

    def request_stop(self) -> None: ...


@contextmanager
def graceful_stop_signals(control: Stoppable, announce: Callable[[int], None] | None = None) -> Iterator[None]:
    """Stop through `control` on SIGINT, SIGTERM or SIGHUP while the block runs; the previous handlers after.

    The first signal requests the stop and calls `announce(signum)` (whose failure to write is ignored).
    A second SIGINT or SIGTERM gives up on saving (KeyboardInterrupt). A second SIGHUP is ignored: a shell
    passes its own hangup on to its jobs, so one closing terminal can deliver two.
    """

    def on_signal(signum: int, frame: object) -> None:
        if signum == signal.SIGHUP:
            detach_from_hung_up_terminal()
        if control.stop_requested:
            if signum == signal.SIGHUP:
                return
            raise KeyboardInterrupt
        control.request_stop()
        if announce is not None:
            with suppress(OSError):
                announce(signum)

    # Started under nohup (SIGHUP ignored): the user asked the run to outlive its terminal; leave it so.
    handled = [signum for signum in STOP_SIGNALS
               if not (signum == signal.SIGHUP and signal.getsignal(signum) is signal.SIG_IGN)]
    previous = {signum: signal.signal(signum, on_signal) for signum in handled}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
