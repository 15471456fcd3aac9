"""`arc-console train --nproc N`: start the same command under torch.distributed.run (torchrun) with N
processes on this machine, and say clearly when a rank failed."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence

from arc_console.terminal.textsafe import one_line


def without_nproc(argv: Sequence[str]) -> list[str]:
    """The command's arguments less --nproc N / --nproc=N."""
    kept: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--nproc":
            skip = True
        elif not arg.startswith("--nproc="):
            kept.append(arg)
    return kept


def torchrun_command(nproc: int, argv: Sequence[str]) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(nproc),
            "--monitor-interval", "1", "-m", "arc_console", *without_nproc(argv)]


def run_under_torchrun(nproc: int, argv: Sequence[str]) -> int:
    """Run `arc-console <argv>` as nproc ranks; their exit status (2 when rank 0 refused the input)."""
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")  # torchrun's default, set here so it does not warn; --cpu-threads rules
    # torchrun SIGKILLs its ranks 30 s after passing a stop on; a 20B checkpoint and final model take longer.
    env.setdefault("TORCH_ELASTIC_SHUTDOWN_TIMEOUT", "600")
    try:
        code = subprocess.call(torchrun_command(nproc, argv), env=env)
    except KeyboardInterrupt:  # the ranks got the same Ctrl-C and save before they stop
        return 130
    if code not in (0, 130):
        print(f"arc-console: error: a rank of the {nproc} processes failed (exit status {code}) and the others "
              f"were stopped; continue from the last checkpoint with: {one_line(resume_hint(nproc, argv), 2000)}",
              file=sys.stderr)
    return code


def resume_hint(nproc: int, argv: Sequence[str]) -> str:
    """`arc-console train --resume RUN_DIR ...`, naming the run directory where the command did."""
    run_dir = "RUN_DIR"
    for flag in ("--resume", "--out"):
        for index, arg in enumerate(argv):
            if arg == flag and index + 1 < len(argv):
                run_dir = argv[index + 1]
            elif arg.startswith(flag + "="):
                run_dir = arg.split("=", 1)[1]
        if run_dir != "RUN_DIR":
            break
    headless = " --headless" if "--headless" in argv else ""
    return f"arc-console train --resume {run_dir}{headless} --nproc {nproc} (or another --nproc, or none)"
