"""How the user started arc-console, so that a command we print (resume with: ...) runs as typed.

`make train` sets ARC_CONSOLE_LAUNCHER=make; otherwise the running entry point is named: `arc-console`
when that is what PATH finds, else its path, or `python -m arc_console` with this interpreter.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

LAUNCHER_VARIABLE = "ARC_CONSOLE_LAUNCHER"


def _shortest(path: Path) -> str:
    """`path` relative to the working directory when it lies below it, else absolute."""
    path = path.absolute()
    try:
        relative = path.relative_to(Path.cwd())
    except ValueError:
        return str(path)
    return str(relative) if str(relative).startswith(".") else f"./{relative}"


def entry_point(argv0: str | None = None, executable: str | None = None) -> str:
    """The shell words that start arc-console the way it was started now."""
    argv0 = sys.argv[0] if argv0 is None else argv0
    executable = sys.executable if executable is None else executable
    script = Path(argv0)
    if script.name == "__main__.py" or argv0 in ("-m", "-c", ""):
        python = shutil.which(Path(executable).name)
        same = python is not None and Path(python).resolve() == Path(executable).resolve()
        return f"{shlex.quote(Path(executable).name if same else _shortest(Path(executable)))} -m arc_console"
    on_path = shutil.which(script.name)
    if on_path is not None and script.exists() and Path(on_path).resolve() == script.resolve():
        return shlex.quote(script.name)
    return shlex.quote(_shortest(script))


def command_line(arguments: Sequence[str], launcher: str | None = None, argv0: str | None = None,
                 executable: str | None = None) -> str:
    """A command that runs `arc-console ARGUMENTS` from where the user is."""
    launcher = os.environ.get(LAUNCHER_VARIABLE, "") if launcher is None else launcher
    words = " ".join(shlex.quote(str(a)) for a in arguments)
    if launcher == "make":
        subcommand, _, rest = words.partition(" ")
        return f"make {subcommand} ARGS={shlex.quote(rest)}" if rest else f"make {subcommand}"
    return f"{entry_point(argv0, executable)} {words}"


def resume_command(run_dir: Path, headless: bool = False, max_steps: int | None = None, nproc: int = 1) -> str:
    """max_steps: for a run that stopped at its --max-steps, a larger one (a resume must train further);
    nproc: the ranks it ran as (torchrun's --nproc)."""
    extend = ["--max-steps", str(max_steps)] if max_steps is not None else []
    ranks = ["--nproc", str(nproc)] if nproc > 1 else []
    return command_line(["train", "--resume", str(run_dir), *extend, *(["--headless"] if headless else []), *ranks])


def resume_for(run_dir: Path) -> str:
    """The command that resumes the run in `run_dir` as it was started (headless or not, its ranks: what
    its logs/run.json says; for watch and eval, which did not start it)."""
    from arc_console.rundir.files import read_run_settings

    settings = read_run_settings(run_dir)
    nproc = settings.get("nproc")
    return resume_command(run_dir, headless=settings.get("headless") is True,
                          nproc=nproc if isinstance(nproc, int) and not isinstance(nproc, bool) and nproc > 0 else 1)
