"""Does it learn? DAPO vs GRPO vs the seed's preference rule from the built-in warm-started model.

    python benchmarks/learning.py [--steps 60] [--seeds 0 1 2] [--eval-candidates 8]

Each objective trains for --steps steps on the held-out synthetic tasks (`--tasks synthetic-heldout`:
tasks the warm start never saw), once per seed. Before and after, every task is answered with
8 sampled candidates (fixed seed, the training temperatures) and scored: mean pixel accuracy and
the share of perfect candidates. Writes benchmarks/results/learning_DATE_stepsN.json and .png
(needs matplotlib for the plot).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import torch

from arc_console.arc import parse_response, score_grid
from arc_console.config import build_config
from arc_console.engine.trainer import Trainer


def evaluate(trainer: Trainer, seed: int, candidates: int) -> dict[str, float]:
    torch.manual_seed(10_000 + seed)
    temps = trainer.config.temperatures()[:candidates]
    accuracies, perfect = [], []
    for problem in trainer.problems:
        rollout = trainer.engine.generate([problem.prompt], temps, trainer.config.max_new_tokens)
        for sample in rollout.samples:
            score = score_grid(parse_response(sample.text), problem.task.test_output)
            accuracies.append(score.accuracy)
            perfect.append(score.perfect_match)
    return {"mean_accuracy": statistics.mean(accuracies), "perfect_rate": statistics.mean(perfect)}


def run_one(objective: str, seed: int, steps: int, candidates: int, lr: float | None = None) -> dict:
    config = build_config("tiny", None, {"objective": objective, "seed": seed, "max_steps": steps,
                                         "learning_rate": lr,
                                         "tasks": "synthetic-heldout", "problems": [], "early_stop_perfect": 0,
                                         "checkpoint_every": 10_000, "max_new_tokens": 32, "overlong_buffer": 8})
    trainer = Trainer(config, Path(tempfile.mkdtemp(prefix="learning-")) / "run", lambda event: None)
    trainer.setup()
    before = evaluate(trainer, seed, candidates)
    started = time.perf_counter()
    trainer.run()
    seconds = time.perf_counter() - started
    after = evaluate(trainer, seed, candidates)
    curve = [m["mean_accuracy"] for m in trainer.history]
    print(f"{objective} seed {seed}: accuracy {before['mean_accuracy']:.3f} -> {after['mean_accuracy']:.3f}, "
          f"perfect {before['perfect_rate']:.3f} -> {after['perfect_rate']:.3f} ({seconds:.0f}s)", flush=True)
    return {"objective": objective, "seed": seed, "before": before, "after": after, "train_seconds": seconds,
            "curve_mean_accuracy": curve, "skipped_updates": sum(m["loss"] is None for m in trainer.history)}


def summarise(runs: list[dict]) -> dict:
    out = {}
    for objective in sorted({r["objective"] for r in runs}):
        mine = [r for r in runs if r["objective"] == objective]
        row = {}
        for when in ("before", "after"):
            for measure in ("mean_accuracy", "perfect_rate"):
                values = [r[when][measure] for r in mine]
                row[f"{measure}_{when}"] = statistics.mean(values)
                row[f"{measure}_{when}_std"] = statistics.pstdev(values)
        row["accuracy_gain"] = row["mean_accuracy_after"] - row["mean_accuracy_before"]
        out[objective] = row
    return out


def plot(runs: list[dict], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    figure, axis = plt.subplots(figsize=(8, 4.5))
    for objective in sorted({r["objective"] for r in runs}):
        curves = [r["curve_mean_accuracy"] for r in runs if r["objective"] == objective]
        width = 10
        smoothed = [[statistics.mean(c[max(0, i - width + 1): i + 1]) for i in range(len(c))] for c in curves]
        mean = [statistics.mean(col) for col in zip(*smoothed)]
        low = [min(col) for col in zip(*smoothed)]
        high = [max(col) for col in zip(*smoothed)]
        steps = list(range(1, len(mean) + 1))
        axis.plot(steps, mean, label=f"{objective} (mean of {len(curves)} seeds)")
        axis.fill_between(steps, low, high, alpha=0.2)
    axis.set_xlabel("step")
    axis.set_ylabel("mean pixel accuracy of the 8 candidates (10-step average)")
    axis.set_title("Held-out synthetic ARC tasks, from the warm-started tiny GPT-OSS")
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    return True


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--objectives", nargs="+", default=["dapo", "grpo", "preference"])
    parser.add_argument("--eval-candidates", type=int, default=8)
    parser.add_argument("--learning-rate", type=float, default=None, help="default: the tiny preset's")
    args = parser.parse_args()
    runs = [run_one(o, s, args.steps, args.eval_candidates, args.learning_rate) for o in args.objectives
            for s in args.seeds]
    today = date.today().isoformat()
    results = Path(__file__).parent / "results"
    stem = f"learning_{today}_steps{args.steps}"
    png = results / f"{stem}.png"
    result = {"date": today, "command": "python benchmarks/learning.py " + " ".join(sys.argv[1:]),
              "steps": args.steps, "seeds": args.seeds, "summary": summarise(runs), "runs": runs,
              "plot": png.name if plot(runs, png) else None}
    (results / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["summary"], indent=2))


if __name__ == "__main__":
    main()
