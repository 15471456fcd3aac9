"""Does `make train` show learning? The tiny preset's run, as a newcomer starts it.

    python benchmarks/demo_climb.py [--steps 500] [--seeds 0 1 2] [--window 50]

Runs `arc-console train --preset tiny` (the built-in warm-started model on its five demo tasks,
DAPO, every other setting as shipped) for --steps steps per seed, and reports the mean pixel
accuracy of the 8 candidates in windows of --window steps, the first step with a perfect answer,
the problems solved perfectly, the wall time and the seconds per step (a regression in the tiny step
shows here; benchmarks/tiny_step.py takes a step apart). Its figures: docs/benchmarks.md.
Writes benchmarks/results/demo_climb_DATE.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import torch

from arc_console.config import build_config
from arc_console.engine import events as ev
from arc_console.engine.trainer import Trainer


def run_one(seed: int, steps: int, window: int) -> dict:
    config = build_config("tiny", None, {"seed": seed, "max_steps": steps, "checkpoint_every": 10_000})
    stopped: list[ev.Stopped] = []
    trainer = Trainer(config, Path(tempfile.mkdtemp(prefix="demo-")) / "run",
                      lambda event: stopped.append(event) if isinstance(event, ev.Stopped) else None)
    started = time.perf_counter()
    trainer.setup()
    trainer.run()
    seconds = time.perf_counter() - started
    accuracy = [m["mean_accuracy"] for m in trainer.history]
    perfect_steps = [m["step"] for m in trainer.history if m["perfect"]]
    windows = [statistics.mean(accuracy[i:i + window]) for i in range(0, len(accuracy), window)]
    result = {"seed": seed, "steps_run": len(accuracy), "seconds": seconds,
              "seconds_per_step": seconds / max(1, len(accuracy)), "window_mean_accuracy": windows,
              "first_perfect_step": perfect_steps[0] if perfect_steps else None,
              "perfect_problems": sorted({m["problem_id"] for m in trainer.history if m["perfect"]}),
              "stop_reason": stopped[-1].reason if stopped else None}
    print(f"seed {seed}: {len(accuracy)} steps in {seconds:.0f} s ({result['seconds_per_step']:.3f} s a step), mean accuracy by {window} steps "
          f"{' '.join(f'{a:.2f}' for a in windows)}, first perfect at step {result['first_perfect_step']}, "
          f"stopped: {result['stop_reason']}", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--window", type=int, default=50)
    parser.add_argument("--out-dir", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument("--note", default="", help="what the machine was doing (e.g. 'quiet', 'measured under load')")
    args = parser.parse_args()
    runs = [run_one(seed, args.steps, args.window) for seed in args.seeds]
    result = {"date": date.today().isoformat(), "command": "python benchmarks/demo_climb.py " + " ".join(sys.argv[1:]),
              "hardware": f"{platform.machine()} CPU, {torch.get_num_threads()} threads, torch {torch.__version__}",
              "note": args.note, "preset": build_config("tiny", None, {}).to_dict(), "window": args.window,
              "seconds_per_step": statistics.mean(r["seconds_per_step"] for r in runs), "runs": runs}
    args.out_dir.mkdir(parents=True, exist_ok=True)
    path = args.out_dir / f"demo_climb_{result['date']}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
