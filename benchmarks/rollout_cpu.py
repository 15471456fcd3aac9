"""Batched vs one-by-one rollouts on the built-in tiny model, CPU, in one run.

    python benchmarks/rollout_cpu.py [--candidates 8] [--max-new-tokens 64] [--repeats 5]

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
from arc_console.engine.rollout import generate_candidates


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--candidates", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--problem", default="af902bf9")
    args = parser.parse_args()

    policy = load_policy("tiny", "hf", lora_r=0, lora_alpha=32, max_seq_length=2048)
    (task,) = select_tasks(load_tasks("arc1-training"), [args.problem])
    prompt = build_prompt(task.train, task.test_input)
    temps = [round(0.6 + 0.1 * i, 2) for i in range(args.candidates)]
    generate_candidates(policy, [prompt], temps, 4)  # warm-up

    batched, sequential = [], []
    for repeat in range(args.repeats):
        torch.manual_seed(repeat)
        start = time.perf_counter()
        rollout = generate_candidates(policy, [prompt], temps, args.max_new_tokens)
        batched.append(rollout.tokens_generated / (time.perf_counter() - start))
        torch.manual_seed(repeat)
        start = time.perf_counter()
        tokens = sum(generate_candidates(policy, [prompt], [t], args.max_new_tokens).tokens_generated for t in temps)
        sequential.append(tokens / (time.perf_counter() - start))

    result = {
        "date": date.today().isoformat(),
        "command": "python " + " ".join(sys.argv),
        "machine": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads",
        "versions": {"torch": torch.__version__, "python": platform.python_version()},
        "model": "built-in tiny GPT-OSS",
        "problem": args.problem,
        "prompt_tokens": len(policy.tokenizer(prompt, add_special_tokens=False)["input_ids"]),
        "candidates": args.candidates,
        "max_new_tokens": args.max_new_tokens,
        "repeats": args.repeats,
        "batched_tok_s_median": statistics.median(batched),
        "sequential_tok_s_median": statistics.median(sequential),
        "speedup": statistics.median(b / s for b, s in zip(batched, sequential)),
    }
    out = Path(__file__).parent / "results" / f"rollout_cpu_{result['date']}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
