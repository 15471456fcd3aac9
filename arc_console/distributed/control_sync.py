"""p / s / q on every rank: rank 0 holds the dashboard and the signal handler that steer a run; at
each safe point its pause flag, and any rank's stop, reach every rank's RunControl.

A paused run keeps syncing (every `timeout` seconds, paced by rank 0) so no collective waits long
enough to time out while the user has the run paused.
"""

from __future__ import annotations

from arc_console.distributed.ranks import Ranks
from arc_console.engine.control import RunControl


def sync_control(control: RunControl, ranks: Ranks) -> None:
    """Make every rank's control agree: paused when rank 0 is, stopping when any rank is."""
    if not ranks.distributed:
        return
    paused, stopping = ranks.all_reduce_sum([float(ranks.is_main and control.pause_requested),
                                            float(control.stop_requested)])
    if stopping:
        control.request_stop()
    elif paused:
        control.pause()
    else:
        control.resume()


def wait_while_paused(control: RunControl, ranks: Ranks, timeout: float) -> bool:
    """RunControl.wait_while_paused for every rank at once: True when the run goes on."""
    if not ranks.distributed:
        return control.wait_while_paused(timeout)
    if ranks.is_main:
        control.wait_while_paused(timeout)
    sync_control(control, ranks)
    return not control.pause_requested
