"""The time to the first trained step, and torch.compile's recompilations after it.

Compilation makes a run's first steps slow (the decode step, a backend's training kernels); after the
first step nothing should compile again. The trainer starts a WarmUpClock when it starts and asks it, as
each step ends, for the figures that go into the step's metrics line. The update runs its forward and
backward under symbolic_lengths(): every step brings a new sequence length to a backend's compiled
training code, which would otherwise compile for the first length and again at the second.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any

from arc_console.decoding.compilations import compilations


class WarmUpClock:
    """first_step_s: seconds from the trainer's start to the end of its first step in this process (a
    resumed run's first step included); recompiles_after_step1: compilations since then, on later steps."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.at_first_step: int | None = None  # compilations counted when the first step ended
        self.last_seen = 0

    def step_metrics(self, log: Callable[[str, str], Any]) -> dict[str, float | int]:
        """The figures for the step that just ended; logs the first step's time and each new recompilation."""
        compiled = compilations()
        if self.at_first_step is None:
            self.at_first_step = self.last_seen = compiled
            seconds = time.perf_counter() - self.started
            log(f"first step done {seconds:.1f}s after the trainer started ({compiled} torch.compile "
                f"compilation{'' if compiled == 1 else 's'})", "info")
            return {"first_step_s": round(seconds, 3), "compilations": compiled}
        if compiled > self.last_seen:
            new = compiled - self.last_seen
            log(f"{new} torch.compile recompilation{'' if new == 1 else 's'} in this step "
                "(a new shape reached a compiled function)", "warning")
        self.last_seen = compiled
        return {"recompiles_after_step1": compiled - self.at_first_step, "compilations": compiled}


@contextlib.contextmanager
def symbolic_lengths() -> Iterator[None]:
    """torch.compile'd code first compiled in here takes its tensors' sizes as symbols, not constants.

    Code compiled with dynamic=None (Unsloth's compiled GPT-OSS modules and flex attention among them)
    otherwise specialises on the first step's sequence length and recompiles when the second step's
    differs (automatic dynamic shapes); compiled symbolic at once, it serves every later length. Code
    compiled with an explicit dynamic=True/False, and the rollout engine's decode step (compiled outside
    this context, for one fixed shape), are not affected. Dynamo's settings are per thread: this covers
    what compiles in the calling thread (the forward pass, and a backward that runs there), not code a
    custom backward compiles first on autograd's device threads.
    """
    try:
        import torch._dynamo
    except Exception:  # no dynamo in this torch: nothing compiles, nothing to change
        yield
        return
    with torch._dynamo.config.patch(assume_static_by_default=False):
        yield
