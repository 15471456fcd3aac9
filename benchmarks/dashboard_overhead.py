"""What the dashboard costs the trainer, and how fast a key press shows, side by side in one run.

    python benchmarks/dashboard_overhead.py [--steps 30] [--rounds 4] [--preset tiny] [--model M] [--max-new-tokens N]
        [--baseline-tree CHECKOUT] [--name WHAT] [--note TEXT]

Each round trains the tiny preset for --steps steps twice from the same seed, each in a fresh
process exactly as the CLI runs it: `train --headless` (trainer on the main thread, the headless
printer) and `train` with the dashboard (trainer thread plus the real app on Textual's headless
driver at 160x50, every panel live). The order alternates between rounds. Steps/s comes from the
trainer's own step timings in metrics.jsonl. Every round is reported (steps/s both ways and the
dashboard's cost), then the median and the spread; for the dashboard runs also the UI thread's CPU
seconds per step while the trainer trains (ui_cpu_s_per_step: from the first step's start to the stop;
ui_cpu_s_per_step_with_start adds the process's start, imports and model load included, spread over
the steps) and the screen refreshes per step, which a busy machine disturbs far less than wall-clock
speed. With --baseline-tree, each round also runs the dashboard of that checkout (e.g. a worktree of
main), so that before and after come from one run. Then, during a dashboard run, p is posted through
the app's message queue and the time until PAUSED is on the status line is measured.
Writes benchmarks/results/dashboard_overhead_DATE[_NAME].json.
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
import threading
import time
from datetime import date
from pathlib import Path

from checkout import tree_version  # benchmarks/, beside this script


TINY_SETTINGS = {"max_new_tokens": 32, "overlong_buffer": 8}


def settings_for(args: argparse.Namespace) -> dict:
    settings = dict(TINY_SETTINGS) if args.preset == "tiny" else {}
    if args.model:
        settings["model"] = args.model
    if args.max_new_tokens:
        settings["max_new_tokens"] = args.max_new_tokens
    return {**settings, "checkpoint_every": 10_000, "max_steps": args.steps}


class TrainingWindow:
    """The UI (main) thread's CPU clock read, from the trainer's thread, when the first step starts and when
    the run stops: the CPU the dashboard took while the trainer trained. The process's start (imports, the
    model's load, the app's start, which headless pays as well but for the app) is left out of it."""

    def __init__(self) -> None:
        self.clock = time.pthread_getcpuclockid(threading.main_thread().ident)
        self.first_step: float | None = None
        self.stopped: float | None = None

    def see(self, event: object) -> None:
        name = type(event).__name__
        if name == "StepStarted" and self.first_step is None:
            self.first_step = time.clock_gettime(self.clock)
        elif name == "Stopped" and self.stopped is None:
            self.stopped = time.clock_gettime(self.clock)


def child(mode: str, args: argparse.Namespace) -> None:
    """One measured run in this process; prints steps/s (and, with the dashboard, its own costs) as JSON.
    Runs on whichever arc_console is imported (PYTHONPATH picks the tree: --baseline-tree)."""
    from arc_console.cli import session
    from arc_console.config import build_config
    from headless_dashboard import FrameCounter, run_consoles_headless  # benchmarks/, beside this script

    refreshes = FrameCounter()
    window = TrainingWindow()
    forward = session.EventForwarder.__call__

    def seeing(forwarder: object, event: object) -> None:  # the trainer's events on their way to the app
        window.see(event)
        forward(forwarder, event)

    session.EventForwarder.__call__ = seeing
    if args.ui_cpu_share:
        from arc_console.tui.app import ConsoleApp

        ConsoleApp.UI_CPU_SHARE = args.ui_cpu_share
    run_consoles_headless()
    run_dir = Path(tempfile.mkdtemp(prefix="bench-run-")) / "run"
    config = build_config(args.preset, None, settings_for(args))
    devnull = open(os.devnull, "w")
    real_stdout, sys.stdout = sys.stdout, devnull
    ui_cpu = time.thread_time()  # with the dashboard, this (main) thread is the UI's; the trainer has its own
    try:
        if mode == "headless":
            session.train_headless(config, run_dir, None)
        else:
            session.train_with_dashboard(config, run_dir, None, None)
    finally:
        sys.stdout = real_stdout
    ui_cpu = time.thread_time() - ui_cpu
    rows = [json.loads(line) for line in (run_dir / "logs/metrics.jsonl").read_text().splitlines()]
    result = {"steps_per_s": len(rows) / sum(r["step_time_s"] for r in rows),
              "tokens_per_s": statistics.mean(r["tokens_per_s"] for r in rows),
              "step_time_s_median": statistics.median(r["step_time_s"] for r in rows)}
    if mode == "dashboard":
        assert window.first_step is not None and window.stopped is not None, "the run sent no step or no stop"
        result.update(ui_cpu_s_per_step=(window.stopped - window.first_step) / len(rows),
                      ui_cpu_s_per_step_with_start=ui_cpu / len(rows), refreshes_per_step=refreshes.frames / len(rows),
                      wall_s_per_step=sum(r["step_time_s"] for r in rows) / len(rows))
    print(json.dumps(result))


def measure(mode: str, args: argparse.Namespace, tree: Path | None = None) -> dict:
    """One child process; `tree`: measure that checkout's arc_console instead of this one's."""
    command = [sys.executable, __file__, "--child", mode, "--steps", str(args.steps), "--preset", args.preset]
    if args.model:
        command += ["--model", args.model]
    if args.max_new_tokens:
        command += ["--max-new-tokens", str(args.max_new_tokens)]
    if args.ui_cpu_share:
        command += ["--ui-cpu-share", str(args.ui_cpu_share)]
    env = {**os.environ, "PYTHONPATH": str(tree)} if tree else None
    out = subprocess.run(command, capture_output=True, text=True, check=True, env=env, timeout=3600)
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
        app.inbox.put(event)
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
    parser.add_argument("--baseline-tree", type=Path,
                        help="another checkout (e.g. a worktree of main) whose dashboard runs beside this one's in "
                             "every round, for a side-by-side comparison")
    parser.add_argument("--name", help="the results file's name after the date (default: none)")
    parser.add_argument("--note", default="", help="said in the results file (e.g. what else ran on the machine)")
    parser.add_argument("--child", choices=["headless", "dashboard"])
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.child:
        child(args.child, args)
        return
    here = Path(__file__).resolve().parent.parent
    rounds = []
    for round_index in range(args.rounds):
        modes = ["headless", "dashboard"] + (["baseline"] if args.baseline_tree else [])
        order = modes if round_index % 2 == 0 else modes[::-1]
        runs = {mode: measure("dashboard" if mode == "baseline" else mode, args,
                              args.baseline_tree if mode == "baseline" else None) for mode in order}
        headless, dashboard = runs["headless"], runs["dashboard"]
        row = {"round": round_index + 1, "order": list(order),
               "headless_steps_per_s": headless["steps_per_s"], "dashboard_steps_per_s": dashboard["steps_per_s"],
               "headless_tokens_per_s": headless["tokens_per_s"], "dashboard_tokens_per_s": dashboard["tokens_per_s"],
               "headless_step_time_s_median": headless["step_time_s_median"],
               "dashboard_step_time_s_median": dashboard["step_time_s_median"],
               "dashboard_cost_percent": 100 * (1 - dashboard["steps_per_s"] / headless["steps_per_s"]),
               "ui_cpu_s_per_step": dashboard["ui_cpu_s_per_step"],
               "ui_cpu_s_per_step_with_start": dashboard["ui_cpu_s_per_step_with_start"],
               "ui_cpu_share_of_step": dashboard["ui_cpu_s_per_step"] * dashboard["steps_per_s"],
               "refreshes_per_step": dashboard["refreshes_per_step"],
               "wall_s_per_step": dashboard["wall_s_per_step"]}
        if "baseline" in runs:
            baseline = runs["baseline"]
            row.update({f"baseline_{key}": baseline[key] for key in (
                "steps_per_s", "ui_cpu_s_per_step", "ui_cpu_s_per_step_with_start", "refreshes_per_step",
                "wall_s_per_step")})
            row["baseline_cost_percent"] = 100 * (1 - baseline["steps_per_s"] / headless["steps_per_s"])
            row["ui_cpu_ratio_to_baseline"] = dashboard["ui_cpu_s_per_step"] / baseline["ui_cpu_s_per_step"]
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
        "code": tree_version(here),
        "baseline_code": tree_version(args.baseline_tree) if args.baseline_tree else None,
        "ui_cpu_s_per_step": spread([r["ui_cpu_s_per_step"] for r in rounds]),
        "ui_cpu_s_per_step_with_start": spread([r["ui_cpu_s_per_step_with_start"] for r in rounds]),
        "refreshes_per_step": spread([r["refreshes_per_step"] for r in rounds]),
        **({"baseline_ui_cpu_s_per_step": spread([r["baseline_ui_cpu_s_per_step"] for r in rounds]),
            "baseline_ui_cpu_s_per_step_with_start": spread([r["baseline_ui_cpu_s_per_step_with_start"] for r in rounds]),
            "ui_cpu_ratio_to_baseline": spread([r["ui_cpu_ratio_to_baseline"] for r in rounds])}
           if args.baseline_tree else {}),
        "note": args.note,
        "pause_key_to_screen_ms": latencies,
        "pause_key_to_screen_ms_median": statistics.median(latencies) if latencies else None,
    }
    name = (f"dashboard_overhead_{result['date']}" + ("" if args.preset == "tiny" else f"_{args.preset}")
            + (f"_{args.name}" if args.name else ""))
    out = Path(__file__).parent / "results" / f"{name}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
