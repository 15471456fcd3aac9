"""Warm start for the built-in CPU model: supervised training on synthetic ARC-like tasks.

    python scripts/warm_start.py [--minutes 9] [--seed 0] [--out arc_console/builtin/tiny-arc]
                                 [--max-side 4] [--init MODEL_DIR] [--small-share 0.75]

A GPT-OSS of the "tiny-arc" shape (about 1.8 M parameters) learns, by teacher forcing on the
seed's prompt format, to answer with the test output grid followed by <|return|>. The loss is on
the answer only. It stops after --minutes, evaluates greedy answers on held-out synthetic tasks,
and writes the model, the tokenizer and MADE.json (command, seed, time, hardware, results).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import sys
import time
from datetime import datetime
from pathlib import Path

import torch

from arc_console.arc import build_prompt, grid_to_text, parse_response, score_grid
from arc_console.arc.synthetic import make_task, make_tasks, FAMILIES
from arc_console.engine.model_factory import build_config, build_tokenizer, SHAPES

MAX_SIDE = 4
TRAIN_PAIRS = 2


def example(tokenizer, task) -> tuple[list[int], int]:
    prompt = tokenizer(build_prompt(task.train, task.test_input), add_special_tokens=False)["input_ids"]
    answer = tokenizer(grid_to_text(task.test_output) + "<|return|>", add_special_tokens=False)["input_ids"]
    return prompt + answer, len(prompt)


def batch_of(tokenizer, tasks) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    rows = [example(tokenizer, t) for t in tasks]
    width = max(len(ids) for ids, _ in rows)
    pad = tokenizer.pad_token_id
    ids = torch.full((len(rows), width), pad)
    labels = torch.full((len(rows), width), -100)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, (seq, prompt_len) in enumerate(rows):
        ids[i, : len(seq)] = torch.tensor(seq)
        mask[i, : len(seq)] = 1
        labels[i, prompt_len : len(seq)] = torch.tensor(seq[prompt_len:])
    return ids, mask, labels


@torch.no_grad()
def evaluate(model, tokenizer, tasks) -> dict[str, float]:
    model.eval()
    stops = [tokenizer.convert_tokens_to_ids(t) for t in ("<|return|>", "<|end|>")]
    scores = []
    for task in tasks:
        prompt = tokenizer(build_prompt(task.train, task.test_input), add_special_tokens=False)["input_ids"]
        out = model.generate(torch.tensor([prompt]), max_new_tokens=48, do_sample=False, eos_token_id=stops,
                             pad_token_id=tokenizer.pad_token_id)
        text = tokenizer.decode(out[0, len(prompt):], skip_special_tokens=False)
        scores.append(score_grid(parse_response(text), task.test_output))
    model.train()
    n = len(scores)
    return {"tasks": n, "well_formed_rate": sum(s.has_grid for s in scores) / n,
            "size_rate": sum(s.correct_size for s in scores) / n,
            "mean_accuracy": sum(s.accuracy for s in scores) / n,
            "perfect_rate": sum(s.perfect_match for s in scores) / n}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=9.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--out", type=Path, default=Path("arc_console/builtin/tiny-arc"))
    parser.add_argument("--max-side", type=int, default=MAX_SIDE, help="largest grid side of the tasks (3 = 3x3 only)")
    parser.add_argument("--init", type=Path, help="continue from this model instead of random weights")
    parser.add_argument("--small-share", type=float, default=0.0,
                        help="share of training tasks drawn at exactly 3x3 (the rest up to --max-side): a 3x3 "
                             "curriculum that keeps replaying larger grids")
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    from transformers import GptOssForCausalLM

    tokenizer = build_tokenizer()
    config = build_config(SHAPES["tiny-arc"], len(tokenizer))
    config.pad_token_id = tokenizer.pad_token_id
    config.eos_token_id = [tokenizer.convert_tokens_to_ids(t) for t in ("<|return|>", "<|end|>", "<|call|>")]
    model = GptOssForCausalLM.from_pretrained(args.init) if args.init else GptOssForCausalLM(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    heldout = make_tasks(4, "heldout", max_side=args.max_side, train_pairs=TRAIN_PAIRS)
    names = list(FAMILIES)
    started = time.monotonic()
    budget = args.minutes * 60
    step, losses, index = 0, [], 0
    side_draw = random.Random(args.seed + 1)
    while time.monotonic() - started < budget:
        tasks = []
        for _ in range(args.batch):
            side = 3 if side_draw.random() < args.small_share else args.max_side
            tasks.append(make_task(names[index % len(names)], index // len(names), "train", max_side=side,
                                   train_pairs=TRAIN_PAIRS))
            index += 1
        progress = (time.monotonic() - started) / budget
        for group in optimizer.param_groups:  # warm-up, then cosine to 10%
            group["lr"] = args.lr * min(1.0, (step + 1) / 30) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))
        ids, mask, labels = batch_of(tokenizer, tasks)
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses.append(float(loss))
        step += 1
        if step % 25 == 0:
            print(f"step {step} loss {sum(losses[-25:]) / 25:.4f} {time.monotonic() - started:.0f}s", flush=True)
    seconds = time.monotonic() - started
    results = evaluate(model, tokenizer, heldout)
    results["3x3"] = evaluate(model, tokenizer, make_tasks(4, "heldout", max_side=3, train_pairs=TRAIN_PAIRS))
    print(json.dumps(results), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(args.out)
    tokenizer.save_pretrained(args.out)
    (args.out / "arc_console_model.json").write_text(json.dumps({"shape": "tiny-arc", "seed": args.seed,
                                                                 "warm_start": True}))
    made = {"command": "python scripts/warm_start.py " + " ".join(sys.argv[1:]), "seed": args.seed,
            "date": datetime.now().isoformat(timespec="seconds"), "train_seconds": round(seconds),
            "steps": step, "batch": args.batch, "examples_seen": index, "final_loss": sum(losses[-25:]) / 25,
            "hardware": f"{platform.machine()} CPU, {os.cpu_count()} cores, torch {torch.__version__}",
            "parameters": sum(p.numel() for p in model.parameters()),
            "task_grids": f"synthetic, 3x3..{args.max_side}x{args.max_side}, {TRAIN_PAIRS} train pairs"
                          + (f", {args.small_share:.0%} drawn at 3x3" if args.small_share else "")
                          + (f", continued from {args.init}" if args.init else ""),
            "heldout_greedy": results}
    (args.out / "MADE.json").write_text(json.dumps(made, indent=2) + "\n")
    print(json.dumps(made, indent=2))


if __name__ == "__main__":
    main()
