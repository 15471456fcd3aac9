"""Choosing test-time SFT's defaults: which weights, learning rate, views and steps, on held-out tasks.

    python benchmarks/test_time_sft_sweep.py --tasks 20 --configs full:1e-3 lora:3e-3 lora-all:3e-3 \\
        [--checkpoints 8 16 32] [--answer] [--slice I/N --job-out DIR | --merge DIR] [--out FILE]

A config is WEIGHTS:LR[:AUGMENT[:BATCH[:RANK[:repeat]]]] (repeat: SftSettings.repeat_examples): WEIGHTS full (every weight, restored per task), lora
(a fresh LoRA on q, k, v, o) or lora-all (a fresh LoRA on q, k, v, o and the experts, through peft's
target_parameters; answered with transformers' generate, which runs peft's expert adapters where the
static engine does not). For every config and task (the first --tasks of synthetic-heldout, one per
family in turn, the tiny preset's demo problems left out) the weights are reset, then trained by evaluation/test_time_sft.py, and at step 0 and
each checkpoint (nested: the learning rate is constant and the views come from the task's own
generator, so step 16 of a 32-step run is a 16-step run) it records:
  test_nll    the mean answer-token loss of the task's real test output, teacher-forced under the real
              prompt (every train pair as an example): does training on the task's own examples make
              the right answer likelier? Continuous, cheap, and never trained on.
  probe_loss  the same loss on the leave-one-out problems themselves (what is trained).
  with --answer: pass@2, pass@1, oracle and attempt 1's pixel accuracy of plain eval's answer
              (--augment dihedral, 2 samples a view, votes).
Writes one JSON (rows and a per-config summary); --slice/--merge split the tasks over processes.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

import torch

from arc_console.arc import load_tasks, score_grid
from arc_console.config import DEMO_PROBLEMS
from arc_console.decoding.rollout_engine import RolloutEngine
from arc_console.engine.backends import LORA_TARGETS
from arc_console.engine.control import RunControl
from arc_console.evaluation.adapter_reset import TestTimeAdapter, attach_trainable_weights
from arc_console.evaluation.model import load_eval_model
from arc_console.evaluation.settings import EvalSettings
from arc_console.evaluation.solver import answer_task
from arc_console.evaluation.test_time_settings import SftSettings
from arc_console.evaluation.test_time_sft import SupervisedPhase, answer_loss, encode_problem, teacher_forcing_batch

RESULTS = Path(__file__).resolve().parent / "results"
EXPERTS = ["mlp.experts.gate_up_proj", "mlp.experts.down_proj"]


def parse_config(text: str) -> dict:
    parts = text.split(":")
    return {"name": text, "weights": parts[0], "lr": float(parts[1]),
            "augment": parts[2] if len(parts) > 2 else "dihedral+colors",
            "batch": int(parts[3]) if len(parts) > 3 else 8, "rank": int(parts[4]) if len(parts) > 4 else 8,
            "repeat": len(parts) > 5 and parts[5] == "repeat"}


def attach(config: dict, model: str):
    engine, _ = load_eval_model(model)
    torch.set_num_threads(1)
    if config["weights"] != "lora-all":
        return attach_trainable_weights(engine, config["weights"], config["rank"], 2 * config["rank"])
    from peft import LoraConfig, get_peft_model

    policy = engine.policy
    policy.model = get_peft_model(policy.model, LoraConfig(
        r=config["rank"], lora_alpha=2 * config["rank"], lora_dropout=0.0, target_modules=LORA_TARGETS,
        target_parameters=EXPERTS, bias="none", task_type="CAUSAL_LM"))
    for name, parameter in policy.model.named_parameters():
        parameter.requires_grad_("lora_" in name)
    policy.model.eval()
    return TestTimeAdapter(RolloutEngine(policy), fresh=True, rank=config["rank"])


def measure(weights, task, eval_settings: EvalSettings, answer: bool, sft: SftSettings) -> dict:
    real = encode_problem(weights, task)
    with torch.no_grad():
        nll = float(answer_loss(weights, teacher_forcing_batch(weights, [real]), sft.logprob_chunk_tokens, False))
    row = {"test_nll": round(nll, 4)}
    if answer:
        result = answer_task(task, weights.engine, eval_settings, RunControl())
        first = result.tests[0]
        row.update(pass_at_2=result.score(2), pass_at_1=result.score(1), oracle=result.oracle_score(),
                   accuracy_1=round(score_grid(first.attempts[0], first.target).accuracy, 4))
    return row


def run_config(config: dict, tasks: list, checkpoints: list[int], answer: bool, model: str, seed: int) -> list[dict]:
    weights = attach(config, model)
    sft = SftSettings(steps=max(checkpoints), learning_rate=config["lr"], batch=config["batch"],
                      augment=config["augment"], repeat_examples=config["repeat"])
    eval_settings = EvalSettings(augment="dihedral", samples=2, seed=seed)
    phase = SupervisedPhase(weights, sft, eval_settings)
    rows = []
    for task in tasks:
        weights.reset(seed, task.id)
        started = time.perf_counter()
        row = {"config": config["name"], "task_id": task.id, "seed": seed, "at": {"0": measure(weights, task,
                                                                                              eval_settings, answer, sft)}}

        def after_step(step: int) -> None:
            if step in checkpoints:
                row["at"][str(step)] = {**measure(weights, task, eval_settings, answer, sft),
                                        "seconds": round(time.perf_counter() - started, 2)}

        report = phase.train(task, RunControl(), lambda event: None, after_step=after_step)
        row.update(probe_loss_before=report.loss_before, probe_loss_after=report.loss_after, fallback=report.fallback)
        weights.reset(seed, task.id)
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def summarise(rows: list[dict]) -> dict:
    summary = {}
    for name in dict.fromkeys(r["config"] for r in rows):
        mine = [r for r in rows if r["config"] == name]
        steps = sorted({s for r in mine for s in r["at"]}, key=int)
        summary[name] = {}
        for step in steps:
            at = [r["at"][step] for r in mine if step in r["at"]]
            entry = {"tasks": len(at), "test_nll": round(statistics.mean(a["test_nll"] for a in at), 4),
                     "test_nll_lower_than_before": sum(a["test_nll"] < r["at"]["0"]["test_nll"]
                                                       for a, r in zip(at, mine))}
            for key in ("pass_at_2", "pass_at_1", "oracle", "accuracy_1", "seconds"):
                if all(key in a for a in at):
                    entry[key] = round(statistics.mean(a[key] for a in at), 4)
            summary[name][step] = entry
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=20)
    parser.add_argument("--configs", nargs="+", default=["full:1e-3"])
    parser.add_argument("--checkpoints", type=int, nargs="+", default=[8, 16, 32])
    parser.add_argument("--answer", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--slice", default="1/1", help="I/N: this process takes every N-th task from the I-th")
    parser.add_argument("--job-out", type=Path, help="write this slice's rows here (for --merge)")
    parser.add_argument("--merge", type=Path, help="merge the slice files in this folder")
    parser.add_argument("--machine", default=f"{platform.machine()} CPU, 1 torch thread per process")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    header = {"command": "python benchmarks/test_time_sft_sweep.py " + " ".join(sys.argv[1:]), "model": args.model,
              "machine": args.machine, "date": datetime.now().isoformat(timespec="seconds")}
    if args.merge:
        rows = [row for path in sorted(args.merge.glob("slice_*.json")) for row in json.loads(path.read_text())]
    else:
        index, count = (int(x) for x in args.slice.split("/"))
        held_out = [t for t in load_tasks("synthetic-heldout") if t.id not in DEMO_PROBLEMS]  # as test_time_modes
        tasks = held_out[: args.tasks][index - 1 :: count]
        rows = [row for text in args.configs for row in run_config(parse_config(text), tasks, args.checkpoints,
                                                                   args.answer, args.model, args.seed)]
        if args.job_out:
            args.job_out.mkdir(parents=True, exist_ok=True)
            (args.job_out / f"slice_{index}_of_{count}.json").write_text(json.dumps(rows) + "\n")
            return 0
    out = args.out or RESULTS / f"test_time_sft_sweep_{datetime.now():%Y-%m-%d}.json"
    out.write_text(json.dumps({**header, "summary": summarise(rows), "rows": rows}, indent=1) + "\n")
    print(json.dumps(summarise(rows), indent=1))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
