"""What the dashboard costs the trainer, and how fast a key press shows, side by side in one run.

    python benchmarks/dashboard_overhead.py [--steps 30] [--rounds 4]

Each round trains the tiny preset for --steps steps twice from the same seed, each in a fresh
process exactly as the CLI runs it: `train --headless` (trainer on the main thread, the headless
printer) and `train` with the dashboard (trainer thread plus the real app on Textual's headless
driver at 160x50, every panel live). The order alternates between rounds. Steps/s comes from the
trainer's own step timings in metrics.jsonl. Then, during a dashboard run, p is posted through the
app's message queue and the time until PAUSED is on the status line is measured.
Writes benchmarks/results/dashboard_overhead_DATE.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

SETTINGS = {"max_new_tokens": 32, "overlong_buffer": 8, "checkpoint_every": 10_000}


def child(mode: str, steps: int) -> None:
    """One measured run in this process; prints steps/s as JSON."""
    from arc_console.config import build_config
    from arc_console.train_command import _train_headless, _train_with_dashboard

    run_dir = Path(tempfile.mkdtemp(prefix="bench-run-")) / "run"
    config = build_config("tiny", None, {**SETTINGS, "max_steps": steps})
    devnull = open(os.devnull, "w")
    real_stdout, sys.stdout = sys.stdout, devnull
    try:
        if mode == "headless":
            _train_headless(config, run_dir, None)
        else:
            _train_with_dashboard(config, run_dir, None, None, headless_driver=True, exit_on_finish=True)
    finally:
        sys.stdout = real_stdout
    rows = [json.loads(line) for line in (run_dir / "logs/metrics.jsonl").read_text().splitlines()]
    print(json.dumps({"steps_per_s": len(rows) / sum(r["step_time_s"] for r in rows)}))


def measure(mode: str, steps: int) -> float:
    out = subprocess.run([sys.executable, __file__, "--child", mode, "--steps", str(steps)], capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["steps_per_s"]


async def pause_latency_ms(presses: int) -> list[float]:
    from textual import events

    from arc_console.config import build_config
    from arc_console.engine import events as ev
    from arc_console.engine.control import RunControl
    from arc_console.engine.trainer import Trainer
    from arc_console.engine.trainer_thread import TrainerThread
    from arc_console.tui.app import ConsoleApp
    from arc_console.tui.widgets.status_bar import StatusBar

    control = RunControl()
    loop = asyncio.get_running_loop()
    first_step = asyncio.Event()

    def sink(event) -> None:
        app.post_message(__import__("arc_console.tui.messages", fromlist=["EngineEvent"]).EngineEvent(event))
        if isinstance(event, ev.StepFinished):
            loop.call_soon_threadsafe(first_step.set)

    config = build_config("tiny", None, {**SETTINGS, "max_steps": 100_000})
    worker = TrainerThread(Trainer(config, Path(tempfile.mkdtemp()) / "run", sink, control))

    def source(_sink, closing) -> None:
        worker.start()
        worker.ready.wait()
        worker.start_training()
        worker.join()

    app = ConsoleApp(source, control=control)
    latencies = []
    async with app.run_test(size=(160, 50)):
        await first_step.wait()
        status = app.query_one(StatusBar)
        for _ in range(presses):
            started = time.perf_counter()
            app.post_message(events.Key("p", "p"))  # through the queue, behind the trainer's events
            while "PAUSED" not in status.render().plain:
                await asyncio.sleep(0.0005)
            latencies.append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(0.5)
            app.post_message(events.Key("p", "p"))
            await asyncio.sleep(1.0)
        control.request_stop()
        await asyncio.to_thread(worker.join)
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--child", choices=["headless", "dashboard"])
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.child:
        child(args.child, args.steps)
        return
    headless, dashboard = [], []
    for round_index in range(args.rounds):
        order = ("headless", "dashboard") if round_index % 2 == 0 else ("dashboard", "headless")
        for mode in order:
            (headless if mode == "headless" else dashboard).append(measure(mode, args.steps))
    latencies = asyncio.run(pause_latency_ms(5))
    ratio = statistics.median(d / h for d, h in zip(dashboard, headless))
    result = {
        "date": date.today().isoformat(),
        "command": "python benchmarks/dashboard_overhead.py " + " ".join(sys.argv[1:]),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "steps_per_round": args.steps,
        "headless_steps_per_s": headless,
        "dashboard_steps_per_s": dashboard,
        "dashboard_over_headless": ratio,
        "dashboard_cost_percent": 100 * (1 - ratio),
        "pause_key_to_screen_ms": latencies,
        "pause_key_to_screen_ms_median": statistics.median(latencies),
    }
    out = Path(__file__).parent / "results" / f"dashboard_overhead_{result['date']}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
