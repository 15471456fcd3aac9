"""`arc-console train` as one rank of a torchrun launch: rank 0 resolves the settings and the run
directory (and refuses bad input) and tells the others; rank 0 then trains as one process would,
the others train beside it silently."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from arc_console import UserError
from arc_console.cli.errors import UsageError
from arc_console.config import TrainConfig
from arc_console.distributed.ranks import DistributedError, Ranks, join_process_group
from arc_console.terminal.textsafe import one_line

Resolve = Callable[[argparse.Namespace, int], tuple[TrainConfig, Path, "Path | None", str, bool]]



def train_as_rank(args: argparse.Namespace, resolve: Resolve, train_main: Callable[..., int],
                  hooks_for: Callable[[TrainConfig], list[Any]]) -> int:
    """resolve(args, world_size) raises a UserError on bad input (rank 0 shows it, every rank exits with its code);
    train_main(args, *resolved, ranks=...) is the single-process train command, run by rank 0;
    hooks_for(config) gives the other ranks' trainers the step hooks rank 0's gets (the held-out evaluation)."""
    try:
        ranks = join_process_group()
    except DistributedError as exc:
        raise UsageError(str(exc)) from None
    try:
        outcome: Any = None
        if ranks.is_main:
            try:
                outcome = resolve(args, ranks.world_size)
            except UserError as exc:
                outcome = exc
        outcome = ranks.broadcast_from_main(outcome)
        if isinstance(outcome, UserError):
            if ranks.is_main:
                raise outcome
            return outcome.exit_code
        if ranks.is_main:
            return train_main(args, *outcome, ranks=ranks)
        config, _, checkpoint, _, _ = outcome
        return train_follower(config, checkpoint, ranks, hooks_for(config))
    finally:
        ranks.shutdown()


def train_follower(config: TrainConfig, checkpoint: Path | None, ranks: Ranks, hooks: list[Any]) -> int:
    """A rank other than 0: the same training, silent but for errors, writing nothing in the run directory."""
    from arc_console.distributed.roles import ErrorsOnly, private_run_dir
    from arc_console.engine.control import RunControl
    from arc_console.engine.trainer import Trainer
    from arc_console.engine.unsloth_first import import_unsloth_first
    from arc_console.terminal.stop_signals import graceful_stop_signals

    import_unsloth_first(config.backend)
    control = RunControl()

    with graceful_stop_signals(control), private_run_dir(ranks) as folder:
        trainer = Trainer(config, folder, ErrorsOnly(ranks.rank), control, resume_from=checkpoint, ranks=ranks,
                          hooks=hooks)
        trainer.setup()
        stopped = trainer.run()
    if stopped.reason == "error":
        print(f"arc-console: rank {ranks.rank}: error: {one_line(stopped.error or 'unknown error', 4000)}",
              file=sys.stderr)
        return 1
    return 0
