"""What the dashboard costs the trainer, and how fast a key press shows, side by side in one run.

    python benchmarks/dashboard_overhead.py [--steps 30] [--rounds 4] [--preset tiny] [--model M] [--max-new-tokens N]

Each round trains the tiny preset for --steps steps twice from the same seed, each in a fresh
process exactly as the CLI runs it: `train --headless` (trainer on the main thread, the headless
printer) and `train` with the dashboard (trainer thread plus the real app on Textual's headless
driver at 160x50, every panel live). The order alternates between rounds. Steps/s comes from the
trainer's own step timings in metrics.jsonl. Every round is reported (steps/s both ways and the
dashboard's cost), then the median and the spread; for the dashboard runs also the UI thread's CPU
seconds per step and the screen refreshes per step, which a busy machine disturbs far less than
wall-clock speed. Then, during a dashboard run, p is posted through the
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

TINY_SETTINGS = {"max_new_tokens": 32, "overlong_buffer": 8}


def settings_for(args: argparse.Namespace) -> dict:
    settings = dict(TINY_SETTINGS) if args.preset == "tiny" else {}
    if args.model:
        settings["model"] = args.model
    if args.max_new_tokens:
        settings["max_new_tokens"] = args.max_new_tokens
    return {**settings, "checkpoint_every": 10_000, "max_steps": args.steps}


def child(mode: str, args: argparse.Namespace) -> None:
    """One measured run in this process; prints steps/s (and, with the dashboard, its own costs) as JSON."""
    from textual.screen import Screen

    from arc_console.config import build_config
    from arc_console.cli.session import train_headless, train_with_dashboard

    refreshes = 0
    compositor_refresh = Screen._compositor_refresh

    def counted(screen: Screen) -> None:
        nonlocal refreshes
        refreshes += 1
        compositor_refresh(screen)

    Screen._compositor_refresh = counted  # counts the frames Textual renders; changes nothing else
    from arc_console.tui.app import ConsoleApp

    if args.ui_cpu_share:
        ConsoleApp.UI_CPU_SHARE = args.ui_cpu_share
    console_run = ConsoleApp.run

    async def quit_when_finished(pilot) -> None:  # q once the run has finished, as a user would
        while pilot.app.view.finished is None and pilot.app.dashboard.failure is None:
            await pilot.pause(1.0)
        await pilot.press("q")

    def run_headless(app: ConsoleApp, *args, **kwargs):  # the command's console, on Textual's headless driver
        app.handle_signals = False
        return console_run(app, headless=True, size=(160, 50), auto_pilot=quit_when_finished)

    ConsoleApp.run = run_headless
    run_dir = Path(tempfile.mkdtemp(prefix="bench-run-")) / "run"
    config = build_config(args.preset, None, settings_for(args))
    devnull = open(os.devnull, "w")
    real_stdout, sys.stdout = sys.stdout, devnull
    ui_cpu = time.thread_time()  # with the dashboard, this (main) thread is the UI's; the trainer has its own
    try:
        if mode == "headless":
            train_headless(config, run_dir, None)
        else:
            train_with_dashboard(config, run_dir, None, None)
    finally:
        sys.stdout = real_stdout
    ui_cpu = time.thread_time() - ui_cpu
    rows = [json.loads(line) for line in (run_dir / "logs/metrics.jsonl").read_text().splitlines()]
    result = {"steps_per_s": len(rows) / sum(r["step_time_s"] for r in rows),
              "tokens_per_s": statistics.mean(r["tokens_per_s"] for r in rows),
              "step_time_s_median": statistics.median(r["step_time_s"] for r in rows)}
    if mode == "dashboard":
        result.update(ui_cpu_s_per_step=ui_cpu / len(rows), refreshes_per_step=refreshes / len(rows))
    print(json.dumps(result))


def measure(mode: str, args: argparse.Namespace) -> dict:
    command = [sys.executable, __file__, "--child", mode, "--steps", str(args.steps), "--preset", args.preset]
    if args.model:
        command += ["--model", args.model]
    if args.max_new_tokens:
        command += ["--max-new-tokens", str(args.max_new_tokens)]
    if args.ui_cpu_share:
        command += ["--ui-cpu-share", str(args.ui_cpu_share)]
    out = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def spread(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


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

    config = build_config("tiny", None, {**TINY_SETTINGS, "checkpoint_every": 10_000, "max_steps": 100_000})
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
    parser.add_argument("--preset", default="tiny", help="tiny (default) | gpt-oss-20b | ...: the config preset")
    parser.add_argument("--model", help="a model other than the preset's (e.g. a local 20B-shape folder)")
    parser.add_argument("--max-new-tokens", type=int, help="tokens per candidate (tiny: 32)")
    parser.add_argument("--ui-cpu-share", type=float,
                        help="the dashboard's CPU budget (ConsoleApp.UI_CPU_SHARE; 1 lifts it), to compare variants")
    parser.add_argument("--no-latency", action="store_true", help="skip the key-to-screen measurement")
    parser.add_argument("--child", choices=["headless", "dashboard"])
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.child:
        child(args.child, args)
        return
    rounds = []
    for round_index in range(args.rounds):
        order = ("headless", "dashboard") if round_index % 2 == 0 else ("dashboard", "headless")
        runs = {mode: measure(mode, args) for mode in order}
        headless, dashboard = runs["headless"], runs["dashboard"]
        row = {"round": round_index + 1, "order": list(order),
               "headless_steps_per_s": headless["steps_per_s"], "dashboard_steps_per_s": dashboard["steps_per_s"],
               "headless_tokens_per_s": headless["tokens_per_s"], "dashboard_tokens_per_s": dashboard["tokens_per_s"],
               "headless_step_time_s_median": headless["step_time_s_median"],
               "dashboard_step_time_s_median": dashboard["step_time_s_median"],
               "dashboard_cost_percent": 100 * (1 - dashboard["steps_per_s"] / headless["steps_per_s"]),
               "ui_cpu_s_per_step": dashboard["ui_cpu_s_per_step"],
               "ui_cpu_share_of_step": dashboard["ui_cpu_s_per_step"] * dashboard["steps_per_s"],
               "refreshes_per_step": dashboard["refreshes_per_step"]}
        rounds.append(row)
        print(json.dumps(row), flush=True)
    latencies = [] if args.no_latency or args.preset != "tiny" else asyncio.run(pause_latency_ms(5))
    result = {
        "date": date.today().isoformat(),
        "command": "python benchmarks/dashboard_overhead.py " + " ".join(sys.argv[1:]),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, load average at the end {os.getloadavg()[0]:.1f}",
        "preset": args.preset,
        "model": args.model,
        "steps_per_round": args.steps,
        "ui_cpu_share": args.ui_cpu_share,
        "rounds": rounds,
        "dashboard_cost_percent": spread([r["dashboard_cost_percent"] for r in rounds]),
        "ui_cpu_s_per_step": spread([r["ui_cpu_s_per_step"] for r in rounds]),
        "refreshes_per_step": spread([r["refreshes_per_step"] for r in rounds]),
        "pause_key_to_screen_ms": latencies,
        "pause_key_to_screen_ms_median": statistics.median(latencies) if latencies else None,
    }
    name = f"dashboard_overhead_{result['date']}" + ("" if args.preset == "tiny" else f"_{args.preset}")
    out = Path(__file__).parent / "results" / f"{name}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
