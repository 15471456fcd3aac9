"""The signals that stop a run gracefully (a checkpoint, the final model, the stop record): Ctrl+C, SIGTERM,
and SIGHUP, which a process gets when its terminal closes (a tmux session killed, an ssh connection dropped).

Once the terminal has hung up, every write to it fails (EIO), so the standard streams that led to it are
pointed at /dev/null: the stop then completes and the process exits; the run directory keeps the record.
"""

from __future__ import annotations

import errno
import os
import signal
import sys
import termios
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

from arc_console.engine.control import RunControl

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
STANDARD_STREAMS = (0, 1, 2)


def terminal_hung_up(fd: int) -> bool:
    """`fd` is a terminal that has hung up: the kernel answers every request on it with EIO."""
    try:
        termios.tcgetattr(fd)
    except termios.error as exc:
        return bool(exc.args) and exc.args[0] == errno.EIO
    except OSError:  # closed or not a descriptor at all: nothing to detach
        return False
    return False


def detach_from_hung_up_terminal() -> list[int]:
    """Point each standard stream that leads to a hung-up terminal at /dev/null; returns those streams.
    A terminal still there is left alone (a SIGHUP sent by hand must not take the screen away)."""
    gone = [fd for fd in STANDARD_STREAMS if terminal_hung_up(fd)]
    if gone:
        null = os.open(os.devnull, os.O_RDWR)
        try:
            for fd in gone:
                os.dup2(null, fd)
        finally:
            os.close(null)
    return gone


@contextmanager
def graceful_stop_signals(control: RunControl, announce: Callable[[int], None] | None = None) -> Iterator[None]:
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


class HangupTolerantStream:
    """A text stream whose writes to a terminal that has hung up (EIO) or a closed pipe (EPIPE) are dropped.

    Textual writes the screen from a thread of its own through a queue of 30 writes: if that thread dies on
    EIO before the SIGHUP handler has pointed the stream at /dev/null, the next 30 writes fill the queue and
    the app blocks on the 31st for ever, so the run's stop never finishes."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except OSError as exc:
            if exc.errno not in (errno.EIO, errno.EPIPE):
                raise
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError as exc:
            if exc.errno not in (errno.EIO, errno.EPIPE):
                raise

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextmanager
def tolerate_hung_up_terminal() -> Iterator[None]:
    """While the block runs, sys.__stderr__ (where Textual draws) drops writes a hung-up terminal refuses."""
    original = sys.__stderr__
    sys.__stderr__ = HangupTolerantStream(original)  # type: ignore[misc]
    try:
        yield
    finally:
        sys.__stderr__ = original  # type: ignore[misc]
