"""Wall time per phase of a step, as verl's `_timer`: `with timer.phase("rollout"): ...` adds up."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

PHASES = ("rollout", "scoring", "old_logprobs", "update", "writing")


class PhaseTimer:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {name: 0.0 for name in PHASES}

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started

    def as_metrics(self) -> dict[str, float]:
        """{"time_rollout_s": ..., ...}: one key per phase, in metrics.jsonl's naming."""
        return {f"time_{name}_s": round(seconds, 4) for name, seconds in self.seconds.items()}
