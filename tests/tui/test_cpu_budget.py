"""CpuBudget: the UI thread's share of a core, charged with what it really spent."""

import time

import pytest

from arc_console.tui.cpu_budget import CpuBudget


class Clocks:
    def __init__(self) -> None:
        self.wall = 100.0
        self.cpu = 5.0


def test_a_costly_redraw_puts_off_the_next_ones_until_the_share_is_earned_back() -> None:
    clocks = Clocks()
    budget = CpuBudget(0.02, burst_s=0.01, max_wait_s=10.0, clock=lambda: clocks.wall, cpu_clock=lambda: clocks.cpu)
    assert budget.allows()
    clocks.cpu += 0.050  # one redraw of the grids and the plot: 50 ms
    clocks.wall += 0.125
    allowed = []
    for _ in range(40):  # 5 s of redraw ticks at 8 Hz, nothing else spent
        allowed.append(budget.allows())
        clocks.wall += 0.125
    first_again = allowed.index(True)
    # 50 ms at 2% of a core is 2.5 s of wall time, less the 10 ms it had banked.
    assert 0.125 * (first_again + 1) == pytest.approx(2.0, abs=0.13)
    assert budget.spent_s == pytest.approx(0.050) and budget.refused == first_again
    assert not budget.overdue


def test_the_screen_never_waits_longer_than_max_wait() -> None:
    clocks = Clocks()
    budget = CpuBudget(0.02, max_wait_s=1.0, clock=lambda: clocks.wall, cpu_clock=lambda: clocks.cpu)
    budget.allows()
    times = []
    for _ in range(80):  # a UI thread that spends 10% of a core on its own: never any credit
        clocks.wall += 0.125
        clocks.cpu += 0.0125
        if budget.allows() and budget.overdue:  # the first few come from the banked burst
            times.append(clocks.wall)
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert gaps and all(gap == pytest.approx(1.0) for gap in gaps)


def test_real_clocks_charge_this_threads_work() -> None:
    budget = CpuBudget(0.01, burst_s=0.001)
    end = time.thread_time() + 0.02
    while time.thread_time() < end:  # 20 ms of real work
        pass
    assert not budget.allows() and budget.spent_s >= 0.02


def test_a_share_outside_zero_to_one_is_refused() -> None:
    with pytest.raises(ValueError):
        CpuBudget(0.0)
