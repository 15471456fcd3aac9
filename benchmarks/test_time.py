"""Test-time RL on the built-in model: held-out pass@2 of plain eval vs after N DAPO steps per task.

    python benchmarks/test_time.py [--tasks 40] [--seeds 0 1 2] [--steps 2 4] [--lr 1e-3]

For each seed and task: the fresh per-task LoRA is reset, the task is answered plainly (step 0: the
adapter's B is zero, so this is plain eval), then trained with test-time RL (evaluation/test_time.py)
and answered again after each step count in --steps. The step counts are nested in one run per task:
every step reseeds from (seed, task, step), so the answer after 2 steps is the one a run of exactly 2
steps gives. Writes benchmarks/results/test_time_DATE.json (keys tasks, pass_at_2_before,
pass_at_2_after, rows) and .png (needs matplotlib: pip install 'arc-console[bench]').
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from datetime import date, datetime
from pathlib import Path

import torch

from arc_console.arc import load_tasks
from arc_console.engine.backends import apply_cpu_threads
from arc_console.engine.control import RunControl
from arc_console.evaluation.adapter_reset import attach_test_time_adapter
from arc_console.evaluation.model import load_eval_model
from arc_console.evaluation.settings import EvalSettings
from arc_console.evaluation.solver import answer_task
from arc_console.evaluation.test_time import TestTimeSettings, TestTimeTrainer

RESULTS = Path(__file__).resolve().parent / "results"


def run_task(trainer: TestTimeTrainer, task, seed: int, step_counts: list[int]) -> dict:
    settings = trainer.eval_settings
    control = RunControl()
    trainer.adapter.reset(seed, task.id)
    started = time.perf_counter()
    plain = answer_task(task, trainer.engine, settings, control)
    row = {"task_id": task.id, "seed": seed, "pass_at_2": {"0": plain.score(2)},
           "seconds": {"0": round(time.perf_counter() - started, 3)}}
    train_started = time.perf_counter()

    def answer_after(step: int) -> None:
        if step in step_counts:
            trained = time.perf_counter() - train_started
            answer = answer_task(task, trainer.engine, settings, control)
            row["pass_at_2"][str(step)] = answer.score(2)
            row["seconds"][str(step)] = round(trained + answer.seconds, 3)  # training so far plus answering

    report = trainer.train(task, control, None, lambda event: None, after_step=answer_after)
    trainer.adapter.reset(seed, task.id)
    row.update(reward_before=round(report.reward_before, 4), reward_after=round(report.reward_after, 4),
               updates=report.updates, fallback=report.fallback)
    return row


def summarise(rows: list[dict], step_counts: list[int], seeds: list[int]) -> dict:
    def mean(values: list[float]) -> float:
        return sum(values) / len(values)

    by_steps = {}
    for steps in [0, *step_counts]:
        per_seed = [mean([r["pass_at_2"][str(steps)] for r in rows if r["seed"] == s]) for s in seeds
                    if any(r["seed"] == s for r in rows)]
        by_steps[str(steps)] = {"pass_at_2_mean": mean(per_seed), "pass_at_2_per_seed": per_seed,
                                "pass_at_2_stdev": statistics.pstdev(per_seed),
                                "seconds_per_task": mean([r["seconds"][str(steps)] for r in rows])}
    return by_steps


def plot(summary: dict, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = list(summary)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.bar(steps, [summary[s]["pass_at_2_mean"] for s in steps],
             yerr=[summary[s]["pass_at_2_stdev"] for s in steps], color="tab:blue", capsize=4)
    for index, s in enumerate(steps):
        left.scatter([index] * len(summary[s]["pass_at_2_per_seed"]), summary[s]["pass_at_2_per_seed"], color="black",
                     zorder=3, s=12)
    left.set_xlabel("test-time RL steps per task (0: plain eval)")
    left.set_ylabel("held-out pass@2 (mean over seeds, dots: each seed)")
    right.bar(steps, [summary[s]["seconds_per_task"] for s in steps], color="tab:orange")
    right.set_xlabel("test-time RL steps per task")
    right.set_ylabel("seconds per task (training + answering)")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=40)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, nargs="+", default=[2, 4])
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--candidates", type=int, default=4)
    parser.add_argument("--test-time-augment", default="dihedral")
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    engine, described = load_eval_model(args.model)
    threads = apply_cpu_threads(0, engine.policy)
    adapter = attach_test_time_adapter(engine, 8, 16)
    tasks = load_tasks("synthetic-heldout")[: args.tasks]
    test_time = TestTimeSettings(steps=max(args.steps), learning_rate=args.lr, augment=args.test_time_augment,
                                 candidates=args.candidates)
    machine = (f"{platform.machine()} CPU, {threads} torch thread(s), torch {torch.__version__}; shared with other "
               "jobs (timings measured under load)") if engine.policy.device.type == "cpu" else torch.cuda.get_device_name()
    out = args.out or RESULTS / f"test_time_{date.today().isoformat()}.json"
    rows: list[dict] = []
    result = {"command": "python benchmarks/test_time.py " + " ".join(__import__("sys").argv[1:]),
              "model": described, "machine": machine, "started": datetime.now().isoformat(timespec="seconds"),
              "tasks": len(tasks), "task_source": "synthetic-heldout", "seeds": args.seeds, "step_counts": args.steps,
              "eval_settings": None, "test_time_settings": test_time.to_dict()}
    for seed in args.seeds:
        settings = EvalSettings(augment="none", samples=2, seed=seed)
        result["eval_settings"] = settings.to_dict()
        trainer = TestTimeTrainer(adapter, test_time, settings)
        for number, task in enumerate(tasks, start=1):
            row = run_task(trainer, task, seed, args.steps)
            rows.append(row)
            print(f"seed {seed} {number}/{len(tasks)} {task.id:<32} pass@2 {row['pass_at_2']} "
                  f"reward {row['reward_before']:.3f}->{row['reward_after']:.3f} s {row['seconds']}", flush=True)
        summary = summarise(rows, args.steps, args.seeds)
        after = str(max(args.steps))
        result.update(seeds_done=sorted({r["seed"] for r in rows}), summary=summary,
                      pass_at_2_before=summary["0"]["pass_at_2_mean"], pass_at_2_after=summary[after]["pass_at_2_mean"],
                      pseudo_test_reward_before=sum(r["reward_before"] for r in rows) / len(rows),
                      pseudo_test_reward_after=sum(r["reward_after"] for r in rows) / len(rows),
                      rows=rows, plot=out.with_suffix(".png").name)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=1) + "\n")
        plot(summary, out.with_suffix(".png"), f"test-time RL, built-in tiny model, {len(tasks)} held-out synthetic "
             f"tasks, seeds {result['seeds_done']}\n{machine}")
    print(json.dumps({k: result[k] for k in ("pass_at_2_before", "pass_at_2_after", "summary")}, indent=1))


if __name__ == "__main__":
    main()
