"""Seconds per step of the tiny preset (`make train`'s first run on a CPU), and what each part of a step costs.

    python benchmarks/tiny_step.py [--steps 25] [--warmup 3] [--variants shipped logits-recompute generate]

Each variant is the tiny preset (built-in 1.8M GPT-OSS, five demo tasks, 8 candidates x 48 tokens, DAPO)
with one thing changed. The variants run side by side in ONE process, a step of each in turn, so load
from other work on the machine falls on all of them alike: compare their ratios to `shipped`, and
trust the absolute seconds only from a quiet machine. Writes benchmarks/results/tiny_step_DATE.json.

    shipped            as `arc-console train --preset tiny` runs
    logits-recompute   the log-prob head recomputed in the backward pass (activation checkpointing),
                       as every model was before the head's checkpointing became size-dependent
    generate           transformers' generate for the rollouts instead of the static engine
    all-threads        torch on one thread per core (--cpu-threads 2 on 2 cores) instead of the one
                       thread the tiny model gets by default
    p4-micro1          4 problems per step, the update one group at a time (--update-micro-groups 1, the default)
    p4-all-groups      4 problems per step, the update over all groups at once (--update-micro-groups 0)

With --baseline-tree CHECKOUT (e.g. `git worktree add /tmp/base MERGE_BASE`) the comparison is across code:
each of --rounds rounds runs the variants in two fresh processes, one importing this checkout's arc_console
and one the baseline's (PYTHONPATH), in alternating order, and the results hold both and their ratios.

`update` in the results is the update phase alone (the trainer's time_update_s and time_old_logprobs_s).
`cpu_step` is the CPU time the process spent in the step (time.process_time): on a machine shared with
other work it moves far less than the wall time, as long as torch runs one thread (the tiny preset's
default; with more, threads that spin while they wait count too).
--tag names the results file tiny_step_DATE_TAG.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import torch

from arc_console.config import build_config
from arc_console.engine import logprobs
from arc_console.engine.trainer import Trainer

from checkout import tree_version  # benchmarks/, beside this script


@contextmanager
def _logits_recompute() -> Iterator[None]:
    saved = logprobs.CHECKPOINT_MIN_LOGITS
    logprobs.CHECKPOINT_MIN_LOGITS = 0
    try:
        yield
    finally:
        logprobs.CHECKPOINT_MIN_LOGITS = saved


@contextmanager
def _as_is() -> Iterator[None]:
    yield


CORES = torch.get_num_threads()  # before any trainer picks its own


@contextmanager
def _threads(count: int) -> Iterator[None]:
    """torch's thread count is per process: each variant's steps run with its own."""
    saved = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(saved)


# name -> (settings over the tiny preset, a context each of its steps runs in)
VARIANTS: dict[str, tuple[dict, Callable[[], object]]] = {
    "shipped": ({}, _as_is),
    "logits-recompute": ({}, _logits_recompute),
    "generate": ({"rollout_engine": "generate"}, _as_is),
    "all-threads": ({"cpu_threads": CORES}, _as_is),
    "p4-micro1": ({"problems_per_step": 4, "update_micro_groups": 1}, _as_is),
    "p4-all-groups": ({"problems_per_step": 4, "update_micro_groups": 0}, _as_is),
}
DEFAULT_VARIANTS = ["shipped", "logits-recompute", "generate", "all-threads"]


def build(settings: dict, seed: int) -> Trainer:
    config = build_config("tiny", None, {"seed": seed, "max_steps": 100_000, "checkpoint_every": 100_000, **settings})
    trainer = Trainer(config, Path(tempfile.mkdtemp(prefix="tiny-step-")) / "run", lambda event: None)
    trainer.setup()
    return trainer


MEASURED = ("step", "cpu_step", "rollout", "update", "update_and_files")


def measure(variants: list[str], steps: int, warmup: int, seed: int) -> tuple[dict, dict]:
    """Each variant's seconds per part for its `steps` timed steps (after `warmup`), a step of each in turn;
    and the torch threads each ran with."""
    trainers, threads = {}, {}
    for name in variants:
        trainers[name] = build(VARIANTS[name][0], seed)
        threads[name] = torch.get_num_threads()  # what its setup chose (--cpu-threads)
    times: dict[str, dict[str, list[float]]] = {name: {part: [] for part in MEASURED} for name in variants}
    for step in range(1, warmup + steps + 1):
        for name, trainer in trainers.items():  # a step of each in turn: load falls on all alike
            with _threads(threads[name]), VARIANTS[name][1]():
                started, cpu_started = time.perf_counter(), time.process_time()
                trainer._run_step(step)
                seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
            print(f"step {step} {name}: {seconds:.3f} s{'' if step > warmup else ' (warm-up)'}", file=sys.stderr,
                  flush=True)
            if step > warmup:
                metrics = trainer.history[-1]
                rollout = metrics["generate_s"]
                times[name]["step"].append(seconds)
                times[name]["cpu_step"].append(cpu_seconds)
                times[name]["rollout"].append(rollout)
                times[name]["update"].append(metrics.get("time_update_s", 0.0) + metrics.get("time_old_logprobs_s", 0.0))
                times[name]["update_and_files"].append(seconds - rollout)
    return times, threads


def medians_of(times: dict[str, dict[str, list[float]]]) -> dict[str, dict[str, float]]:
    return {name: {part: statistics.median(values) for part, values in parts.items()} for name, parts in times.items()}


def across_trees(args: argparse.Namespace) -> dict:
    """--rounds rounds of one process per tree (this one, then the baseline; the order alternates by round)."""
    here = Path(__file__).resolve().parent.parent
    trees = {"this": here, "baseline": args.baseline_tree.resolve()}
    times: dict[str, dict[str, dict[str, list[float]]]] = {
        tree: {name: {part: [] for part in MEASURED} for name in args.variants} for tree in trees}
    rounds = []
    for number in range(args.rounds):
        order = list(trees) if number % 2 == 0 else list(reversed(trees))
        for tree in order:
            command = [sys.executable, __file__, "--child", "--steps", str(args.steps), "--warmup", str(args.warmup),
                       "--seed", str(args.seed), "--variants", *args.variants]
            env = {**os.environ, "PYTHONPATH": str(trees[tree])}
            out = subprocess.run(command, capture_output=True, text=True, env=env, timeout=3600, check=True)
            measured = json.loads(out.stdout.strip().splitlines()[-1])
            for name, parts in measured["seconds"].items():
                for part, values in parts.items():
                    times[tree][name][part] += values
            rounds.append({"round": number + 1, "tree": tree, "arc_console": measured["arc_console"],
                           "median_seconds": medians_of(measured["seconds"])})
            print(f"round {number + 1} {tree}: " + ", ".join(
                f"{name} {parts['step']:.3f} s/step ({parts['cpu_step']:.3f} s CPU)"
                for name, parts in rounds[-1]["median_seconds"].items()), flush=True)
    medians = {tree: medians_of(by_name) for tree, by_name in times.items()}
    ratios = {name: {part: medians["this"][name][part] / medians["baseline"][name][part]
                     for part in MEASURED if medians["baseline"][name][part] > 0} for name in args.variants}
    for name, parts in ratios.items():
        print(f"{name}: this / baseline: " + ", ".join(f"{part} {ratio:.3f}x" for part, ratio in parts.items()),
              flush=True)
    return {"trees": {tree: tree_version(path) for tree, path in trees.items()}, "rounds": rounds,
            "median_seconds": medians, "ratio_this_to_baseline": ratios, "seconds": times}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--warmup", type=int, default=3, help="steps of each variant not timed")
    parser.add_argument("--variants", nargs="+", default=DEFAULT_VARIANTS, choices=list(VARIANTS))
    parser.add_argument("--tag", default="", help="results file tiny_step_DATE_TAG.json")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--note", default="", help="what the machine was doing (e.g. 'quiet', 'measured under load')")
    parser.add_argument("--out-dir", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument("--baseline-tree", type=Path,
                        help="another checkout whose code runs the same variants in its own processes, alternating")
    parser.add_argument("--rounds", type=int, default=4, help="with --baseline-tree: processes per tree")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    import arc_console

    if args.child:  # one process of --baseline-tree's rounds: its seconds as JSON on the last line
        times, threads = measure(args.variants, args.steps, args.warmup, args.seed)
        print(json.dumps({"seconds": times, "threads": threads, "arc_console": str(Path(arc_console.__file__).parent)}))
        return
    result = {"date": date.today().isoformat(), "command": "python benchmarks/tiny_step.py " + " ".join(sys.argv[1:]),
              "hardware": f"{platform.machine()} CPU, {CORES} cores, torch {torch.__version__}",
              "note": args.note, "steps": args.steps, "warmup": args.warmup}
    if args.baseline_tree:
        result.update(across_trees(args))
    else:
        times, threads = measure(args.variants, args.steps, args.warmup, args.seed)
        medians = medians_of(times)
        base = medians.get("shipped")
        for name, parts in medians.items():
            ratio = f"  {parts['step'] / base['step']:.2f}x shipped" if base and name != "shipped" else ""
            print(f"{name:<17} {parts['step']:.3f} s/step, {parts['cpu_step']:.3f} s of CPU (rollout "
                  f"{parts['rollout']:.3f}, update {parts['update']:.3f}, update and files "
                  f"{parts['update_and_files']:.3f}){ratio}", flush=True)
        result.update(threads=threads, median_seconds=medians, seconds=times)
    result["load_average_at_end"] = os.getloadavg()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    path = args.out_dir / f"tiny_step_{result['date']}{'_' + args.tag if args.tag else ''}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
