"""Is the trainer of a run directory still alive? Read from run.json, logs/heartbeat and the process table.

A run that ended with a word has a stop record in run.json. One that did not is judged from its
process (named in run.json by pid and host: gone from this host means it died) and, where the
process cannot be seen (another host), from its heartbeat: no step for much longer than its steps
take means it stalled or died.
"""

from __future__ import annotations

import os
import socket
import statistics
from dataclasses import dataclass
from typing import Any

import psutil

from arc_console.rundir.files import stop_record, stop_words

# No heartbeat for STALL_FACTOR times the usual step (and at least STALL_FLOOR_S) means silent.
STALL_FACTOR = 10.0
STALL_FLOOR_S = 30.0
FIRST_STEP_ALLOWANCE_S = 600.0  # before any step: model compilation can take minutes


@dataclass(frozen=True)
class Verdict:
    state: str  # running | finished | died | silent | unknown
    detail: str = ""


def process_state(pid: int, started_at: float | None) -> str:
    """'alive', 'gone', or 'unknown' (a process of that pid exists but started after the run: reused)."""
    try:
        process = psutil.Process(pid)
        created = process.create_time()
    except psutil.NoSuchProcess:
        return "gone"
    except psutil.Error:
        return "alive"  # it exists; we may not look closer
    if started_at is not None and created > started_at + 1.0:
        return "gone"  # the pid was reused by a newer process
    if process.status() == psutil.STATUS_ZOMBIE:
        return "gone"
    return "alive"


def stall_after_s(step_times: list[float]) -> float:
    """How long without a heartbeat is "much longer than this run's steps"."""
    if not step_times:
        return FIRST_STEP_ALLOWANCE_S
    return max(STALL_FLOOR_S, STALL_FACTOR * statistics.median(step_times[-20:]))


def assess(settings: dict[str, Any], heartbeat_age_s: float | None, step_times: list[float],
           this_host: str | None = None) -> Verdict:
    """The verdict on a run from what its run directory says now."""
    stopped = stop_record(settings)
    if stopped is not None:
        reason = stop_words(str(stopped.get("reason", "?")))
        return Verdict("finished", f"finished ({reason}) at {stopped.get('time', '?')} after step {stopped.get('step', '?')}")
    pid = settings.get("pid")
    if not isinstance(pid, int):
        return Verdict("unknown")  # a run directory from before run.json named its process
    host = str(settings.get("host", ""))
    started_at = settings.get("started_at") if isinstance(settings.get("started_at"), (int, float)) else None
    if host == (this_host or socket.gethostname()):
        if process_state(pid, started_at) == "gone":
            return Verdict("died", f"the trainer (pid {pid}) is gone without recording a stop")
        where = f"pid {pid}"
    else:
        where = f"pid {pid} on {host or '?'}"
    limit = stall_after_s(step_times)
    if heartbeat_age_s is not None and heartbeat_age_s > limit:
        return Verdict("silent", f"no sign of life from the trainer ({where}) for {heartbeat_age_s:.0f}s "
                                 f"(its steps take {statistics.median(step_times[-20:]):.1f}s)" if step_times else
                       f"no sign of life from the trainer ({where}) for {heartbeat_age_s:.0f}s")
    return Verdict("running", f"trainer {where} running")


def heartbeat_age(path: os.PathLike[str], now: float) -> float | None:
    try:
        return max(0.0, now - os.stat(path).st_mtime)
    except OSError:
        return None
