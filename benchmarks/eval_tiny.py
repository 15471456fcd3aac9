"""Part 1: the built-in model on all 120 synthetic held-out tasks, the ARC Prize way.

    python benchmarks/eval_tiny.py [--seeds 0 1 2] [--limit N] [--samples 2]

For each seed and each augmentation (none, dihedral, dihedral+colors) every task is answered once
(arc_console.evaluation.solver.answer_task, --samples candidates per view); the same pooled
candidates are ranked both by votes and by the product of experts, so the two rankings differ only
in their ranking. Records pass@2, pass@1 and the oracle (any candidate right) per ranking, and
their spread over seeds. Writes benchmarks/results/eval_tiny_DATE.json and .png (needs matplotlib:
pip install 'arc-console[bench]'). Parts 2-4 of issue 16 are not here yet (see the README).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from datetime import date, datetime
from pathlib import Path

import torch

from arc_console.arc import load_tasks
from arc_console.evaluation.model import load_eval_model
from arc_console.evaluation.ranking import rank, two_attempts
from arc_console.evaluation.settings import EvalSettings
from arc_console.evaluation.solver import answer_task

AUGMENTATIONS = ("none", "dihedral", "dihedral+colors")
RANKINGS = ("votes", "logprob")


def run_one(policy, tasks, augment: str, seed: int, samples: int) -> dict:
    settings = EvalSettings(augment=augment, samples=samples, rank="logprob", seed=seed)
    scores = {r: {"pass_at_2": [], "pass_at_1": []} for r in RANKINGS}
    oracle, tokens, started = [], 0, time.perf_counter()
    for task in tasks:
        answer = answer_task(task, policy, settings)
        tokens += answer.tokens
        oracle.append(answer.oracle_score())
        for method in RANKINGS:
            attempts = [two_attempts(rank(test.candidates, method)) for test in answer.tests]
            targets = [test.target for test in answer.tests]
            for tries, key in ((2, "pass_at_2"), (1, "pass_at_1")):
                right = sum(any(a == t for a in given[:tries]) for given, t in zip(attempts, targets))
                scores[method][key].append(right / len(targets))
    seconds = time.perf_counter() - started
    return {"augment": augment, "seed": seed, "samples": samples, "tasks": len(tasks),
            **{f"{key}_{method}": statistics.mean(values) for method in RANKINGS for key, values in scores[method].items()},
            "oracle": statistics.mean(oracle), "tokens": tokens, "seconds": round(seconds, 1),
            "tasks_per_minute": round(60 * len(tasks) / seconds, 2)}


def spread(runs: list[dict]) -> dict:
    summary = {}
    for augment in AUGMENTATIONS:
        mine = [r for r in runs if r["augment"] == augment]
        if not mine:
            continue
        summary[augment] = {}
        for key in ("pass_at_2_votes", "pass_at_2_logprob", "pass_at_1_votes", "pass_at_1_logprob", "oracle"):
            values = [r[key] for r in mine]
            summary[augment][key] = {"mean": statistics.mean(values), "min": min(values), "max": max(values),
                                     "std": statistics.pstdev(values), "seeds": len(values)}
    return summary


def plot(summary: dict, path: Path, title: str) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    keys = [("pass_at_2_votes", "pass@2 votes"), ("pass_at_2_logprob", "pass@2 logprob"), ("oracle", "oracle")]
    figure, axis = plt.subplots(figsize=(8, 4.5))
    width = 0.26
    augments = list(summary)
    for offset, (key, label) in enumerate(keys):
        xs = [i + (offset - 1) * width for i in range(len(augments))]
        means = [summary[a][key]["mean"] for a in augments]
        errors = [[summary[a][key]["mean"] - summary[a][key]["min"] for a in augments],
                  [summary[a][key]["max"] - summary[a][key]["mean"] for a in augments]]
        axis.bar(xs, means, width, yerr=errors, capsize=3, label=label)
    axis.set_xticks(range(len(augments)), augments)
    axis.set_ylabel("share of the 120 tasks")
    axis.set_title(title, fontsize=9)
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--limit", type=int, default=0, help="the first N tasks only (0: all 120)")
    parser.add_argument("--samples", type=int, default=2)
    parser.add_argument("--augment", nargs="+", default=list(AUGMENTATIONS), choices=AUGMENTATIONS)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (the machine is shared)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    tasks = load_tasks("synthetic-heldout")
    tasks = tasks[: args.limit] if args.limit else tasks
    policy, described = load_eval_model("tiny")
    results = Path(__file__).parent / "results"
    stem = f"eval_tiny_{date.today().isoformat()}" + (f"_limit{args.limit}" if args.limit else "")
    out = results / f"{stem}.json"
    runs = []
    header = {"command": "python " + " ".join(["benchmarks/eval_tiny.py", *sys.argv[1:]]),
              "model": described, "machine": f"{platform.machine()} CPU, {torch.get_num_threads()} torch thread(s), "
              f"torch {torch.__version__}; shared with other jobs (timings measured under load)",
              "started": datetime.now().isoformat(timespec="seconds"), "temperature": EvalSettings().temperature}
    for seed in args.seeds:
        for augment in args.augment:
            run = run_one(policy, tasks, augment, seed, args.samples)
            runs.append(run)
            print(json.dumps(run), flush=True)
            summary = spread(runs)
            out.write_text(json.dumps({**header, "runs": runs, "summary": summary}, indent=2) + "\n")
    png = results / f"{stem}.png"
    title = f"built-in tiny model, {len(tasks)} synthetic held-out tasks, {args.samples} samples per view, " \
            f"seeds {args.seeds}"
    drawn = plot(spread(runs), png, title)
    out.write_text(json.dumps({**header, "runs": runs, "summary": spread(runs), "plot": png.name if drawn else None},
                              indent=2) + "\n")
    print(f"wrote {out}" + (f" and {png}" if drawn else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
