"""Issues 16 and 32: does DAPO on the synthetic training families raise held-out pass@2?

    python benchmarks/generalise.py --jobs 16 [--steps 60] [--eval-every 20] [--eval-limit 40] [--seeds 0 1 2]
                                    [--variants pixel ...] [--set learning_rate=3e-5 ...] [--out FILE]
    CUDA_VISIBLE_DEVICES= python benchmarks/generalise.py --jobs 12 ...   # a GPU host's CPU cores, one run each
    python benchmarks/generalise.py --merge DIR [--ran CMD]  # only combine the job files (a cut run's too)
    python benchmarks/generalise.py --one VARIANT SEED --work DIR ...   # one run (another machine, say)

From the built-in model (--model), `arc-console train` (the real Trainer, in-process) runs DAPO for
--steps on --tasks synthetic with --problems '' (all 120 training-split tasks, every family in turn),
once per variant and seed:
  pixel            --reward pixel (the default), no augmentation
  pixel+augment    --reward pixel --augment dihedral+colors
  changed          --reward changed
  foreground       --reward foreground
  exact            --reward exact (only a perfect grid earns the accuracy term)
  exact+fresh      --reward exact on --tasks synthetic:200 (2,400 training-split tasks in order: none drawn twice)
--set KEY=VALUE applies a train setting to every run (a learning rate, --problems-per-step, ...); e.g.
--set tasks=synthetic:50 trains on 50 tasks per family of the training split instead of 10, in order, so a run
of a few hundred draws never sees a task twice (transfer_check.py: what the 120 revisited tasks teach is
their own answers).
Each run evaluates held-out tasks with --eval-every: a fixed subset of synthetic-heldout (--eval-limit
tasks spread evenly over its 12 families; trained problems left out, though the two splits never
share a task; --eval-augment views, 2 samples, ranked by votes) before the first step, every N steps
and at the end. Every job (one process, one torch thread) writes its own JSON (the eval.jsonl curve
and the training metrics); the merge writes --out (default benchmarks/results/generalise_DATE.json,
top-level pass_at_2_before/after of the first variant) and its .png (matplotlib). A job file is rewritten
after every step and evaluation ("finished": false until the end) beside its run directory, so --merge
of a cut run keeps what it measured; it also records each step's problem and how far the weights moved
(||W - W0|| / ||W0||), and the summary gives held-out pass@2 per family and, from the run directories,
what the updates were made of (training_signal.py: perfect answers sampled, groups kept, entropy).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from pathlib import Path

from training_signal import summed, training_signal

VARIANTS = {
    "pixel": {"reward": "pixel", "augment": "none"},
    "pixel+augment": {"reward": "pixel", "augment": "dihedral+colors"},
    "changed": {"reward": "changed", "augment": "none"},
    "foreground": {"reward": "foreground", "augment": "none"},
    "exact": {"reward": "exact", "augment": "none"},
    # never the same task twice: 200 per family, drawn in order (at most 5 draws a step: 480 steps)
    "exact+fresh": {"reward": "exact", "augment": "none", "tasks": "synthetic:200"},
}
RESULTS = Path(__file__).parent / "results"


def parse_sets(pairs: list[str]) -> dict:
    """KEY=VALUE train settings; values as JSON where they parse (numbers, booleans), else strings."""
    settings = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        try:
            settings[key.strip().replace("-", "_")] = json.loads(value)
        except ValueError:
            settings[key.strip().replace("-", "_")] = value
    return settings


def run_job(variant: str, seed: int, steps: int, eval_every: int, eval_limit: int, out: Path,
            extra: dict | None = None) -> dict:
    """One training run in this process; returns its curve and metrics, and rewrites them to `out` after
    every step and every held-out evaluation ("finished": false until the end), so a cut run keeps its data."""
    import torch

    from arc_console.cli.session import training_hooks
    from arc_console.config import build_config
    from arc_console.engine import events as ev
    from arc_console.engine.trainer import Trainer

    torch.set_num_threads(1)
    overrides = {"tasks": "synthetic", **VARIANTS[variant], "problems": [], "max_steps": steps, "seed": seed,
                 "eval_every": eval_every, "eval_tasks": "synthetic-heldout", "eval_limit": eval_limit,
                 "eval_augment": "none", "eval_samples": 2, "eval_rank": "votes", "checkpoint_every": 10**6,
                 "early_stop_perfect": 0, "cpu_threads": 1, **(extra or {})}
    config = build_config("tiny", None, overrides)
    started = time.perf_counter()
    result: dict = {"variant": variant, "seed": seed, "settings": overrides, "finished": False, "stopped": None,
                    "seconds": 0.0, "curve": [], "train_mean_accuracy": [], "train_best_accuracy": [],
                    "train_problems": [], "weights_relative_change": []}
    start_weights: dict = {}

    def relative_change(trainer: Trainer) -> float:
        """||W - W0|| / ||W0|| over every trainable tensor: how far the run has moved the model."""
        now = trainer.policy.trainable_parameters()
        moved = sum(float((now[name].detach().float() - w0).pow(2).sum()) for name, w0 in start_weights.items())
        size = sum(float(w0.pow(2).sum()) for w0 in start_weights.values())
        return (moved / size) ** 0.5 if size else 0.0

    def save() -> None:
        result["seconds"] = round(time.perf_counter() - started, 1)
        out.write_text(json.dumps(result) + "\n")

    def on_event(event: object) -> None:
        if isinstance(event, ev.StepFinished):
            result["train_mean_accuracy"].append(event.metrics["mean_accuracy"])
            result["train_best_accuracy"].append(event.metrics["best_accuracy"])
            result["train_problems"].append(event.problem_id)
            result["weights_relative_change"].append([event.step, round(relative_change(trainer), 6)])
            save()
        elif isinstance(event, ev.HeldOutEvaluated):
            keys = ("step", "pass_at_2", "pass_at_1", "oracle", "tasks", "seconds", "per_task_pass_at_2")
            result["curve"].append({k: event.row.get(k) for k in keys})
            save()

    run_dir = out.with_suffix("")  # kept beside the job file: its logs survive a cut run
    trainer = Trainer(config, run_dir, emit=on_event, hooks=training_hooks(config))
    trainer.setup()
    start_weights.update({name: p.detach().float().clone() for name, p in trainer.policy.trainable_parameters().items()})
    stopped = trainer.run()
    result.update(finished=True, stopped=stopped.reason)
    save()
    return result


def family(task_id: str) -> str:
    """The generator's family in a synthetic task id: syn-heldout-flip_h-00003 -> flip_h."""
    parts = task_id.split("-")
    return parts[2] if len(parts) >= 4 else task_id


