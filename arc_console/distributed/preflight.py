"""What `train` decides before torch.distributed is imported: whether this process is one rank of a
torchrun launch, and whether a step's problems share out evenly among the processes."""

from __future__ import annotations

import os


def launched_by_torchrun() -> bool:
    return "WORLD_SIZE" in os.environ and "RANK" in os.environ


def check_divisible(problems_per_step: int, world_size: int) -> str | None:
    """The error when a step's problems cannot be shared out evenly, else None."""
    if world_size > 1 and problems_per_step % world_size:
        return (f"--problems-per-step {problems_per_step} is not a multiple of the {world_size} processes: "
                f"give each rank the same number of problems (e.g. --problems-per-step "
                f"{max(world_size, problems_per_step - problems_per_step % world_size)})")
    return None
