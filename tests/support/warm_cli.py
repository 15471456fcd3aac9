"""A warm launcher for `arc-console` processes: one server process imports once what a training process
imports (torch, transformers' GPT-OSS, the trainer: seconds of CPU each start), then forks a fresh process
for each command line it is sent. Each is a real process with its own pid, run from the CLI's own entry
point (`arc_console.cli.console`) with its stdout on a pipe the test reads, its stderr and stdin on
/dev/null; the test may kill -9 it. Only the imports are shared: nothing is computed in the server before a
fork (no model, no thread pool), so every child loads the model, trains and writes its files itself.

    with WarmCli() as warm:       # or the session's: the `warm_cli` fixture (tests/conftest.py)
        proc = warm.start(["train", "--headless", ...])      # Popen-like: pid, poll(), wait(), kill(), send_signal()
        with ChildOutput(proc, {"stdout": proc.stdout_fd}) as child:
            ...

Use it where a test starts many processes and the process's start-up is not what is under test; a test of
the start-up itself (python -m arc_console) starts the real command.
"""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

# What `arc-console train --headless` imports before its first step (the CLI, the trainer, the model's code).
PRELOAD = ("torch", "transformers.models.gpt_oss.modeling_gpt_oss", "arc_console.cli.commands",
           "arc_console.cli.train", "arc_console.cli.session", "arc_console.engine.trainer",
           "arc_console.engine.backends", "arc_console.engine.compile_cache")


class WarmProcess:
    """A process the server forked, with the parts of subprocess.Popen that ChildOutput and the tests use."""

    def __init__(self, server: WarmCli, pid: int, args: list[str], stdout_fd: int, stderr_fd: int = -1) -> None:
        self._server = server
        self.pid = pid
        self.args = args
        self.stdout_fd = stdout_fd  # the read ends of the child's stdout and stderr (-1: none)
        self.stderr_fd = stderr_fd
        self.stdout = self.stderr = self.stdin = None  # no Popen pipes (ChildOutput closes those it finds)
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            self.returncode = self._server._exit_code(self.pid, block=False)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            self.returncode = self._server._exit_code(self.pid, block=True, timeout=timeout)
            if self.returncode is None:
                raise subprocess.TimeoutExpired(self.args, timeout or 0)
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def close(self) -> None:
        for fd in (self.stdout_fd, self.stderr_fd):
            if fd >= 0:
                os.close(fd)
        self.stdout_fd = self.stderr_fd = -1


class WarmCli:
    """The server (a real `python` process started here) and the processes it forks."""

    def __init__(self, timeout: float = 180) -> None:
        self._sock, theirs = socket.socketpair()
        self._sock.settimeout(timeout)  # for each answer of the server's
        # Its own output (what the libraries say at import) goes to a file, quoted if it fails, never into a test's.
        self._log = tempfile.TemporaryFile()
        self._server = subprocess.Popen([sys.executable, str(Path(__file__)), str(theirs.fileno())],
                                        pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, stdout=self._log,
                                        stderr=subprocess.STDOUT)
        theirs.close()
        self._children: list[WarmProcess] = []
        if self._reply() != "ready":  # its imports are done
            raise AssertionError("warm_cli: the server did not start")

    def start(self, argv: Sequence[str], stdout: bool = True, stderr: bool = False,
              cwd: Path | None = None, env: Mapping[str, str] | None = None,
              umask: int | None = None) -> WarmProcess:
        """Start `arc-console ARGV` in `cwd` (default: the server's); stdout=False sends its output to /dev/null
        (no pipe to read), stderr=True gives its stderr a pipe too (else /dev/null). `env`: variables set in the
        child before the CLI runs, on top of the server's environment; a variable read while PRELOAD's modules
        imported, or by Python at start-up (PYTHONPATH, sitecustomize), is already read: such a test starts the
        real command. `umask`: the child's umask (default: the server's), as subprocess's umask=."""
        ends = [os.pipe() if wanted else (-1, os.open(os.devnull, os.O_WRONLY)) for wanted in (stdout, stderr)]
        try:
            request = ["start", list(argv), None if cwd is None else str(cwd), dict(env or {}), umask]
            socket.send_fds(self._sock, [json.dumps(request).encode()], [write for _, write in ends])
        finally:
            for _, write in ends:
                os.close(write)
        child = WarmProcess(self, int(self._reply()), ["arc-console", *argv], ends[0][0], ends[1][0])
        self._children.append(child)
        return child

    def run(self, argv: Sequence[str], timeout: float, cwd: Path | None = None,
            env: Mapping[str, str] | None = None, umask: int | None = None) -> subprocess.CompletedProcess[str]:
        """As subprocess.run(..., capture_output=True, text=True, timeout=...): its exit code and output."""
        from child_output import ChildOutput

        child = self.start(argv, stdout=True, stderr=True, cwd=cwd, env=env, umask=umask)
        with ChildOutput(child, {"stdout": child.stdout_fd, "stderr": child.stderr_fd}) as output:
            code = output.finish(timeout)
        child.close()
        return subprocess.CompletedProcess(child.args, code, output.stdout, output.stderr)

    def _exit_code(self, pid: int, block: bool, timeout: float | None = None) -> int | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            self._sock.sendall(json.dumps(["poll", pid]).encode())
            answer = self._reply()
            if answer != "running":
                return int(answer)
            if not block or (deadline is not None and time.monotonic() >= deadline):
                return None
            time.sleep(0.05)

    def _reply(self) -> str:
        data = b""
        while not data.endswith(b"\n"):
            chunk = self._sock.recv(4096)
            if not chunk:
                self._log.seek(0)
                said = self._log.read().decode(errors="replace")[-4000:]
                raise AssertionError(f"warm_cli: the server ended (exit code {self._server.poll()}):\n{said}")
            data += chunk
        return data.decode().strip()

    def close(self) -> None:
        for child in self._children:
            if child.poll() is None:
                child.kill()
                child.wait(timeout=30)
            child.close()
        self._sock.close()  # the server ends when its socket does
        try:
            self._server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._server.kill()
            self._server.wait(timeout=30)
        self._log.close()

    def __enter__(self) -> WarmCli:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ---------------------------------------------------------------------------------------------- the server

