"""Issue 32: the models benchmarks/generalise.py trained, on every synthetic held-out task, against the model they
started from: finer than the runs' own --eval-every (a subset of 36 tasks, one sampling seed per run).

    python benchmarks/heldout_after_training.py WORK_DIR ... --work DIR --out FILE [--eval-seeds 0 1 2] [--limit N]

For the built-in model and the final model of every run in the generalise work folders (job_VARIANT_SEED/),
`arc-console eval` (the real command, one process each) answers all 120 tasks of synthetic-heldout (--limit: the
first N) with no
views and 2 samples ranked by votes, once per --eval-seeds (the sampling seed; the same seeds for every
model, so the differences are paired). Each eval's folder under --work is kept and reused when the script
runs again. Writes --out (JSON): per model and eval seed pass@2, pass@1 and per-family solved tasks, and per
variant the change from the start model per training seed (mean over eval seeds).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from datetime import datetime
from pathlib import Path

EVAL_FLAGS = ["--tasks", "synthetic-heldout", "--augment", "none", "--samples", "2", "--rank", "votes", "--headless"]


def family(task_id: str) -> str:
    parts = task_id.split("-")
    return parts[2] if len(parts) >= 4 else task_id


def evaluate(model: str, seed: int, limit: int, out: Path, timeout: float) -> dict:
    """eval.json of `arc-console eval` of `model` at sampling seed `seed` (run once, then read back)."""
    if not (out / "eval.json").exists():
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        command = [sys.executable, "-m", "arc_console", "eval", "--model", model, *EVAL_FLAGS,
                   "--seed", str(seed), "--limit", str(limit), "--out", str(out)]
        subprocess.run(command, check=True, env=env, timeout=timeout, stdout=subprocess.DEVNULL)
    return json.loads((out / "eval.json").read_text())


def made(model: str) -> str | None:
    """The built-in model's MADE.json date (the built-in model is replaced now and then), else None."""
    from arc_console.engine.model_path import builtin_tiny_path

    path = builtin_tiny_path() / "MADE.json"
    return json.loads(path.read_text()).get("date") if model == "tiny" and path.exists() else None


def row(report: dict) -> dict:
    families: dict[str, float] = {}
    for task in report["tasks"]:
        families[family(task["task_id"])] = families.get(family(task["task_id"]), 0.0) + task["pass_at_2"]
    return {"pass_at_2": report["totals"]["pass_at_2"], "pass_at_1": report["totals"]["pass_at_1"],
            "tasks": report["totals"]["tasks_scored"], "solved_per_family": dict(sorted(families.items()))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="generalise.py work folders (job_VARIANT_SEED/ inside)")
    parser.add_argument("--eval-seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--model", default="tiny", help="the model the runs started from")
    parser.add_argument("--work", type=Path, required=True, help="where each eval's folder goes (reused)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--limit", type=int, default=0, help="the first N held-out tasks only (0: all)")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per eval")
    args = parser.parse_args()
    runs = {job.name: job for folder in args.runs for job in sorted(folder.glob("job_*")) if job.is_dir()}
    if not runs:
        print(f"error: no job_* run folders in {', '.join(map(str, args.runs))}", file=sys.stderr)
        return 2
    models = {"start": args.model, **{name.removeprefix("job_"): str(path) for name, path in runs.items()}}
    results = {name: {seed: row(evaluate(model, seed, args.limit, args.work / f"{name}_e{seed}", args.timeout))
                      for seed in args.eval_seeds} for name, model in models.items()}
    start = {seed: results["start"][seed]["pass_at_2"] for seed in args.eval_seeds}
    variants: dict[str, dict] = {}
    for name in models:
        if name == "start":
            continue
        variant, _, seed = name.rpartition("_")
        change = statistics.mean(results[name][e]["pass_at_2"] - start[e] for e in args.eval_seeds)
        entry = variants.setdefault(variant, {"training_seeds": [], "pass_at_2_change_per_training_seed": []})
        entry["training_seeds"].append(int(seed))
        entry["pass_at_2_change_per_training_seed"].append(round(change, 4))
    for entry in variants.values():
        entry["pass_at_2_change_mean"] = round(statistics.mean(entry["pass_at_2_change_per_training_seed"]), 4)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "command": "python " + " ".join(["benchmarks/heldout_after_training.py", *sys.argv[1:]]),
        "merged": datetime.now().isoformat(timespec="seconds"), "eval_flags": EVAL_FLAGS,
        "start_model": args.model, "start_model_made": made(args.model),
        "start_pass_at_2_per_eval_seed": start, "variants": variants,
        "models": {name: {"model": model, "per_eval_seed": results[name]} for name, model in models.items()},
    }, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
