"""A run whose trainer was killed (kill -9, before its first checkpoint) never leaves a user at a dead end:
watch's notification says the trainer died and how to resume it, watch exits 1 saying so (it exited 0
without a word), and eval of the run says to train it with the resume command (it said only that there
was no checkpoint). Each command is the one resume-command builder's (cli/launcher.resume_command), with
the run's own way of starting (headless). Real processes: a headless trainer, then watch in a real
terminal, eval, and the watch dashboard driven by Pilot."""

from __future__ import annotations

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

from arc_console.cli.view import watch_source
from arc_console.tui.app import ConsoleApp
from child_output import ChildOutput
from tui_fixtures import until

CLI = [sys.executable, "-m", "arc_console"]

pytestmark = pytest.mark.slow  # real training runs
FAST = ["--max-new-tokens", "8", "--overlong-buffer", "2", "--num-candidates", "2"]


@pytest.fixture(scope="module")
def killed_run(tmp_path_factory: pytest.TempPathFactory, warm_cli) -> Path:
    """A headless run killed with SIGKILL after its first step, before any checkpoint (a fresh process from the
    warm launcher, tests/support/warm_cli.py; the commands under test below are `python -m arc_console`)."""
    root = tmp_path_factory.mktemp("dead-ends")
    trainer = warm_cli.start(["train", "--headless", "--preset", "tiny", "--max-steps", "200", "--out", "run",
                              "--checkpoint-every", "1000", *FAST], cwd=root)
    with ChildOutput(trainer, {"stdout": trainer.stdout_fd}) as child:
        child.wait_for_line(lambda line: line.startswith("step 1/"), timeout=300)  # the run is under way
        os.kill(trainer.pid, signal.SIGKILL)
        child.finish(timeout=60)
    run = root / "run"
    assert (run / "logs" / "run.json").exists() and not list((run / "checkpoints").glob("step_*"))
    return run


def resumes_headless(command: str, run: str) -> bool:
    """The command resumes `run` as it was started (headless), through this interpreter's arc_console."""
    return command.endswith(f"python -m arc_console train --resume {run} --headless")


def test_eval_of_the_killed_run_says_how_to_train_it(killed_run: Path) -> None:
    out = subprocess.run([*CLI, "eval", "--headless", "--model", "run", "--out", "eval"], cwd=killed_run.parent,
                         capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120)
    assert out.returncode == 2
    said, command = out.stderr.splitlines()[-1].split("; train it with: ")
    assert said == ("arc-console: error: run: the run has neither a final model nor a complete checkpoint: it "
                    "stopped before its first checkpoint")
    assert resumes_headless(command, "run")
    assert not (killed_run.parent / "eval").exists()


def test_watch_exits_1_with_the_resume_command_once_its_trainer_died(killed_run: Path) -> None:
    primary, secondary = pty.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    watch = subprocess.Popen([*CLI, "watch", "run"], stdin=secondary, stdout=secondary, stderr=secondary,
                             cwd=killed_run.parent, env={**os.environ, "TERM": "xterm-256color"}, start_new_session=True)
    os.close(secondary)
    try:
        with ChildOutput.of_terminal(watch, primary) as child:
            child.wait_for_text("died", timeout=90)  # the notification's title
            os.write(primary, b"q")
            code = child.finish(timeout=60)
    finally:
        os.close(primary)
    assert code == 1
    pid = json.loads((killed_run / "logs" / "run.json").read_text())["pid"]
    after_the_app = child.out.rsplit("\x1b[?1049l", 1)[1]  # once it left the alternate screen
    closing = after_the_app[after_the_app.index("arc-console: "):].replace("\r", "").splitlines()[0]
    said, command = closing.split("; resume it with: ")
    assert said == f"arc-console: the trainer (pid {pid}) is gone without recording a stop"
    assert resumes_headless(command, "run")


async def test_the_watch_dashboard_says_the_trainer_died_and_how_to_resume(killed_run: Path) -> None:
    app = ConsoleApp(watch_source(killed_run), mode="watch", sampler_factory=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: any("died" in str(n.title) for n in app._notifications), timeout=30)
        (note,) = [n for n in app._notifications if "died" in str(n.title)]
        assert note.title == "the trainer died"
        assert resumes_headless(str(note.message).split("; resume it with: ")[1], str(killed_run))
        await until(pilot, lambda: any("watch: resume it with: " in line for line in app.dashboard.log_tail.lines),
                    timeout=10)
        assert not [n for n in app._notifications if "without a word" in str(n.title)]