def _serve(sock: socket.socket) -> None:
    import importlib

    from arc_console.engine.library_noise import quiet_library_noise

    quiet_library_noise()  # as the CLI does, before the libraries speak
    for name in PRELOAD:
        importlib.import_module(name)
    sock.sendall(b"ready\n")
    while True:
        message, fds, _, _ = socket.recv_fds(sock, 65536, 2)
        if not message:
            return  # the test closed its end
        request = json.loads(message)  # one at a time: the test waits for each answer
        if request[0] == "start":
            pid = os.fork()
            if pid == 0:
                sock.close()
                _child(*request[1:], *fds)
            for fd in fds:
                os.close(fd)
            answer = str(pid)
        else:  # poll
            done, status = os.waitpid(request[1], os.WNOHANG)
            answer = "running" if done == 0 else str(os.waitstatus_to_exitcode(status))
        sock.sendall(f"{answer}\n".encode())


def _standard_streams() -> tuple[io.TextIOWrapper, io.TextIOWrapper, io.TextIOWrapper]:
    """Descriptors 0, 1 and 2 as Python's start-up wraps them (the server's own streams give the encoding and
    error handlers): stderr written through at once (a kill -9 loses none of it), stdout buffered unless
    PYTHONUNBUFFERED or -u says otherwise, each line-buffered on a terminal."""
    like = (sys.__stdin__, sys.__stdout__, sys.__stderr__)
    stdin = io.TextIOWrapper(io.BufferedReader(io.FileIO(0, "r", closefd=False)), encoding=like[0].encoding,
                             errors=like[0].errors)
    writers = []
    for fd, stream in ((1, like[1]), (2, like[2])):
        raw = io.FileIO(fd, "w", closefd=False)
        unbuffered = fd == 2 or not isinstance(stream.buffer, io.BufferedWriter)  # -u: the server's is raw too
        writers.append(io.TextIOWrapper(raw if unbuffered else io.BufferedWriter(raw), encoding=stream.encoding,
                                        errors=stream.errors, line_buffering=os.isatty(fd),
                                        write_through=unbuffered))
    return stdin, writers[0], writers[1]


def _child(argv: list[str], cwd: str | None, env: dict[str, str], umask: int | None, stdout_fd: int,
           stderr_fd: int) -> None:
    code = 1
    try:
        devnull = os.open(os.devnull, os.O_RDWR)
        os.dup2(devnull, 0)
        os.dup2(stdout_fd, 1)
        os.dup2(stderr_fd, 2)
        for fd in (stdout_fd, stderr_fd, devnull):
            os.close(fd)
        if cwd is not None:
            os.chdir(cwd)
        os.environ.update(env)
        if umask is not None:
            os.umask(umask)
        sys.stdin, sys.stdout, sys.stderr = _standard_streams()
        import arc_console
        from arc_console.cli import console

        sys.argv = [str(Path(arc_console.__file__).with_name("__main__.py")), *argv]  # as `python -m arc_console`
        code = console()
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


if __name__ == "__main__":
    _serve(socket.socket(fileno=int(sys.argv[1])))
