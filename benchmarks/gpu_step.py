"""One GPU step at the seed's settings on a GPT-OSS model, measured piece by piece.

    python benchmarks/gpu_step.py --model DIR [--backend unsloth] [--new-tokens 512] [--sequential-tokens 128]

DIR is a GPT-OSS checkpoint, e.g. from `arc-console make-model --shape gpt-oss-20b --out DIR`.
Measures: load time and memory; 8 candidates x N new tokens in ONE batched generate with
per-candidate temperatures; the same 8 one by one (as the seed did; fewer tokens each, the rate
is per token); forward+backward of the DAPO loss over the 8 sequences (first call and warm); the
peak memory of rollout + update. The prompt is ARC-AGI-1 af902bf9, cut to fit 2048 - N tokens as
the trainer does. Writes JSON and a markdown table to --out-dir (default benchmarks/results).
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import json
import statistics
import sys
import time
from datetime import date
from pathlib import Path

import torch

from arc_console.arc import build_prompt, load_tasks, select_tasks
from arc_console.engine.backends import load_policy
from arc_console.engine.logprobs import build_batch, completion_logprobs
from arc_console.engine.objectives import dapo_loss, group_advantages
from arc_console.engine.rollout import generate_candidates

GB = 1024**3


def synchronize() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def fitted_prompt(tokenizer, budget: int) -> tuple[str, int]:
    (task,) = select_tasks(load_tasks("arc1-training"), ["af902bf9"])
    for used in range(len(task.train), 0, -1):
        prompt = build_prompt(task.train[:used], task.test_input)
        length = len(tokenizer(prompt, add_special_tokens=False)["input_ids"])
        if length <= budget:
            return prompt, length
    raise SystemExit("af902bf9 does not fit the budget")


def versions() -> dict[str, str]:
    found = {}
    for name in ("torch", "transformers", "peft", "unsloth", "unsloth_zoo", "trl", "bitsandbytes", "arc-console"):
        try:
            found[name] = md.version(name)
        except md.PackageNotFoundError:
            pass
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--backend", default="unsloth")
    parser.add_argument("--new-tokens", type=int, default=512)
    parser.add_argument("--sequential-tokens", type=int, default=128)
    parser.add_argument("--max-seq-length", type=int, default=2048)
    parser.add_argument("--logprob-chunk", type=int, default=256, help="tokens per log-prob chunk (the trainer's default)")
    parser.add_argument("--out-dir", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    temps = [0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3]
    result: dict = {"gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
                    "date": date.today().isoformat(), "command": "python benchmarks/gpu_step.py " + " ".join(sys.argv[1:]),
                    "versions": versions(), "candidates": len(temps), "new_tokens": args.new_tokens,
                    "sequential_new_tokens": args.sequential_tokens}

    synchronize()
    started = time.perf_counter()
    policy = load_policy(args.model, args.backend, lora_r=16, lora_alpha=32, max_seq_length=args.max_seq_length)
    synchronize()
    result["load_s"] = time.perf_counter() - started
    result["mem_after_load_gb"] = torch.cuda.memory_allocated() / GB
    result["trainable_parameters"] = sum(p.numel() for p in policy.trainable_parameters().values())
    prompt, prompt_tokens = fitted_prompt(policy.tokenizer, args.max_seq_length - args.new_tokens)
    result["prompt_tokens"] = prompt_tokens

    generate_candidates(policy, [prompt], temps, 8)  # warm-up
    # The shared-prompt prefill must sample exactly what K separate prefills sample.
    torch.manual_seed(0)
    plain = generate_candidates(policy, [prompt], temps, 16, share_prefill=False)
    torch.manual_seed(0)
    shared = generate_candidates(policy, [prompt], temps, 16, share_prefill=True)
    result["shared_prefill_same_tokens"] = [s.completion_ids for s in plain.samples] == [s.completion_ids for s in shared.samples]
    torch.cuda.reset_peak_memory_stats()
    synchronize()
    started = time.perf_counter()
    unshared = generate_candidates(policy, [prompt], temps, args.new_tokens, share_prefill=False)
    synchronize()
    result["rollout_unshared_prefill_tok_s"] = unshared.tokens_generated / (time.perf_counter() - started)
    result["peak_rollout_unshared_prefill_gb"] = torch.cuda.max_memory_allocated() / GB
    torch.cuda.reset_peak_memory_stats()
    synchronize()
    started = time.perf_counter()
    rollout = generate_candidates(policy, [prompt], temps, args.new_tokens)
    synchronize()
    seconds = time.perf_counter() - started
    result["rollout_batched_tokens"] = rollout.tokens_generated
    result["rollout_batched_s"] = seconds
    result["rollout_batched_tok_s"] = rollout.tokens_generated / seconds
    result["peak_rollout_gb"] = torch.cuda.max_memory_allocated() / GB
    torch.cuda.reset_peak_memory_stats()

    # The update the trainer makes: DAPO over the 8 sequences, LoRA parameters, AdamW.
    optimizer = torch.optim.AdamW(policy.trainable_parameters().values(), lr=1e-5)
    samples = rollout.samples
    batch = build_batch([rollout.prompt_ids[0]] * len(samples), [s.completion_ids for s in samples], temps,
                        policy.tokenizer.pad_token_id, policy.device)
    advantages = group_advantages(torch.randn(1, len(samples), device=policy.device)).flatten()
    fwd_bwd = []
    for _ in range(3):
        policy.for_training()
        synchronize()
        started = time.perf_counter()
        logp, _ = completion_logprobs(policy, batch, args.logprob_chunk, with_grad=True)
        loss, _ = dapo_loss(logp, logp.detach(), advantages, batch.completion_mask)
        loss.backward()
        synchronize()
        fwd_bwd.append(time.perf_counter() - started)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    result["fwd_bwd_first_s"] = fwd_bwd[0]
    result["fwd_bwd_s"] = statistics.median(fwd_bwd[1:])
    result["peak_update_gb"] = torch.cuda.max_memory_allocated() / GB
    result["peak_step_gb"] = max(result["peak_rollout_gb"], result["peak_update_gb"])
    result["peak_step_reserved_gb"] = torch.cuda.max_memory_reserved() / GB
    result["logprob_chunk_tokens"] = args.logprob_chunk

    tokens = 0
    synchronize()
    started = time.perf_counter()
    for temperature in temps:
        tokens += generate_candidates(policy, [prompt], [temperature], args.sequential_tokens).tokens_generated
    synchronize()
    result["rollout_sequential_tokens"] = tokens
    result["rollout_sequential_tok_s"] = tokens / (time.perf_counter() - started)
    result["batched_over_sequential"] = result["rollout_batched_tok_s"] / result["rollout_sequential_tok_s"]

    args.out_dir.mkdir(parents=True, exist_ok=True)
    stem = args.out_dir / f"gpu_step_{result['date']}"
    stem.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    rows = [("GPU", result["gpu"]), ("load", f"{result['load_s']:.1f} s"),
            ("memory after load", f"{result['mem_after_load_gb']:.1f} GB"),
            ("prompt", f"{prompt_tokens} tokens"),
            (f"rollout, 8 x {args.new_tokens} tokens, one batched generate", f"{result['rollout_batched_tok_s']:.1f} tok/s"),
            (f"rollout, the 8 one by one ({args.sequential_tokens} tokens each)", f"{result['rollout_sequential_tok_s']:.1f} tok/s"),
            ("batched / one by one", f"{result['batched_over_sequential']:.1f}x"),
            ("forward + backward, 8 sequences (warm; first call)", f"{result['fwd_bwd_s']:.2f} s; {result['fwd_bwd_first_s']:.1f} s"),
            ("peak memory, rollout + update", f"{result['peak_step_gb']:.1f} GB allocated (rollout {result['peak_rollout_gb']:.1f}, "
             f"update {result['peak_update_gb']:.1f}), {result['peak_step_reserved_gb']:.1f} GB reserved")]
    table = "| measure | value |\n| --- | --- |\n" + "".join(f"| {a} | {b} |\n" for a, b in rows)
    stem.with_suffix(".md").write_text(f"# GPU step benchmark, {result['date']}\n\n`{result['command']}`\n\n{table}\n"
                                       f"Versions: {json.dumps(result['versions'])}\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
