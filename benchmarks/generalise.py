"""Issues 16 and 32: does DAPO on the synthetic training families raise held-out pass@2?

    python benchmarks/generalise.py --jobs 16 [--steps 60] [--eval-every 20] [--eval-limit 40] [--seeds 0 1 2]
                                    [--variants pixel ...] [--set learning_rate=3e-5 ...] [--out FILE]
    CUDA_VISIBLE_DEVICES= python benchmarks/generalise.py --jobs 12 ...   # a GPU host's CPU cores, one run each
    python benchmarks/generalise.py --merge DIR          # only combine finished job files into the results
    python benchmarks/generalise.py --one VARIANT SEED --work DIR ...   # one run (another machine, say)

From the built-in model (--model), `arc-console train` (the real Trainer, in-process) runs DAPO for
--steps on --tasks synthetic with --problems '' (all 120 training-split tasks, every family in turn),
once per variant and seed:
  pixel            --reward pixel (the default), no augmentation
  pixel+augment    --reward pixel --augment dihedral+colors
  changed          --reward changed
  foreground       --reward foreground
--set KEY=VALUE applies a train setting to every run (a learning rate, --problems-per-step, ...).
Each run evaluates held-out tasks with --eval-every: a fixed subset of synthetic-heldout (--eval-limit
tasks spread evenly over its 12 families; trained problems left out, though the two splits never
share a task; --eval-augment views, 2 samples, ranked by votes) before the first step, every N steps
and at the end. Every job (one process, one torch thread) writes its own JSON (the eval.jsonl curve
and the training metrics); the merge writes --out (default benchmarks/results/generalise_DATE.json,
top-level pass_at_2_before/after of the first variant) and its .png (matplotlib).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from pathlib import Path

VARIANTS = {
    "pixel": {"reward": "pixel", "augment": "none"},
    "pixel+augment": {"reward": "pixel", "augment": "dihedral+colors"},
    "changed": {"reward": "changed", "augment": "none"},
    "foreground": {"reward": "foreground", "augment": "none"},
}
RESULTS = Path(__file__).parent / "results"


def parse_sets(pairs: list[str]) -> dict:
    """KEY=VALUE train settings; values as JSON where they parse (numbers, booleans), else strings."""
    settings = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        try:
            settings[key.strip().replace("-", "_")] = json.loads(value)
        except ValueError:
            settings[key.strip().replace("-", "_")] = value
    return settings


def run_job(variant: str, seed: int, steps: int, eval_every: int, eval_limit: int, out: Path,
            extra: dict | None = None) -> dict:
    """One training run in this process; returns (and writes to `out`) its curve and metrics."""
    import torch

    from arc_console.cli.session import training_hooks
    from arc_console.config import build_config
    from arc_console.engine.trainer import Trainer

    torch.set_num_threads(1)
    overrides = {**VARIANTS[variant], "tasks": "synthetic", "problems": [], "max_steps": steps, "seed": seed,
                 "eval_every": eval_every, "eval_tasks": "synthetic-heldout", "eval_limit": eval_limit,
                 "eval_augment": "none", "eval_samples": 2, "eval_rank": "votes", "checkpoint_every": 10**6,
                 "early_stop_perfect": 0, "cpu_threads": 1, **(extra or {})}
    config = build_config("tiny", None, overrides)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        run_dir = Path(folder) / "run"
        trainer = Trainer(config, run_dir, emit=lambda event: None, hooks=training_hooks(config))
        trainer.setup()
        stopped = trainer.run()
        curve = [json.loads(line) for line in (run_dir / "logs" / "eval.jsonl").read_text().splitlines()]
        metrics = [json.loads(line) for line in (run_dir / "logs" / "metrics.jsonl").read_text().splitlines()]
    result = {"variant": variant, "seed": seed, "settings": overrides, "stopped": stopped.reason,
              "seconds": round(time.perf_counter() - started, 1),
              "curve": [{k: row[k] for k in ("step", "pass_at_2", "pass_at_1", "oracle", "tasks", "seconds")}
                        for row in curve],
              "train_mean_accuracy": [m["mean_accuracy"] for m in metrics],
              "train_best_accuracy": [m["best_accuracy"] for m in metrics]}
    out.write_text(json.dumps(result) + "\n")
    return result


def summarise(jobs: list[dict]) -> dict:
    summary = {}
    for variant in VARIANTS:
        mine = [j for j in jobs if j["variant"] == variant and j["curve"]]
        if not mine:
            continue
        before = [j["curve"][0]["pass_at_2"] for j in mine]
        after = [j["curve"][-1]["pass_at_2"] for j in mine]
        oracle_after = [j["curve"][-1]["oracle"] for j in mine]
        first_half = [statistics.mean(j["train_mean_accuracy"][:10]) for j in mine]
        last_half = [statistics.mean(j["train_mean_accuracy"][-10:]) for j in mine]
        summary[variant] = {
            "seeds": [j["seed"] for j in mine],
            "held_out_pass_at_2_before": statistics.mean(before),
            "held_out_pass_at_2_after": statistics.mean(after),
            "held_out_pass_at_2_before_per_seed": before,
            "held_out_pass_at_2_after_per_seed": after,
            "held_out_pass_at_2_after_stdev": statistics.pstdev(after),
            "held_out_pass_at_2_change_per_seed": [round(a - b, 4) for a, b in zip(after, before)],
            # every seed's after above every seed's before: a rise beyond the spread of seeds
            "rises_beyond_seed_spread": min(after) > max(before),
            "held_out_oracle_after": statistics.mean(oracle_after),
            "train_mean_accuracy_first_10_steps": statistics.mean(first_half),
            "train_mean_accuracy_last_10_steps": statistics.mean(last_half),
        }
    return summary


def plot(jobs: list[dict], path: Path, title: str) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    figure, axis = plt.subplots(figsize=(8, 4.5))
    colours = dict(zip(VARIANTS, ("tab:blue", "tab:orange", "tab:green", "tab:red")))
    for variant in VARIANTS:
        mine = [j for j in jobs if j["variant"] == variant and j["curve"]]
        for index, job in enumerate(mine):
            steps = [row["step"] for row in job["curve"]]
            axis.plot(steps, [row["pass_at_2"] for row in job["curve"]], color=colours[variant], alpha=0.8,
                      marker="o", label=variant if index == 0 else None)
    axis.set_xlabel("training step")
    axis.set_ylabel("held-out pass@2")
    axis.set_title(title, fontsize=9)
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    return True


def merge(folder: Path, header: dict, out: Path | None = None) -> Path:
    jobs = [json.loads(p.read_text()) for p in sorted(folder.glob("job_*.json"))]
    out = out or RESULTS / f"generalise_{date.today().isoformat()}.json"
    png = out.with_suffix(".png")
    out.parent.mkdir(parents=True, exist_ok=True)
    settings = jobs[0]["settings"] if jobs else {}
    title = (f"{settings.get('model', 'tiny')}, DAPO on the 120 synthetic training tasks, {settings.get('max_steps')} "
             f"steps; held-out pass@2 on {jobs[0]['curve'][0]['tasks'] if jobs else '?'} synthetic-heldout tasks")
    drawn = plot(jobs, png, title)
    summary = summarise(jobs)
    first = summary[next(iter(summary))] if summary else {}
    out.write_text(json.dumps({**header, "variant_of_the_top_keys": next(iter(summary), None),
                               "pass_at_2_before": first.get("held_out_pass_at_2_before"),
                               "pass_at_2_after": first.get("held_out_pass_at_2_after"),
                               "summary": summary, "jobs": jobs, "plot": png.name if drawn else None}, indent=2) + "\n")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--eval-every", type=int, default=20)
    parser.add_argument("--eval-limit", type=int, default=40)
    parser.add_argument("--eval-augment", default="dihedral", help="held-out views: none | dihedral | dihedral+colors")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="train settings for every run")
    parser.add_argument("--model", default="tiny", help="the model every run starts from (default the built-in)")
    parser.add_argument("--jobs", type=int, default=1, help="runs at a time (one CPU thread each)")
    parser.add_argument("--work", type=Path, default=None, help="folder of job files (default: a new temp folder)")
    parser.add_argument("--merge", type=Path, default=None, help="only merge the job files in this folder")
    parser.add_argument("--out", type=Path, default=None, help="the results JSON (default results/generalise_DATE)")
    parser.add_argument("--one", nargs=2, metavar=("VARIANT", "SEED"), help="run one job into --work")
    parser.add_argument("--machine", default=None, help="what the runs ran on, for the results file")
    args = parser.parse_args()
    header = {"command": "python " + " ".join(["benchmarks/generalise.py", *sys.argv[1:]]),
              "machine": args.machine or f"{platform.machine()} CPU, one torch thread per run",
              "merged": datetime.now().isoformat(timespec="seconds")}
    extra = {"model": args.model, "eval_augment": args.eval_augment, **parse_sets(args.set)}
    if args.one:
        variant, seed = args.one[0], int(args.one[1])
        args.work.mkdir(parents=True, exist_ok=True)
        run_job(variant, seed, args.steps, args.eval_every, args.eval_limit,
                args.work / f"job_{variant}_{seed}.json", extra)
        return 0
    if args.merge:
        print(f"wrote {merge(args.merge, header, args.out)}")
        return 0
    work = args.work or Path(tempfile.mkdtemp(prefix="generalise-"))
    work.mkdir(parents=True, exist_ok=True)
    passed = ["--steps", str(args.steps), "--eval-every", str(args.eval_every), "--eval-limit", str(args.eval_limit),
              "--eval-augment", args.eval_augment, "--model", args.model, "--work", str(work), "--set", *args.set]
    commands = [[sys.executable, __file__, "--one", variant, str(seed), *passed]
                for seed in args.seeds for variant in args.variants]
    with ThreadPoolExecutor(args.jobs) as pool:
        codes = list(pool.map(lambda command: subprocess.run(command).returncode, commands))
    print(f"{codes.count(0)}/{len(codes)} runs finished; job files in {work}")
    print(f"wrote {merge(work, header, args.out)}")
    return 0 if all(code == 0 for code in codes) else 1


if __name__ == "__main__":
    sys.exit(main())
