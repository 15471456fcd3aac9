"""CpuBudget: the dashboard's share of a core, enforced on its own thread.

In one process with the trainer on a small machine, every millisecond the UI thread runs is taken
from the trainer's torch threads (and holds the GIL the trainer's Python needs). Redrawing "at most
N times a second" bounds nothing when one redraw of the candidate grids and the plot costs tens of
milliseconds and steps come several a second. So the bound is on CPU time itself: a token bucket
filled at `share` seconds of CPU per second of wall time, drained by everything the UI thread
actually spent (event handling, our panel updates and Textual's compositing alike). When it is empty,
redraws wait; the panels then skip to the newest state instead of showing each one.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class CpuBudget:
    def __init__(self, share: float, burst_s: float = 0.03, max_wait_s: float = 1.0, clock: Callable[[], float] = time.monotonic,
                 cpu_clock: Callable[[], float] = time.thread_time) -> None:
        """share: CPU seconds the UI thread may use per wall second; burst_s: the most it may bank;
        max_wait_s: the longest a redraw waits, however much was spent (the screen never freezes). cpu_clock must measure the thread that calls allows() (time.thread_time does)."""
        if not 0 < share <= 1:
            raise ValueError(f"share must be in (0, 1], got {share}")
        self.share = share
        self.burst_s = burst_s
        self.max_wait_s = max_wait_s
        self._clock = clock
        self._cpu_clock = cpu_clock
        self._credit = burst_s
        self._last_wall = clock()
        self._last_cpu = cpu_clock()
        self._last_allowed = self._last_wall
        self.spent_s = 0.0  # CPU seconds the thread used since the budget started
        self.refused = 0  # redraws put off
        self.overdue = False  # the last allowed redraw came only because max_wait_s had passed

    def allows(self) -> bool:
        """Charge what the thread spent since the last call; True while credit is left."""
        wall, cpu = self._clock(), self._cpu_clock()
        spent = max(0.0, cpu - self._last_cpu)
        self.spent_s += spent
        self._credit = min(self.burst_s, self._credit + (wall - self._last_wall) * self.share - spent)
        self._last_wall, self._last_cpu = wall, cpu
        self.overdue = self._credit <= 0
        if not self.overdue or wall - self._last_allowed >= self.max_wait_s:
            self._credit = max(self._credit, 0.0)  # a debt is not carried past a forced redraw
            self._last_allowed = wall
            return True
        self.refused += 1
        return False
