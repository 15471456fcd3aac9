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
import statistics
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--warmup", type=int, default=3, help="steps of each variant not timed")
    parser.add_argument("--variants", nargs="+", default=DEFAULT_VARIANTS, choices=list(VARIANTS))
    parser.add_argument("--tag", default="", help="results file tiny_step_DATE_TAG.json")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--note", default="", help="what the machine was doing (e.g. 'quiet', 'measured under load')")
    parser.add_argument("--out-dir", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    trainers, threads = {}, {}
    for name in args.variants:
        trainers[name] = build(VARIANTS[name][0], args.seed)
        threads[name] = torch.get_num_threads()  # what its setup chose (--cpu-threads)
    measured = ("step", "cpu_step", "rollout", "update", "update_and_files")
    times: dict[str, dict[str, list[float]]] = {name: {part: [] for part in measured} for name in args.variants}
    for step in range(1, args.warmup + args.steps + 1):
        for name, trainer in trainers.items():  # a step of each in turn: load falls on all alike
            with _threads(threads[name]), VARIANTS[name][1]():
                started, cpu_started = time.perf_counter(), time.process_time()
                trainer._run_step(step)
                seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
            print(f"step {step} {name}: {seconds:.3f} s{'' if step > args.warmup else ' (warm-up)'}", flush=True)
            if step > args.warmup:
                rollout = trainer.history[-1]["generate_s"]
                times[name]["step"].append(seconds)
                times[name]["cpu_step"].append(cpu_seconds)
                times[name]["rollout"].append(rollout)
                metrics = trainer.history[-1]
                times[name]["update"].append(metrics.get("time_update_s", 0.0) + metrics.get("time_old_logprobs_s", 0.0))
                times[name]["update_and_files"].append(seconds - rollout)
    medians = {name: {part: statistics.median(values) for part, values in parts.items()} for name, parts in times.items()}
    base = medians.get("shipped")
    for name, parts in medians.items():
        ratio = f"  {parts['step'] / base['step']:.2f}x shipped" if base and name != "shipped" else ""
        print(f"{name:<17} {parts['step']:.3f} s/step, {parts['cpu_step']:.3f} s of CPU (rollout "
              f"{parts['rollout']:.3f}, update {parts['update']:.3f}, update and files {parts['update_and_files']:.3f})"
              f"{ratio}", flush=True)
    result = {"date": date.today().isoformat(), "command": "python benchmarks/tiny_step.py " + " ".join(sys.argv[1:]),
              "hardware": f"{platform.machine()} CPU, {CORES} cores, torch {torch.__version__}",
              "note": args.note, "threads": threads, "steps": args.steps, "warmup": args.warmup, "median_seconds": medians,
              "seconds": times}
    args.out_dir.mkdir(parents=True, exist_ok=True)
    path = args.out_dir / f"tiny_step_{result['date']}{'_' + args.tag if args.tag else ''}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
