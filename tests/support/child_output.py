"""Read a child process's output with a deadline: the one way tests in this suite read a child's pipes or
pseudo-terminal while it runs.

A loop such as `for line in proc.stdout` waits forever on a child that hangs without closing its output.
ChildOutput reads every stream it is given (so the child never blocks on a full pipe or terminal), and
each wait has a deadline that fails the test with what was read so far: a hung run shows where it hung.

    with ChildOutput(subprocess.Popen([...], stdout=PIPE, stderr=PIPE)) as child:
        child.wait_for_line(lambda line: line.startswith("step 1/"), timeout=120)
        child.proc.send_signal(signal.SIGINT)
        code = child.finish(timeout=120)          # reads to the end, waits for the exit
    assert code == 0, child.stderr

For a pseudo-terminal, ChildOutput.of_terminal(proc, master) reads the master side; its text is `child.out`.
The process is killed on leaving the `with` block if it is still running (a failed test leaves no orphan).
"""

from __future__ import annotations

import os
import select
import subprocess
import time
from collections.abc import Callable

import pytest

SHOWN = 4000  # characters of each stream quoted in a failure


class ChildOutput:
    def __init__(self, proc: subprocess.Popen, streams: dict[str, int] | None = None) -> None:
        self.proc = proc
        if streams is None:
            streams = {name: pipe.fileno() for name, pipe in (("stdout", proc.stdout), ("stderr", proc.stderr))
                       if pipe is not None}
        self._open = dict(streams)  # name -> descriptor still being read
        self._data = {name: bytearray() for name in streams}

    @classmethod
    def of_terminal(cls, proc: subprocess.Popen, master: int) -> ChildOutput:
        """Read a pseudo-terminal's master side (the child's stdin/stdout/stderr are its other side)."""
        return cls(proc, {"out": master})

    # ------------------------------------------------------------------ what was read

    def raw(self, name: str) -> bytes:
        return bytes(self._data[name])

    def text(self, name: str) -> str:
        return self._data[name].decode("utf-8", errors="replace")

    @property
    def stdout(self) -> str:
        return self.text("stdout")

    @property
    def stderr(self) -> str:
        return self.text("stderr")

    @property
    def out(self) -> str:
        """A terminal's output (stdout and stderr together, as a person sees them)."""
        return self.text("out")

    def transcript(self) -> str:
        parts = []
        for name, data in self._data.items():
            text = data.decode("utf-8", errors="replace")
            cut = f" (last {SHOWN} of {len(text)} characters)" if len(text) > SHOWN else ""
            parts.append(f"--- {name}{cut}:\n{text[-SHOWN:]}")
        return "\n".join(parts)

    # ------------------------------------------------------------------ reading

    def read(self, wait: float = 0.2) -> bool:
        """Read whatever is ready within `wait` seconds; False once every stream has ended."""
        if not self._open:
            return False
        ready, _, _ = select.select(list(self._open.values()), [], [], wait)
        for name, fd in list(self._open.items()):
            if fd not in ready:
                continue
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # EIO: a terminal whose other side is closed (the child has gone)
                chunk = b""
            if chunk:
                self._data[name] += chunk
            else:
                del self._open[name]
        return bool(self._open)

    def wait_until(self, condition: Callable[[], bool], timeout: float, waiting_for: str,
                   exited_ok: bool = False) -> None:
        """Read until condition() holds. Fails with the transcript at the deadline, or when the child has
        ended without it (unless exited_ok: then an ended child returns quietly)."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() >= deadline:
                self._fail(f"timed out after {timeout:.0f} s waiting for {waiting_for}")
            streaming = self.read(min(0.2, max(0.0, deadline - time.monotonic())))
            if self.proc.poll() is not None and not streaming:
                if condition() or exited_ok:
                    return
                self._fail(f"the process ended (exit code {self.proc.returncode}) before {waiting_for}")
            if not streaming:
                time.sleep(0.05)

    def wait_for_text(self, text: str, timeout: float, stream: str | None = None) -> None:
        name = stream or next(iter(self._data))
        self.wait_until(lambda: text in self.text(name), timeout, f"{text!r} on {name}")

    def wait_for_line(self, matches: Callable[[str], bool], timeout: float, stream: str = "stdout") -> str:
        """The first complete line of `stream` that matches."""
        def found() -> str | None:
            return next((line for line in self.text(stream).splitlines(keepends=True)
                         if line.endswith("\n") and matches(line.rstrip("\n"))), None)

        self.wait_until(lambda: found() is not None, timeout, f"a matching line on {stream}")
        return found().rstrip("\n")  # type: ignore[union-attr]

    def finish(self, timeout: float) -> int:
        """Read to the end of every stream and wait for the exit; the exit code."""
        self.wait_until(lambda: not self._open and self.proc.poll() is not None, timeout, "the process to exit",
                        exited_ok=True)
        try:
            return self.proc.wait(timeout=max(1.0, timeout))
        except subprocess.TimeoutExpired:
            self._fail(f"timed out after {timeout:.0f} s waiting for the process to exit")
        raise AssertionError("unreachable")

    def drain(self, seconds: float) -> None:
        """Keep reading for `seconds` (so the child never blocks on a full pipe or terminal)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and self.read(min(0.2, max(0.0, deadline - time.monotonic()))):
            pass

    def _fail(self, why: str) -> None:
        pytest.fail(f"{why}; pid {self.proc.pid}, args {self.proc.args!r}\n{self.transcript()}", pytrace=False)

    # ------------------------------------------------------------------ lifetime

    def __enter__(self) -> ChildOutput:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
        for pipe in (self.proc.stdout, self.proc.stderr, self.proc.stdin):
            if pipe is not None:
                pipe.close()
