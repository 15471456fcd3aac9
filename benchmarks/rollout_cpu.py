"""Rollout routes on the built-in tiny model, CPU, side by side in one run.

    python benchmarks/rollout_cpu.py [--candidates 8] [--max-new-tokens 64] [--repeats 5]

Routes: the static engine (the default: one prefill of the shared prompt, a preallocated cache,
device-side sampling), transformers' batched generate, and generate one candidate at a time (as
the seed did); then the static engine with P problems x K candidates per rollout, P = 1, 2, 4.
The repeats interleave the routes so that drifting machine load hits them alike.

Writes benchmarks/results/rollout_cpu_DATE.json and prints the table.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from datetime import date
from pathlib import Path

import torch

from arc_console.arc import build_prompt, load_tasks, select_tasks
from arc_console.engine.backends import load_policy
from arc_console.decoding.rollout_engine import RolloutEngine, choose_rollout_engine

PROBLEMS = ["af902bf9", "6150a2bd", "3c9b0459", "25ff71a9"]


def rate(engine: RolloutEngine, prompts: list[str], temps: list[float], new_tokens: int) -> float:
    start = time.perf_counter()
    rollout = engine.generate(prompts, temps, new_tokens)
    return rollout.tokens_generated / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--candidates", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--problem", default="af902bf9")
    args = parser.parse_args()

    policy = load_policy("tiny", "hf", lora_r=0, lora_alpha=32, max_seq_length=2048)
    tasks = select_tasks(load_tasks("arc1-training"), [args.problem] + [p for p in PROBLEMS if p != args.problem])
    prompts = [build_prompt(task.train, task.test_input) for task in tasks]
    temps = [round(0.6 + 0.1 * i, 2) for i in range(args.candidates)]
    engines = {kind: choose_rollout_engine(policy, kind) for kind in ("static", "generate")}
    # One static engine per P, as the trainer sizes its engine for P problems: an engine keeps the largest
    # decode batch it has run and pads smaller rollouts into it, so one engine for every P would time P=1
    # at the rows of P=4.
    per_problem_engines = {count: choose_rollout_engine(policy, "static", rows=count * len(temps))
                           for count in (1, 2, 4)}
    for engine in [*engines.values(), *per_problem_engines.values()]:
        rate(engine, prompts[:1], temps, 4)  # warm-up

    static, batched, sequential = [], [], []
    per_problems: dict[int, list[float]] = {1: [], 2: [], 4: []}
    for repeat in range(args.repeats):
        torch.manual_seed(repeat)
        static.append(rate(engines["static"], prompts[:1], temps, args.max_new_tokens))
        batched.append(rate(engines["generate"], prompts[:1], temps, args.max_new_tokens))
        start = time.perf_counter()
        tokens = sum(engines["generate"].generate(prompts[:1], [t], args.max_new_tokens).tokens_generated for t in temps)
        sequential.append(tokens / (time.perf_counter() - start))
        for count in per_problems:
            per_problems[count].append(rate(per_problem_engines[count], prompts[:count], temps, args.max_new_tokens))

    def median_ratio(a: list[float], b: list[float]) -> float:
        return statistics.median(x / y for x, y in zip(a, b))

    result = {
        "date": date.today().isoformat(),
        "command": "python " + " ".join(sys.argv),
        "machine": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads",
        "versions": {"torch": torch.__version__, "python": platform.python_version()},
        "model": "built-in tiny GPT-OSS",
        "problem": args.problem,
        "prompt_tokens": len(policy.tokenizer(prompts[0], add_special_tokens=False)["input_ids"]),
        "candidates": args.candidates,
        "max_new_tokens": args.max_new_tokens,
        "repeats": args.repeats,
        "static_tok_s_median": statistics.median(static),
        "batched_tok_s_median": statistics.median(batched),
        "sequential_tok_s_median": statistics.median(sequential),
        "static_over_batched_generate": median_ratio(static, batched),
        "static_over_sequential": median_ratio(static, sequential),
        "speedup": median_ratio(batched, sequential),  # batched generate over one by one
        "problems_per_step_tok_s_median": {count: statistics.median(v) for count, v in per_problems.items()},
    }
    out = Path(__file__).parent / "results" / f"rollout_cpu_{result['date']}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
