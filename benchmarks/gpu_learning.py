"""Learning through the GPU path: `arc-console train` (DAPO, --eval-every) on a warm-started model, recorded.

    python benchmarks/gpu_learning.py --model DIR [--backend unsloth] [--steps 40] [--eval-every 10]
        [--out-dir DIR] [--deadline-s 300] [--screenshot-at-step 5] [-- extra train flags]

Runs the real CLI in a subprocess on the synthetic *training* split (every family), with held-out
evaluation on synthetic-heldout (which the warm start never saw), and writes gpu_learning_<date>.json:
`gpu`, `model` (its MADE.json summary), `steps`, `pass_at_2_before`, `pass_at_2_after`, the reward per
step and the command. Midway it opens the real dashboard (`watch` of the live run) at 160x50 and saves an
SVG screenshot. Past --deadline-s the run is stopped with SIGTERM (it saves and exits 0), so the record
is written even when the time runs out.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path


def read_jsonl(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


async def screenshot(run_dir: Path, path: Path) -> None:
    from arc_console.monitor.follow import RunDirFollower
    from arc_console.monitor.hardware import HardwareSampler
    from arc_console.rundir.files import read_trainer_pid
    from arc_console.tui.app import ConsoleApp

    app = ConsoleApp(RunDirFollower(run_dir), mode="watch",
                     sampler_factory=lambda: HardwareSampler(watched_pid=lambda: read_trainer_pid(run_dir)))
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause(4.0)
        app.save_screenshot(path.name, str(path.parent))


def gpu_name() -> str:
    try:
        import torch

        return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none (CPU)"
    except Exception as error:  # noqa: BLE001 - the record still says what happened
        return f"unknown ({error})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--backend", default="unsloth")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--eval-every", type=int, default=10)
    parser.add_argument("--eval-limit", type=int, default=60)
    parser.add_argument("--learning-rate", default="1e-4")
    parser.add_argument("--problems-per-step", type=int, default=4)
    parser.add_argument("--max-new-tokens", type=int, default=140)
    parser.add_argument("--out-dir", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--run-dir", type=Path, default=Path("/tmp/gpu_learning_run"))
    parser.add_argument("--deadline-s", type=float, default=300.0)
    parser.add_argument("--screenshot-at-step", type=int, default=5)
    parser.add_argument("--tag", default="")
    args, extra = parser.parse_known_args()
    extra = [a for a in extra if a != "--"]
    command = [sys.executable, "-m", "arc_console", "train", "--headless", "--backend", args.backend,
               "--model", str(args.model), "--tasks", "synthetic", "--problems", "",
               "--max-steps", str(args.steps), "--problems-per-step", str(args.problems_per_step),
               "--learning-rate", args.learning_rate, "--max-new-tokens", str(args.max_new_tokens),
               "--overlong-buffer", "16", "--eval-every", str(args.eval_every), "--eval-tasks", "synthetic-heldout",
               "--eval-limit", str(args.eval_limit), "--eval-augment", "none", "--checkpoint-every", "1000",
               "--early-stop-perfect", "0", "--out", str(args.run_dir), *extra]
    args.out_dir.mkdir(parents=True, exist_ok=True)
    log_path = args.out_dir / "gpu_learning_train.log"
    started = time.monotonic()
    shot = None
    with log_path.open("w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        stopped_early = False
        while process.poll() is None:
            time.sleep(2)
            steps_done = len(read_jsonl(args.run_dir / "logs" / "metrics.jsonl"))
            if shot is None and steps_done >= args.screenshot_at_step:
                shot = args.out_dir / "gpu_learning_dashboard.svg"
                try:
                    asyncio.run(screenshot(args.run_dir, shot))
                except Exception as error:  # noqa: BLE001 - a failed screenshot must not lose the run
                    print(f"screenshot failed: {error!r}", flush=True)
            if time.monotonic() - started > args.deadline_s and not stopped_early:
                process.send_signal(signal.SIGTERM)
                stopped_early = True
        code = process.wait()
    metrics = read_jsonl(args.run_dir / "logs" / "metrics.jsonl")
    evals = read_jsonl(args.run_dir / "logs" / "eval.jsonl")
    made_path = args.model / "MADE.json"
    made = json.loads(made_path.read_text()) if made_path.exists() else {}
    record = {
        "gpu": gpu_name(),
        "model": {"path": str(args.model), "shape": made.get("shape"), "parameters": made.get("parameters"),
                  "warm_start": made.get("command"), "examples_seen": made.get("examples_seen")},
        "backend": args.backend,
        "steps": len(metrics),
        "pass_at_2_before": evals[0]["pass_at_2"] if evals else None,
        "pass_at_2_after": evals[-1]["pass_at_2"] if evals else None,
        "held_out": [{k: e.get(k) for k in ("step", "pass_at_2", "pass_at_1", "oracle", "tasks")} for e in evals],
        "reward_per_step": [m.get("reward_mean") for m in metrics],
        "mean_accuracy_per_step": [m.get("mean_accuracy") for m in metrics],
        "groups_kept_per_step": [m.get("groups_kept") for m in metrics],
        "step_time_s": [m.get("step_time_s") for m in metrics],
        "exit_code": code,
        "stopped_at_deadline": stopped_early,
        "seconds": round(time.monotonic() - started, 1),
        "screenshot": shot.name if shot and shot.exists() else None,
        "command": " ".join(command[1:]),
        "date": date.today().isoformat(),
    }
    name = f"gpu_learning_{record['date']}{'_' + args.tag if args.tag else ''}.json"
    (args.out_dir / name).write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps({k: record[k] for k in ("gpu", "steps", "pass_at_2_before", "pass_at_2_after", "exit_code")}))
    return 0 if code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