def per_family(mine: list[dict]) -> dict:
    """Held-out pass@2 per family at the first and last evaluation (summed over seeds), and how many
    training steps drew that family: where the held-out change comes from."""
    rows: dict[str, dict] = {}
    for job in mine:
        first, last = job["curve"][0].get("per_task_pass_at_2"), job["curve"][-1].get("per_task_pass_at_2")
        if not first or not last:
            continue
        for task_id, score in first.items():
            row = rows.setdefault(family(task_id), {"tasks": 0, "solved_before": 0.0, "solved_after": 0.0,
                                                    "training_steps": 0})
            row["tasks"] += 1
            row["solved_before"] += score
            row["solved_after"] += last.get(task_id, 0.0)
        for problem in job.get("train_problems", []):
            rows.setdefault(family(problem), {"tasks": 0, "solved_before": 0.0, "solved_after": 0.0,
                                              "training_steps": 0})["training_steps"] += 1
    return dict(sorted(rows.items()))


def same_family_change(job: dict) -> float | None:
    """Training pixel accuracy in the run's second half minus its first, per family, averaged over the
    families drawn in both: the steps visit the families in a fixed order, so first-vs-last steps
    compare different families, this the same ones (other task instances)."""
    halves: dict[str, tuple[list, list]] = {}
    middle = len(job["train_mean_accuracy"]) // 2
    for index, (problem, accuracy) in enumerate(zip(job.get("train_problems", []), job["train_mean_accuracy"])):
        halves.setdefault(family(problem), ([], []))[index >= middle].append(accuracy)
    changes = [statistics.mean(late) - statistics.mean(early) for early, late in halves.values() if early and late]
    return statistics.mean(changes) if changes else None


