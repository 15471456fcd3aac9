"""Closing the terminal (SIGHUP: a tmux session killed, an ssh connection dropped) stops a run as SIGTERM
does: checkpoint, final model, stop record, exit 0. The run is started in a real pseudo-terminal that is
its controlling terminal; the test closes the terminal's master side, so the kernel hangs the terminal
up and sends SIGHUP, and every later write to it fails, as when a terminal window closes."""

import contextlib
import fcntl
import json
import os
import pty
import signal
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest
from child_output import ChildOutput

from arc_console.engine.checkpoint import latest_checkpoint
from arc_console.engine.control import RunControl
from arc_console.terminal.hung_up import terminal_hung_up
from arc_console.terminal.stop_signals import graceful_stop_signals

CLI = [sys.executable, "-m", "arc_console"]
SHORT = ["--preset", "tiny", "--max-steps", "100000", "--max-new-tokens", "24", "--overlong-buffer", "4"]


def take_terminal_as_controlling() -> None:
    """In the child, after setsid: the pseudo-terminal on stdin becomes its controlling terminal, so
    that the kernel sends it SIGHUP when the terminal hangs up."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def start_in_terminal(args: list[str]) -> tuple[subprocess.Popen, int]:
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 160, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "160", "LINES": "50"}
    proc = subprocess.Popen([*CLI, *args], stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True,
                            preexec_fn=take_terminal_as_controlling)
    os.close(slave)
    return proc, master


def drain_until(child: ChildOutput, condition, timeout: float = 180) -> None:
    """Read the terminal (so the program never blocks on a full one) until `condition()` holds."""
    child.wait_until(condition, timeout, "the run to get there")


def steps_written(run: Path) -> int:
    return len(list((run / "logs/responses").glob("step_*.json")))


def assert_stopped_cleanly(run: Path) -> None:
    checkpoint = latest_checkpoint(run / "checkpoints")
    assert checkpoint is not None and (checkpoint / "trainer_state.json").exists()
    assert (run / "final_model/config.json").exists()
    record = json.loads((run / "logs/run.json").read_text())["stopped"]
    assert record["reason"] == "stop_requested" and record["step"] >= 2
    state = json.loads((checkpoint / "trainer_state.json").read_text())
    assert state["step"] == record["step"]
    assert "Traceback" not in (run / "logs/training.log").read_text()


@pytest.mark.slow
@pytest.mark.timeout(420)
@pytest.mark.parametrize("headless", [True, False], ids=["headless", "dashboard"])
def test_closing_the_terminal_stops_and_saves(tmp_path: Path, headless: bool) -> None:
    run = tmp_path / "run"
    proc, master = start_in_terminal(["train", *(["--headless"] if headless else []), "--out", str(run), *SHORT])
    try:
        drain_until(ChildOutput.of_terminal(proc, master), lambda: steps_written(run) >= 2)
        os.close(master)  # the terminal goes away: the kernel hangs it up and sends SIGHUP
        master = -1
        assert proc.wait(timeout=180) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        if master >= 0:
            os.close(master)
    assert_stopped_cleanly(run)
    runs = subprocess.run([*CLI, "runs", str(tmp_path), "--json"], capture_output=True, text=True, timeout=120)
    assert runs.returncode == 0, runs.stderr
    assert json.loads(runs.stdout)[0]["state"] == "stopped"


def drain_until_seen(child: ChildOutput, text: bytes, timeout: float = 180, exited_ok: bool = False) -> None:
    """Read the terminal until `text` has been drawn on it since this call (or, with exited_ok, the program
    has exited)."""
    since = len(child.raw("out"))
    child.wait_until(lambda: text in child.raw("out")[since:], timeout, f"{text!r} on the terminal",
                     exited_ok=exited_ok)


def close_terminal_and_wait(proc: subprocess.Popen, master: int) -> int:
    try:
        os.close(master)  # the terminal goes away: the kernel hangs it up and sends SIGHUP
        return proc.wait(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.slow
@pytest.mark.timeout(420)
@pytest.mark.parametrize("how", ["terminal closed", "SIGTERM"])
def test_a_stop_signal_while_the_model_loads_stops_at_step_0(tmp_path: Path, how: str) -> None:
    """The dashboard is not up yet: the run stops as a headless one does, once the model has loaded."""
    run = tmp_path / "run"
    proc, master = start_in_terminal(["train", "--out", str(run), *SHORT])
    child = ChildOutput.of_terminal(proc, master)
    drain_until_seen(child, b"loading")  # printed once the stop signals are handled, before the load
    if how == "terminal closed":
        assert close_terminal_and_wait(proc, master) == 0
    else:
        try:
            proc.send_signal(signal.SIGTERM)
            # said on the terminal: the load-time path took the signal, not a dashboard already up
            drain_until_seen(child, b"stopping once the model has loaded")
            drain_until_seen(child, b"resume with", exited_ok=True)
            assert proc.wait(timeout=120) == 0
        finally:
            close_terminal_and_wait(proc, master)
    record = json.loads((run / "logs/run.json").read_text())["stopped"]
    assert record == {**record, "reason": "stop_requested", "step": 0}
    checkpoint = latest_checkpoint(run / "checkpoints")
    assert checkpoint is not None and json.loads((checkpoint / "trainer_state.json").read_text())["step"] == 0
    assert (run / "final_model/config.json").exists()
    assert "Traceback" not in (run / "logs/training.log").read_text()


@pytest.mark.slow
@pytest.mark.timeout(420)
@pytest.mark.parametrize("how", ["terminal closed", "SIGTERM", "SIGINT"])
def test_a_stop_signal_under_the_eval_console_keeps_the_tasks_answered(tmp_path: Path, how: str) -> None:
    """The console stops the evaluation, writes the tasks answered and closes itself (no one may be there to
    press q). SIGINT here is kill -INT: Ctrl+C typed in the console is a key."""
    out = tmp_path / "eval"
    proc, master = start_in_terminal(["eval", "--tasks", "synthetic-heldout", "--augment", "none", "--out", str(out)])
    # the log tail's line for the first task answered (the status reads "task 1/120  " while it runs)
    child = ChildOutput.of_terminal(proc, master)
    drain_until_seen(child, b"1/120 syn-")
    if how == "terminal closed":
        assert close_terminal_and_wait(proc, master) == 0
    else:
        try:
            proc.send_signal(getattr(signal, how))
            drain_until_seen(child, b"stopped", exited_ok=True)
            assert proc.wait(timeout=120) == 0
        finally:
            close_terminal_and_wait(proc, master)
    report = json.loads((out / "eval.json").read_text())
    submission = json.loads((out / "submission.json").read_text())
    assert report["stopped"] is True
    assert 1 <= report["totals"]["tasks_answered"] < 120 and len(submission) == report["totals"]["tasks_answered"]


def test_giving_up_on_the_save_ends_the_process_at_once_in_one_line() -> None:
    """A second SIGINT or SIGTERM raises KeyboardInterrupt (test_a_second_hangup_keeps_saving_a_second_sigterm_gives_up);
    the process's entry point turns it into one line and exit 130 at once, though a non-daemon thread (the
    dashboard's trainer) is still running. (Two signals sent to a real run race its save: this is deterministic.)"""
    code = ("import threading\n"
            "import arc_console.cli as cli\n"
            "threading.Thread(target=threading.Event().wait, name='trainer').start()  # never ends\n"
            "def interrupted(argv=None):\n"
            "    raise KeyboardInterrupt\n"
            "cli.main = interrupted\n"
            "cli.console()\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 130
    assert done.stderr == "arc-console: interrupted; whatever was saved before stays\n"


def test_terminal_hung_up_only_when_it_is() -> None:
    master, slave = pty.openpty()
    try:
        assert not terminal_hung_up(slave)  # a live terminal is left alone
        read_end, write_end = os.pipe()
        assert not terminal_hung_up(write_end)  # a pipe or file is never a hung-up terminal
        os.close(read_end)
        os.close(write_end)
    finally:
        os.close(master)
        os.close(slave)


def test_a_second_hangup_keeps_saving_a_second_sigterm_gives_up() -> None:
    control = RunControl()
    announced: list[int] = []
    before = signal.getsignal(signal.SIGHUP)
    with graceful_stop_signals(control, announced.append):
        os.kill(os.getpid(), signal.SIGHUP)
        assert control.stop_requested and announced == [signal.SIGHUP]
        os.kill(os.getpid(), signal.SIGHUP)  # the shell passing its own hangup on: still saving
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGTERM)  # an impatient second stop: give up on saving
    assert announced == [signal.SIGHUP]
    assert signal.getsignal(signal.SIGHUP) == before  # the previous handlers are back


