"""Run by torchrun with 2 ranks (test_distributed.py): rank 0 steers, rank 1 reports what reached it."""

import json
import sys

from arc_console.distributed.control_sync import sync_control, wait_while_paused
from arc_console.distributed.ranks import join_process_group
from arc_console.engine.control import RunControl

PAUSED_ROUNDS = 3

ranks = join_process_group()
control = RunControl()
if ranks.is_main:
    control.pause()
sync_control(control, ranks)
report = {"paused_after_sync": control.pause_requested}
rounds = 0
while True:
    rounds += 1
    if ranks.is_main and rounds == PAUSED_ROUNDS:
        control.resume()  # as the dashboard's p does from another thread
    if wait_while_paused(control, ranks, timeout=0.01):
        break
report.update(waited_rounds=rounds, resumed=not control.pause_requested)
if ranks.is_main:
    control.request_stop()
sync_control(control, ranks)
report["stopped"] = control.stop_requested
if ranks.rank == 1:
    with open(sys.argv[1], "w") as out:
        json.dump(report, out)
ranks.shutdown()