def summarise(jobs: list[dict]) -> dict:
    summary = {}
    for variant in VARIANTS:
        mine = [j for j in jobs if j["variant"] == variant and j["curve"]]
        if not mine:
            continue
        before = [j["curve"][0]["pass_at_2"] for j in mine]
        after = [j["curve"][-1]["pass_at_2"] for j in mine]
        oracle_after = [j["curve"][-1]["oracle"] for j in mine]
        first_half = [statistics.mean(j["train_mean_accuracy"][:10]) for j in mine]
        last_half = [statistics.mean(j["train_mean_accuracy"][-10:]) for j in mine]
        summary[variant] = {
            "seeds": [j["seed"] for j in mine],
            "held_out_pass_at_2_before": statistics.mean(before),
            "held_out_pass_at_2_after": statistics.mean(after),
            "held_out_pass_at_2_before_per_seed": before,
            "held_out_pass_at_2_after_per_seed": after,
            "held_out_pass_at_2_before_stdev": statistics.pstdev(before),
            "held_out_pass_at_2_after_stdev": statistics.pstdev(after),
            "held_out_pass_at_2_change_mean": statistics.mean(a - b for a, b in zip(after, before)),
            "held_out_pass_at_2_change_per_seed": [round(a - b, 4) for a, b in zip(after, before)],
            # every seed's after above every seed's before: a rise beyond the spread of seeds
            "rises_beyond_seed_spread": min(after) > max(before),
            "held_out_oracle_after": statistics.mean(oracle_after),
            "train_mean_accuracy_first_10_steps": statistics.mean(first_half),
            "train_mean_accuracy_last_10_steps": statistics.mean(last_half),
            "train_mean_accuracy_change_same_family_per_seed": [same_family_change(j) for j in mine],
            "finished_per_seed": [j.get("finished", True) for j in mine],
            "last_evaluated_step_per_seed": [j["curve"][-1]["step"] for j in mine],
            "weights_relative_change_at_end_per_seed": [j["weights_relative_change"][-1][1]
                                                        if j.get("weights_relative_change") else None for j in mine],
            "held_out_per_family": per_family(mine),
            # from the run directories: perfect answers among the sampled groups, groups kept, entropy, per half
            "training_signal": summed([j.get("training_signal") for j in mine]),
            "training_signal_per_seed": [j.get("training_signal") for j in mine],
        }
    return summary


