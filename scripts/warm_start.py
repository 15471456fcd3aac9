"""Warm start for the built-in model: supervised training on synthetic ARC-like tasks, CPU or CUDA.

    python scripts/warm_start.py [--minutes 9 | --steps N] [--seed 0] [--out arc_console/builtin/tiny-arc]
                                 [--shape tiny-arc] [--sliding-window W] [--device auto|cpu|cuda]
                                 [--batch 16] [--lr 3e-3] [--workers 0] [--augment none|dihedral+colors]
                                 [--max-side 4] [--small-share 0.75] [--init MODEL_DIR] [--eval-every-s 0]

A GPT-OSS of a local shape learns, by teacher forcing on the seed's prompt format, to answer with the
test output grid followed by <|return|>; the loss is on the answer only. Training tasks come from the
synthetic generator's `train` split (fresh indices, never the held-out split), optionally under a random
dihedral view and colour permutation with the train pairs shuffled. On CUDA, worker processes make the
batches and the model trains in bfloat16 autocast. It stops after --steps (or --minutes), evaluates greedy
answers on the held-out synthetic tasks, and writes the model, the tokenizer and MADE.json (command, seed,
time, hardware, steps, results). With --eval-every-s it also logs held-out greedy scores while training.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import re
import sys
import time
from datetime import datetime
from pathlib import Path

import torch

from arc_console.arc import build_prompt, grid_to_text, parse_response, score_grid
from arc_console.arc.augment import random_view
from arc_console.arc.synthetic import FAMILIES, make_task, make_tasks
from arc_console.arc.task import Task
from arc_console.engine.model_factory import SHAPES, build_config, build_tokenizer
from arc_console.pretraining.fast_forward import FastGptOss

MAX_SIDE = 4
TRAIN_PAIRS = 2
ANSWER_END = "<|return|>"


class CharEncoder:
    """The local tokenizer's encoding without its per-call overhead: one id per character, special tokens
    whole. Equal to `tokenizer(text, add_special_tokens=False)` on ASCII prompts (checked at start)."""

    def __init__(self, tokenizer) -> None:
        vocab = tokenizer.get_vocab()
        self.special = {t: vocab[t] for t in tokenizer.all_special_tokens + ["<|start|>", "<|end|>", "<|message|>",
                                                                           "<|channel|>", "<|return|>", "<|call|>"]}
        self.chars = {t: i for t, i in vocab.items() if len(t) == 1}
        self.unknown = vocab[tokenizer.unk_token]
        self.pattern = re.compile("(" + "|".join(re.escape(t) for t in sorted(self.special, key=len, reverse=True)) + ")")

    def __call__(self, text: str) -> list[int]:
        ids: list[int] = []
        for piece in self.pattern.split(text):
            if piece in self.special:
                ids.append(self.special[piece])
            else:
                ids.extend(self.chars.get(ch, self.unknown) for ch in piece)
        return ids


def draw_task(rng: random.Random, index: int, max_side: int, small_share: float, augment: str) -> Task:
    """Training task `index` of a family drawn from `rng`, at 3x3 with probability small_share, else up to
    max_side; under a random view with its train pairs shuffled when augment is on."""
    family = rng.choice(list(FAMILIES))
    side = 3 if rng.random() < small_share else max_side
    task = make_task(family, index, "train", max_side=side, train_pairs=TRAIN_PAIRS)
    if augment == "none":
        return task
    task = random_view(augment, rng).apply_task(task)
    train = list(task.train)
    rng.shuffle(train)
    return Task(task.id, train, task.test, task.source)


def example(encode: CharEncoder, task: Task) -> tuple[list[int], int]:
    prompt = encode(build_prompt(task.train, task.test_input))
    answer = encode(grid_to_text(task.test_output) + ANSWER_END)
    return prompt + answer, len(prompt)


def pad_batch(rows: list[tuple[list[int], int]], pad: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    width = max(len(ids) for ids, _ in rows)
    ids = torch.full((len(rows), width), pad)
    labels = torch.full((len(rows), width), -100)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, (seq, prompt_len) in enumerate(rows):
        ids[i, : len(seq)] = torch.tensor(seq)
        mask[i, : len(seq)] = 1
        labels[i, prompt_len : len(seq)] = torch.tensor(seq[prompt_len:])
    return ids, mask, labels


class TaskBatches(torch.utils.data.IterableDataset):
    """Endless padded batches; each worker draws its own disjoint task indices (worker w takes w, w+N, ...)."""

    def __init__(self, seed: int, batch: int, max_side: int, small_share: float, augment: str, pad: int) -> None:
        self.seed, self.batch, self.max_side, self.small_share, self.augment, self.pad = (
            seed, batch, max_side, small_share, augment, pad)

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        rng = random.Random(f"warm-start-{self.seed}-{worker}")
        encode = CharEncoder(build_tokenizer())
        index = worker
        while True:
            rows = []
            for _ in range(self.batch):
                rows.append(example(encode, draw_task(rng, index, self.max_side, self.small_share, self.augment)))
                index += workers
            yield pad_batch(rows, self.pad)


@torch.no_grad()
def evaluate(model, tokenizer, tasks: list[Task], device: torch.device, batch: int = 64) -> dict[str, float]:
    """Greedy answers to the held-out tasks, batched with left padding."""
    model.eval()
    encode = CharEncoder(tokenizer)
    stops = [tokenizer.convert_tokens_to_ids(t) for t in ("<|return|>", "<|end|>")]
    pad = tokenizer.pad_token_id
    scores = []
    for start in range(0, len(tasks), batch):
        chunk = tasks[start : start + batch]
        prompts = [encode(build_prompt(t.train, t.test_input)) for t in chunk]
        width = max(map(len, prompts))
        ids = torch.full((len(chunk), width), pad)
        mask = torch.zeros((len(chunk), width), dtype=torch.long)
        for i, p in enumerate(prompts):
            ids[i, width - len(p):] = torch.tensor(p)
            mask[i, width - len(p):] = 1
        longest = max(len(grid_to_text(t.test_output)) for t in chunk) + 8
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            out = model.generate(ids.to(device), attention_mask=mask.to(device), max_new_tokens=longest,
                                 do_sample=False, eos_token_id=stops, pad_token_id=pad)
        for task, row in zip(chunk, out[:, width:].tolist()):
            text = tokenizer.decode(row, skip_special_tokens=False)
            scores.append(score_grid(parse_response(text), task.test_output))
    model.train()
    n = len(scores)
    return {"tasks": n, "well_formed_rate": sum(s.has_grid for s in scores) / n,
            "size_rate": sum(s.correct_size for s in scores) / n,
            "mean_accuracy": sum(s.accuracy for s in scores) / n,
            "perfect_rate": sum(s.perfect_match for s in scores) / n}


def build_model(args: argparse.Namespace, tokenizer):
    from transformers import GptOssForCausalLM

    if args.init:
        return GptOssForCausalLM.from_pretrained(args.init)
    config = build_config(SHAPES[args.shape], len(tokenizer))
    if args.sliding_window:
        config.sliding_window = args.sliding_window
    if args.layers:
        config.num_hidden_layers = args.layers
        config.layer_types = ["sliding_attention" if i % 2 == 0 else "full_attention" for i in range(args.layers)]
    config.pad_token_id = tokenizer.pad_token_id
    config.eos_token_id = [tokenizer.convert_tokens_to_ids(t) for t in ("<|return|>", "<|end|>", "<|call|>")]
    return GptOssForCausalLM(config)


def learning_rate(args: argparse.Namespace, step: int, progress: float) -> float:
    """Linear warm-up over the first steps, then cosine down to 10% of --lr."""
    return args.lr * min(1.0, (step + 1) / args.warmup_steps) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))


def hardware(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)}, torch {torch.__version__}"
    return f"{platform.machine()} CPU, {os.cpu_count()} cores, torch {torch.__version__}"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    parser.add_argument("--minutes", type=float, default=9.0, help="wall-clock budget (a guard when --steps is set)")
    parser.add_argument("--steps", type=int, default=0, help="optimizer steps (0: until --minutes)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--warmup-steps", type=int, default=30)
    parser.add_argument("--out", type=Path, default=Path("arc_console/builtin/tiny-arc"))
    parser.add_argument("--shape", default="tiny-arc", choices=[s for s, v in SHAPES.items() if v.vocab_size is None])
    parser.add_argument("--sliding-window", type=int, default=0, help="the sliding layers' window (0: the shape's)")
    parser.add_argument("--layers", type=int, default=0, help="layers instead of the shape's (0: the shape's)")
    parser.add_argument("--save-dtype", default="float32", choices=["float32", "bfloat16"])
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--workers", type=int, default=0, help="processes making batches (0: in this process)")
    parser.add_argument("--augment", default="none", choices=["none", "dihedral", "dihedral+colors"],
                        help="each training task under a random view, its train pairs shuffled")
    parser.add_argument("--max-side", type=int, default=MAX_SIDE, help="largest grid side of the tasks (3 = 3x3 only)")
    parser.add_argument("--init", type=Path, help="continue from this model instead of random weights")
    parser.add_argument("--small-share", type=float, default=0.0,
                        help="share of training tasks drawn at exactly 3x3 (the rest up to --max-side)")
    parser.add_argument("--eval-every-s", type=float, default=0.0, help="held-out greedy scores every this many seconds")
    parser.add_argument("--eval-limit", type=int, default=0, help="held-out tasks scored (0: all 120), spread over families")
    parser.add_argument("--compile", action="store_true", help="torch.compile the training loss (eager if it fails)")
    parser.add_argument("--log", type=Path, help="append the progress lines (JSON) to this file too")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if args.device == "auto" else args.device))
    tokenizer = build_tokenizer()
    encode = CharEncoder(tokenizer)
    probe = build_prompt(make_task("gravity", 0).train, make_task("gravity", 0).test_input)
    assert encode(probe) == tokenizer(probe, add_special_tokens=False)["input_ids"], "CharEncoder disagrees"
    model = build_model(args, tokenizer).to(device)
    model.train()
    fast = FastGptOss(model, max_positions=2048).to(device)
    train_loss = fast.loss
    if args.compile:
        train_loss = torch.compile(fast.loss, dynamic=True)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01, fused=device.type == "cuda")
    heldout = make_tasks(10, "heldout", max_side=args.max_side, train_pairs=TRAIN_PAIRS)  # = synthetic-heldout
    if args.eval_limit:
        heldout = heldout[: args.eval_limit]  # interleaved by family: any prefix mixes them
    batches = torch.utils.data.DataLoader(
        TaskBatches(args.seed, args.batch, args.max_side, args.small_share, args.augment, tokenizer.pad_token_id),
        batch_size=None, num_workers=args.workers, pin_memory=device.type == "cuda",
        prefetch_factor=8 if args.workers else None, persistent_workers=bool(args.workers))
    if args.log:
        args.log.parent.mkdir(parents=True, exist_ok=True)
    log = args.log.open("a") if args.log else None

    def report(record: dict) -> None:
        line = json.dumps(record)
        print(line, flush=True)
        if log:
            log.write(line + "\n")
            log.flush()

    started = time.monotonic()
    budget = args.minutes * 60
    step, losses, examples, last_eval, curve = 0, [], 0, started, []
    for ids, mask, labels in batches:
        elapsed = time.monotonic() - started
        if (args.steps and step >= args.steps) or elapsed >= budget:
            break
        progress = step / args.steps if args.steps else elapsed / budget
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(args, step, progress)
        ids, mask, labels = (t.to(device, non_blocking=True) for t in (ids, mask, labels))
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            try:
                loss = train_loss(ids, labels)
            except Exception as error:  # noqa: BLE001 - a compiler failure falls back to the eager forward
                if train_loss is fast.loss:
                    raise
                report({"compile_failed": repr(error)[:300]})
                train_loss = fast.loss
                loss = train_loss(ids, labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses.append(loss.detach())
        step += 1
        examples += ids.shape[0]
        if step % 100 == 0:
            recent = float(torch.stack(losses[-100:]).mean())
            losses = losses[-100:]
            report({"step": step, "examples": examples, "loss": round(recent, 4), "seconds": round(elapsed, 1),
                    "examples_per_s": round(examples / max(elapsed, 1e-9))})
        if args.eval_every_s and time.monotonic() - last_eval >= args.eval_every_s:
            scores = evaluate(model, tokenizer, heldout, device)
            curve.append({"step": step, "examples": examples, "seconds": round(elapsed, 1), **scores})
            report({"eval": curve[-1]})
            last_eval = time.monotonic()
    seconds = time.monotonic() - started
    final_loss = float(torch.stack(losses[-100:]).mean()) if losses else float("nan")
    results = evaluate(model, tokenizer, heldout, device)
    results["3x3"] = evaluate(model, tokenizer, make_tasks(4, "heldout", max_side=3, train_pairs=TRAIN_PAIRS)[: len(heldout)],
                              device)
    report({"heldout_greedy": results})
    model = model.to("cpu", dtype=getattr(torch, args.save_dtype))
    args.out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(args.out)
    tokenizer.save_pretrained(args.out)
    (args.out / "arc_console_model.json").write_text(json.dumps({"shape": args.shape, "seed": args.seed,
                                                                 "warm_start": True}))
    made = {"command": "python scripts/warm_start.py " + " ".join(sys.argv[1:]), "seed": args.seed,
            "date": datetime.now().isoformat(timespec="seconds"), "train_seconds": round(seconds),
            "steps": step, "batch": args.batch, "examples_seen": examples, "final_loss": final_loss,
            "hardware": hardware(device), "parameters": sum(p.numel() for p in model.parameters()),
            "shape": args.shape, "layers": model.config.num_hidden_layers,
            "sliding_window": model.config.sliding_window,
            "task_grids": f"synthetic train split, 3x3..{args.max_side}x{args.max_side}, {TRAIN_PAIRS} train pairs"
                          + (f", {args.small_share:.0%} drawn at 3x3" if args.small_share else "")
                          + (f", each under a random {args.augment} view, train pairs shuffled" if args.augment != "none" else "")
                          + (f", continued from {args.init}" if args.init else ""),
            "heldout": "synthetic-heldout (the generator's held-out split: 10 tasks per family, seeds never used in training)",
            "heldout_greedy": results, "heldout_curve": curve}
    (args.out / "MADE.json").write_text(json.dumps(made, indent=2) + "\n")


if __name__ == "__main__":
    main()
