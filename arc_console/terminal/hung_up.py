"""A terminal that hung up (SIGHUP: a tmux session killed, an ssh connection dropped, a window closed).

Once the terminal has hung up, every write to it fails (EIO), so the standard streams that led to it are
pointed at /dev/null: a run's stop then completes and the process exits; the run directory keeps the record.
The stop itself is terminal/stop_signals.py's.
"""

from __future__ import annotations

import errno
import os
import sys
import termios
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from textual.app import App

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


def leave_hung_up_terminal(app: App) -> None:
    """For a Textual app (its SIGHUP handler): where the terminal is gone, drawing goes to /dev/null and the
    app stops reading input (a hung-up terminal reads as an endless end of file). A terminal still there is
    left alone."""
    if detach_from_hung_up_terminal():
        disable_input = getattr(app._driver, "disable_input", None)
        if disable_input is not None:
            disable_input()


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
