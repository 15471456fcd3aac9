"""The process group seen by the trainer: which rank this is, and the few collectives it uses.

Without a launcher (no WORLD_SIZE in the environment) `single_process()` answers every call
locally, so the single-process trainer runs exactly as before.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch

TIMEOUT_ENV = "ARC_CONSOLE_COLLECTIVE_TIMEOUT_S"
DEFAULT_TIMEOUT_S = 600.0  # the slowest rank's rollout may finish minutes after the fastest one's


class DistributedError(RuntimeError):
    """A rank could not join or lost the process group."""


def collective_timeout() -> timedelta:
    raw = os.environ.get(TIMEOUT_ENV, "")
    try:
        seconds = float(raw) if raw else DEFAULT_TIMEOUT_S
    except ValueError:
        raise DistributedError(f"{TIMEOUT_ENV}={raw!r} is not a number of seconds") from None
    return timedelta(seconds=seconds)


@dataclass
class Ranks:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1 and torch.distributed.is_initialized()

    # ------------------------------------------------------------ collectives (local when single)

    def all_reduce_sum(self, values: list[float]) -> list[float]:
        if not self.distributed:
            return list(values)
        tensor = torch.tensor(values, dtype=torch.float64, device=self._device())
        torch.distributed.all_reduce(tensor)
        return tensor.tolist()

    def all_reduce_max(self, value: int) -> int:
        if not self.distributed:
            return value
        tensor = torch.tensor([value], dtype=torch.int64, device=self._device())
        torch.distributed.all_reduce(tensor, op=torch.distributed.ReduceOp.MAX)
        return int(tensor.item())

    def all_gather(self, item: Any) -> list[Any]:
        """Every rank's `item` (any picklable object), in rank order."""
        if not self.distributed:
            return [item]
        gathered: list[Any] = [None] * self.world_size
        torch.distributed.all_gather_object(gathered, item)
        return gathered

    def broadcast_from_main(self, item: Any) -> Any:
        if not self.distributed:
            return item
        box = [item if self.is_main else None]
        torch.distributed.broadcast_object_list(box, src=0)
        return box[0]

    def sum_gradients(self, params: list[torch.nn.Parameter]) -> None:
        """Each rank's loss is already divided by the step's global count, so the sum is the full gradient."""
        if not self.distributed:
            return
        # A parameter that no rank's loss reached keeps grad None, as in one process (AdamW skips it).
        reached = torch.tensor([p.grad is not None for p in params], dtype=torch.int64, device=self._device())
        torch.distributed.all_reduce(reached, op=torch.distributed.ReduceOp.MAX)
        params = [p for p, flag in zip(params, reached.tolist()) if flag]
        for param in params:
            if param.grad is None:
                param.grad = torch.zeros_like(param)
        if not params:
            return
        grads = [p.grad for p in params]
        flat = torch._utils._flatten_dense_tensors(grads)
        torch.distributed.all_reduce(flat)
        for grad, reduced in zip(grads, torch._utils._unflatten_dense_tensors(flat, grads)):
            grad.copy_(reduced)

    def shutdown(self) -> None:
        if torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()

    def _device(self) -> torch.device:
        if torch.distributed.get_backend() == "nccl":
            return torch.device("cuda", torch.cuda.current_device())
        return torch.device("cpu")


def single_process() -> Ranks:
    return Ranks()


def join_process_group() -> Ranks:
    """Join the group torchrun described in the environment: NCCL with one GPU per rank (LOCAL_RANK),
    gloo on CPUs. Collectives give up after ARC_CONSOLE_COLLECTIVE_TIMEOUT_S seconds."""
    rank, world_size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if world_size == 1:
        return Ranks(rank, world_size, local_rank)
    cuda = torch.cuda.is_available()
    if cuda:
        if local_rank >= torch.cuda.device_count():
            raise DistributedError(f"LOCAL_RANK {local_rank} but this machine has {torch.cuda.device_count()} GPUs")
        torch.cuda.set_device(local_rank)
    try:
        torch.distributed.init_process_group("nccl" if cuda else "gloo", timeout=collective_timeout())
    except (RuntimeError, ValueError) as exc:
        raise DistributedError(f"rank {rank} could not join the process group: {exc}") from None
    return Ranks(rank, world_size, local_rank)
