"""p / s / q on every rank: rank 0 holds the dashboard and the signal handler that steer a run; at
each safe point its pause flag, and any rank's stop, reach every rank's RunControl.

A paused run keeps syncing (every `timeout` seconds, paced by rank 0) so no collective waits long
enough to time out while the user has the run paused.
"""

from __future__ import annotations

from arc_console.distributed.ranks import Ranks
from arc_console.engine.control import RunControl


def sync_control(control: RunControl, ranks: Ranks) -> tuple[bool, bool]:
    """Make every rank's control agree: paused when rank 0 is, stopping when any rank is. Returns what was
    agreed, (paused, stopping): decide on these, not on the control's flags read again, which a signal
    or a key may change on one rank alone right after (the ranks would then part ways and one would wait
    in a collective the other never joins)."""
    if not ranks.distributed:
        return control.pause_requested and not control.stop_requested, control.stop_requested
    paused, stopping = ranks.all_reduce_sum([float(ranks.is_main and control.pause_requested),
                                            float(control.stop_requested)])
    if stopping:
        control.request_stop()
    elif paused:
        control.pause()
    else:
        control.resume()
    return paused > 0 and not stopping, stopping > 0


def wait_while_paused(control: RunControl, ranks: Ranks, timeout: float) -> bool:
    """RunControl.wait_while_paused for every rank at once: True when the run goes on (resumed or stopping),
    as every rank agreed."""
    if not ranks.distributed:
        return control.wait_while_paused(timeout)
    if ranks.is_main:
        control.wait_while_paused(timeout)
    paused, stopping = sync_control(control, ranks)
    return not paused or stopping
