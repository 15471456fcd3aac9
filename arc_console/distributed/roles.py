"""What a rank other than 0 shows and writes: errors only, on stderr, and its trainer's own small
log files in a private temporary folder (rank 0 owns the run directory)."""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from arc_console.distributed.ranks import Ranks
from arc_console.engine import events as ev
from arc_console.terminal.textsafe import one_line


class ErrorsOnly:
    """An event sink for ranks other than 0: prints error log lines, prefixed with the rank, and nothing else."""

    def __init__(self, rank: int) -> None:
        self.rank = rank

    def __call__(self, event: ev.Event) -> None:
        if isinstance(event, ev.LogLine) and event.level == "error":
            print(f"arc-console: rank {self.rank}: {one_line(event.text, 4000)}", file=sys.stderr)


@contextmanager
def private_run_dir(ranks: Ranks) -> Iterator[Path]:
    """A folder for a follower rank's trainer logs, removed when the rank ends."""
    folder = Path(tempfile.mkdtemp(prefix=f"arc-console-rank{ranks.rank}-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def describe(ranks: Ranks, problems_per_step: int) -> str:
    import torch

    backend = torch.distributed.get_backend() if torch.distributed.is_initialized() else "none"
    share = problems_per_step // ranks.world_size
    return (f"data parallel: {ranks.world_size} ranks ({backend}), {problems_per_step} problems per step, "
            f"{share} per rank; gradients and token counts all-reduced every update")