def plot(jobs: list[dict], path: Path, title: str) -> bool:
    """Held-out pass@2 per evaluation (left) and training pixel accuracy, a 10-step running mean (right)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    figure, (held_out, training) = plt.subplots(1, 2, figsize=(11, 4.5))
    colours = dict(zip(VARIANTS, ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown")))
    for variant in VARIANTS:
        mine = [j for j in jobs if j["variant"] == variant and j["curve"]]
        for index, job in enumerate(mine):
            label = variant if index == 0 else None
            steps = [row["step"] for row in job["curve"]]
            held_out.plot(steps, [row["pass_at_2"] for row in job["curve"]], color=colours[variant], alpha=0.8,
                          marker="o", label=label)
            accuracy = job["train_mean_accuracy"]
            running = [statistics.mean(accuracy[max(0, i - 9):i + 1]) for i in range(len(accuracy))]
            training.plot(range(1, len(running) + 1), running, color=colours[variant], alpha=0.8, label=label)
    held_out.set_xlabel("training step")
    held_out.set_ylabel("held-out pass@2")
    training.set_xlabel("training step")
    training.set_ylabel("training pixel accuracy (10-step mean)")
    figure.suptitle(title, fontsize=9)
    held_out.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    return True


def merge(folder: Path, header: dict, out: Path | None = None) -> Path:
    # a job file merged again without its run directory (copied back from another machine) keeps its signal
    jobs = [{**job, "training_signal": training_signal(p.with_suffix("")) or job.get("training_signal")}
            for p in sorted(folder.glob("job_*.json")) for job in [json.loads(p.read_text())]]
    out = out or RESULTS / f"generalise_{date.today().isoformat()}.json"
    png = out.with_suffix(".png")
    out.parent.mkdir(parents=True, exist_ok=True)
    settings = jobs[0]["settings"] if jobs else {}
    changed = ", ".join(f"{key} {settings[key]}" for key in ("learning_rate", "max_new_tokens", "num_candidates",
                                                             "augment") if key in settings and settings[key] != "none")
    source = settings.get("tasks", "synthetic")
    trained_on = "the 120 synthetic training tasks" if source == "synthetic" else f"training tasks {source}"
    title = (f"{settings.get('model', 'tiny')}, DAPO on {trained_on}, {settings.get('max_steps')} "
             f"steps{', ' + changed if changed else ''}; held-out pass@2 on "
             f"{jobs[0]['curve'][0]['tasks'] if jobs else '?'} synthetic-heldout tasks")
    drawn = plot(jobs, png, title)
    summary = summarise(jobs)
    first = summary[next(iter(summary))] if summary else {}
    out.write_text(json.dumps({**header, "variant_of_the_top_keys": next(iter(summary), None),
                               "pass_at_2_before": first.get("held_out_pass_at_2_before"),
                               "pass_at_2_after": first.get("held_out_pass_at_2_after"),
                               "summary": summary, "jobs": jobs, "plot": png.name if drawn else None}, indent=2) + "\n")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--eval-every", type=int, default=20)
    parser.add_argument("--eval-limit", type=int, default=40)
    parser.add_argument("--eval-augment", default="dihedral", help="held-out views: none | dihedral | dihedral+colors")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="train settings for every run")
    parser.add_argument("--model", default="tiny", help="the model every run starts from (default the built-in)")
    parser.add_argument("--jobs", type=int, default=1, help="runs at a time (one CPU thread each)")
    parser.add_argument("--work", type=Path, default=None, help="folder of job files (default: a new temp folder)")
    parser.add_argument("--merge", type=Path, default=None, help="only merge the job files in this folder")
    parser.add_argument("--out", type=Path, default=None, help="the results JSON (default results/generalise_DATE)")
    parser.add_argument("--one", nargs=2, metavar=("VARIANT", "SEED"), help="run one job into --work")
    parser.add_argument("--machine", default=None, help="what the runs ran on, for the results file")
    parser.add_argument("--ran", default=None, help="with --merge: the command that made the job files")
    args = parser.parse_args()
    header = {"command": "python " + " ".join(["benchmarks/generalise.py", *sys.argv[1:]]),
              "machine": args.machine or f"{platform.machine()} CPU, one torch thread per run",
              "merged": datetime.now().isoformat(timespec="seconds")}
    if args.merge and args.ran:
        header = {**header, "command": args.ran, "merge_command": header["command"]}
    extra = {"model": args.model, "eval_augment": args.eval_augment, **parse_sets(args.set)}
    if args.one:
        variant, seed = args.one[0], int(args.one[1])
        args.work.mkdir(parents=True, exist_ok=True)
        run_job(variant, seed, args.steps, args.eval_every, args.eval_limit,
                args.work / f"job_{variant}_{seed}.json", extra)
        return 0
    if args.merge:
        print(f"wrote {merge(args.merge, header, args.out)}")
        return 0
    work = args.work or Path(tempfile.mkdtemp(prefix="generalise-"))
    work.mkdir(parents=True, exist_ok=True)
    passed = ["--steps", str(args.steps), "--eval-every", str(args.eval_every), "--eval-limit", str(args.eval_limit),
              "--eval-augment", args.eval_augment, "--model", args.model, "--work", str(work), "--set", *args.set]
    commands = [[sys.executable, __file__, "--one", variant, str(seed), *passed]
                for seed in args.seeds for variant in args.variants]
    with ThreadPoolExecutor(args.jobs) as pool:
        codes = list(pool.map(lambda command: subprocess.run(command).returncode, commands))
    print(f"{codes.count(0)}/{len(codes)} runs finished; job files in {work}")
    print(f"wrote {merge(work, header, args.out)}")
    return 0 if all(code == 0 for code in codes) else 1


if __name__ == "__main__":
    sys.exit(main())
