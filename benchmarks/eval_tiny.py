"""Part 1: the built-in model on all 120 synthetic held-out tasks, the ARC Prize way.

    python benchmarks/eval_tiny.py [--seeds 0 1 2] [--limit N] [--samples 2]
    python benchmarks/eval_tiny.py --seeds 1 --augment dihedral --chunk 2/4 --job-out DIR   # a quarter of the tasks
    python benchmarks/eval_tiny.py --merge DIR [EARLIER_RESULTS.json ...]                    # combine job files

For each seed and each augmentation (none, dihedral, dihedral+colors) every task is answered once
(arc_console.evaluation.solver.answer_task, --samples candidates per view); the same pooled
candidates are ranked both by votes and by the product of experts, so the two rankings differ only
in their ranking. Records pass@2, pass@1 and the oracle (any candidate right) per ranking, and
their spread over seeds. Writes benchmarks/results/eval_tiny_DATE.json and .png (needs matplotlib:
pip install 'arc-console[bench]'). With --chunk I/N a job answers the I-th of N contiguous slices of
the tasks and writes its per-task scores to --job-out; --merge adds the slices of each (augmentation,
seed) up (and takes complete runs from earlier results files as they are). Parts 2 and 3 are
benchmarks/generalise.py; part 4 (the H200's eval throughput) is not measured yet.
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


def run_one(engine, tasks, augment: str, seed: int, samples: int) -> dict:
    settings = EvalSettings(augment=augment, samples=samples, rank="logprob", seed=seed)
    scores = {r: {"pass_at_2": [], "pass_at_1": []} for r in RANKINGS}
    oracle, tokens, started = [], 0, time.perf_counter()
    per_task = {}
    for task in tasks:
        answer = answer_task(task, engine, settings)
        tokens += answer.tokens
        oracle.append(answer.oracle_score())
        for method in RANKINGS:
            attempts = [two_attempts(rank(test.candidates, method)) for test in answer.tests]
            targets = [test.target for test in answer.tests]
            for tries, key in ((2, "pass_at_2"), (1, "pass_at_1")):
                right = sum(any(a == t for a in given[:tries]) for given, t in zip(attempts, targets))
                scores[method][key].append(right / len(targets))
        per_task[task.id] = {"oracle": oracle[-1], **{f"{key}_{method}": scores[method][key][-1]
                                                       for method in RANKINGS for key in ("pass_at_2", "pass_at_1")}}
    seconds = time.perf_counter() - started
    return {"augment": augment, "seed": seed, "samples": samples, "tasks": len(tasks),
            **{f"{key}_{method}": statistics.mean(values) for method in RANKINGS for key, values in scores[method].items()},
            "oracle": statistics.mean(oracle), "tokens": tokens, "seconds": round(seconds, 1),
            "tasks_per_minute": round(60 * len(tasks) / seconds, 2), "per_task": per_task}


SCORE_KEYS = ("pass_at_2_votes", "pass_at_1_votes", "pass_at_2_logprob", "pass_at_1_logprob", "oracle")


def merge_runs(chunks: list[dict], complete: list[dict]) -> list[dict]:
    """One run per (augmentation, seed): the chunks' scores weighted by their task counts (a task's score
    is in one chunk only, so this is the mean over all their tasks); complete runs kept as they are."""
    runs = [dict(run) for run in complete]
    done = {(run["augment"], run["seed"]) for run in runs}
    for key in sorted({(c["augment"], c["seed"]) for c in chunks} - done):
        mine = [c for c in chunks if (c["augment"], c["seed"]) == key]
        tasks = sum(c["tasks"] for c in mine)
        seconds = sum(c["seconds"] for c in mine)
        runs.append({"augment": key[0], "seed": key[1], "samples": mine[0]["samples"], "tasks": tasks,
                     **{k: sum(c[k] * c["tasks"] for c in mine) / tasks for k in SCORE_KEYS},
                     "tokens": sum(c["tokens"] for c in mine), "seconds": round(seconds, 1),
                     "tasks_per_minute": round(60 * tasks / seconds, 2), "chunks": len(mine)})
    return sorted(runs, key=lambda run: (AUGMENTATIONS.index(run["augment"]), run["seed"]))


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
    parser.add_argument("--chunk", default=None, metavar="I/N", help="answer only the I-th (1-based) of N slices")
    parser.add_argument("--job-out", type=Path, default=None, help="with --chunk: the folder for the job's file")
    parser.add_argument("--merge", nargs="+", type=Path, default=None, metavar="PATH",
                        help="a folder of job files, then any earlier results files to take complete runs from")
    parser.add_argument("--machine", default=None, help="what the runs ran on, for the results file")
    parser.add_argument("--note", default=None, help="a sentence for the results file")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.merge:
        return merge_main(args)
    tasks = load_tasks("synthetic-heldout")
    tasks = tasks[: args.limit] if args.limit else tasks
    if args.chunk:
        index, count = (int(part) for part in args.chunk.split("/"))
        tasks = tasks[(index - 1) * len(tasks) // count: index * len(tasks) // count]
        engine, _ = load_eval_model("tiny")
        for seed in args.seeds:
            for augment in args.augment:
                run = {**run_one(engine, tasks, augment, seed, args.samples), "chunk": args.chunk}
                name = f"chunk_{augment}_{seed}_{args.chunk.replace('/', 'of')}.json"
                (args.job_out / name).write_text(json.dumps(run) + "\n")
        return 0
    engine, described = load_eval_model("tiny")
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
            run = run_one(engine, tasks, augment, seed, args.samples)
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


def merge_main(args: argparse.Namespace) -> int:
    folder, earlier = args.merge[0], args.merge[1:]
    chunks = [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]
    complete = [dict(run, machine=json.loads(p.read_text()).get("machine")) for p in earlier
                for run in json.loads(p.read_text())["runs"] if run.get("tasks") == 120]
    runs = merge_runs(chunks, complete)
    for run in runs:
        run.setdefault("machine", args.machine)
    results = Path(__file__).parent / "results"
    stem = f"eval_tiny_{date.today().isoformat()}_merged"
    png = results / f"{stem}.png"
    seeds = sorted({run["seed"] for run in runs})
    drawn = plot(spread(runs), png, f"built-in tiny model, 120 synthetic held-out tasks, 2 samples a view,\n"
                                    f"seeds {', '.join(map(str, seeds))}: bars the mean, whiskers min to max")
    out = results / f"{stem}.json"
    header = {"command": "python " + " ".join(["benchmarks/eval_tiny.py", *sys.argv[1:]]),
              "model": "model tiny", "merged": datetime.now().isoformat(timespec="seconds"),
              "machine": args.machine, "note": args.note,
              "temperature": EvalSettings().temperature}
    out.write_text(json.dumps({**header, "runs": runs, "summary": spread(runs), "plot": png.name if drawn else None},
                              indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
