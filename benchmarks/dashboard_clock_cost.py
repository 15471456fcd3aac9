"""What the dashboard's UI thread spends per second of wall time while nothing but time passes.

    python benchmarks/dashboard_clock_cost.py [--seconds 20] [--state step|idle] [--no-sampler] [--name WHAT]

The part of the dashboard's cost that grows with a step's length rather than with the number of steps: during a
step the status line's clock moves every second and the hardware panel takes a sample every
ConsoleApp.HARDWARE_PERIOD_S. The real app (train screen, Textual's headless driver at 160x50, the real hardware
sampler unless --no-sampler) is told a run started and (--state step) a step started, then nothing more for
--seconds; the UI (main) thread's CPU over that window is reported per wall second, with Textual's frames per
second. Multiply by a step's seconds for that step's share of ui_cpu_s_per_step in dashboard_overhead.py.
Runs whichever arc_console is imported (PYTHONPATH picks a checkout, as dashboard_overhead.py's --baseline-tree).
Prints one JSON line; with --name also writes benchmarks/results/dashboard_clock_cost_DATE_NAME.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import threading
import time
from datetime import date
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--state", choices=["step", "idle"], default="step",
                        help="step: a step is running (its clock ticks); idle: the run waits between steps")
    parser.add_argument("--no-sampler", action="store_true", help="no hardware samples (the clock alone)")
    parser.add_argument("--name", help="write the result to benchmarks/results/dashboard_clock_cost_DATE_NAME.json")
    args = parser.parse_args()

    import arc_console
    from arc_console.engine import events as ev
    from arc_console.engine.control import RunControl
    from arc_console.monitor.hardware import HardwareSampler
    from arc_console.tui.app import ConsoleApp
    from headless_dashboard import FrameCounter  # benchmarks/, beside this script

    counter = FrameCounter()
    clock = time.pthread_getcpuclockid(threading.main_thread().ident)
    measured: dict[str, float] = {}
    grid = [[0, 1, 2], [3, 4, 5], [6, 7, 8]]

    def source(sink, closing: threading.Event) -> None:
        sink(ev.RunStarted("runs/clock", "tiny", "hf", "cpu", "dapo", 1, 50, 8, ["demo"]))
        if args.state == "step":
            sink(ev.StepStarted(1, "demo", grid, grid, [0.6 + 0.1 * i for i in range(8)]))
        if closing.wait(3.0):  # the start's frames and layouts settle first
            return
        cpu, frames_before, wall = time.clock_gettime(clock), counter.frames, time.monotonic()
        if closing.wait(args.seconds):
            return
        wall = time.monotonic() - wall
        measured.update(ui_cpu_ms_per_s=1000 * (time.clock_gettime(clock) - cpu) / wall,
                        frames_per_s=(counter.frames - frames_before) / wall, seconds=wall)
        app.call_from_thread(app.exit)  # no pilot: its wake-ups would be measured with the rest

    app = ConsoleApp(source, mode="train", control=RunControl(),
                     sampler_factory=None if args.no_sampler else HardwareSampler)
    app.run(headless=True, size=(160, 50))
    result = {"date": date.today().isoformat(), "state": args.state, "hardware_sampler": not args.no_sampler,
              **measured, "code": str(Path(arc_console.__file__).parent.parent),
              "machine": f"{platform.machine()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}"}
    print(json.dumps(result))
    if args.name:
        out = Path(__file__).parent / "results" / f"dashboard_clock_cost_{result['date']}_{args.name}.json"
        out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
