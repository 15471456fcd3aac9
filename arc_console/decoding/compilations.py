"""How many times torch.compile has compiled in this process: first compilations and recompilations alike.

A compiled function recompiles when it meets a shape (or other guarded value) it was not compiled for;
the static engine keeps its decode step's shapes fixed so that this count stops growing after the first
rollout. The count is dynamo's own (frames compiled), so it includes whatever else the process compiles
(a backend's compiled training kernels), which is what a user waiting on a slow step wants to know.
"""

from __future__ import annotations


def compilations() -> int:
    """Frames torch.compile has compiled so far in this process (0 where nothing was compiled)."""
    from torch._dynamo.utils import counters

    return int(counters["frames"]["ok"])