def test_writes_to_a_hung_up_terminal_are_dropped_while_the_dashboard_runs() -> None:
    """Textual's output thread dies on the first EIO and its queue of 30 writes then blocks the app for ever:
    while the dashboard runs, what it draws on a terminal that has just hung up is dropped instead."""
    import sys

    from arc_console.terminal.hung_up import HangupTolerantStream, tolerate_hung_up_terminal

    master, slave = pty.openpty()
    stream = os.fdopen(slave, "w", buffering=1)
    try:
        os.close(master)  # hung up
        with pytest.raises(OSError):
            stream.write("x" * 10 + "\n")
            stream.flush()
        tolerant = HangupTolerantStream(stream)
        assert tolerant.write("y" * 10 + "\n") == 11
        tolerant.flush()
        assert tolerant.fileno() == slave  # everything else is the stream's own
        original = sys.__stderr__
        with tolerate_hung_up_terminal():
            assert isinstance(sys.__stderr__, HangupTolerantStream)
        assert sys.__stderr__ is original
    finally:
        with contextlib.suppress(OSError):
            stream.close()


def test_a_run_started_under_nohup_keeps_ignoring_the_hangup() -> None:
    control = RunControl()
    before = signal.signal(signal.SIGHUP, signal.SIG_IGN)  # as nohup starts it
    try:
        with graceful_stop_signals(control):
            assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
            os.kill(os.getpid(), signal.SIGHUP)
            assert not control.stop_requested
            assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL  # the other stops are still handled
    finally:
        signal.signal(signal.SIGHUP, before)


def test_a_stop_signal_during_the_interpreters_teardown_keeps_the_commands_exit_code() -> None:
    """After the command returned (a run saved, its resume line printed) torch's exit hooks take a second or
    two: a stop signal then ends the process with the command's code, not a traceback from a hook or 143."""
    code = ("import atexit, os, signal, time\n"
            "import arc_console.cli as cli\n"
            "cli.main = lambda argv=None: 0\n"
            "def slow_exit_hook():\n"
            "    os.kill(os.getpid(), signal.SIGTERM)\n"
            "    time.sleep(30)\n"
            "atexit.register(slow_exit_hook)\n"
            "raise SystemExit(cli.console())\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=20)
    assert done.returncode == 0 and done.stderr == ""
