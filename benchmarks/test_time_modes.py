"""Test-time training modes side by side: plain eval vs sft vs rl vs sft+rl at several budgets, several seeds.

    python benchmarks/test_time_modes.py [--tasks 40] [--seeds 0 1 2] [--sft-steps 16 32 96] [--rl-steps 1 2 4]
        [--skip-sft-rl] [--skip-rl] [--jobs 16]       # every slice in its own process, then the merge
    CUDA_VISIBLE_DEVICES= python benchmarks/test_time_modes.py --jobs 16   # a GPU host's CPU cores (eval would
                                                  # otherwise load the model on the GPU with the unsloth backend)
    python benchmarks/test_time_modes.py --slice I/N --job-out DIR   # one slice (another machine, say)
    python benchmarks/test_time_modes.py --merge DIR                 # combine the slices: JSON and PNG

The tasks are the first --tasks of synthetic-heldout (one per family in turn) that the model did not
train on (the tiny preset's demo problems, and a run's own problems when --model is a run or
checkpoint, are left out). Budget i is --sft-steps[i] SFT steps and --rl-steps[i] DAPO steps. For every
(seed, task), with the weights reset before each arm (evaluation/adapter_reset.py):
  plain   the task answered as `eval` answers it (--eval-augment views, default dihedral; 2 samples a view; votes);
  sft     one SFT run, answered after each budget's step count (nested: the learning rate is constant
          and the views come from the task's own generator, so step 32 of a 96-step run is a 32-step run);
  rl      one DAPO run, answered after each budget's step count (every step reseeds: nested runs are exact);
  sft+rl  per budget, the SFT weights at that budget (kept from the sft arm) then that budget's DAPO steps;
  sft pooled  eval's --test-time-pool both: plain's candidates and the sft arm's at that budget in one pool,
          every candidate scored under every view by the tuned and the base weights (the product of
          experts), ranked by --pool-rule (default: both models' scores summed, as eval ranks them).
Seconds per task are the training up to that budget plus that answer (sft pooled: plus both samplings and
the scoring). The pools are kept (per candidate: right or not, each model's votes and score), so every
selection rule of benchmarks/test_time_selection.py is computed on the same candidates ("selection": votes
or scores, one model's candidates or both, and the oracle: a right candidate anywhere in the pool) and per
task family ("per_family"). A slice is a set of (seed, task) pairs; the merge writes
benchmarks/results/test_time_modes_DATE.json (top-level keys first: tasks, pass_at_2_before: plain,
pass_at_2_after: --default-mode at --default-budget; a row per mode and budget) and the PNG (matplotlib:
pip install 'arc-console[bench]').
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_time_modes_table import plot, pooled_rows, summarise  # noqa: E402
from test_time_selection import RULES, candidate_record, family_table, selection_table  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
FAMILY_RULES = ["plain votes", "sft votes", "pool logprob tuned", "pool logprob base+tuned", "oracle"]


def held_out_tasks(count: int, model: str, skip: int = 0) -> list:
    """`count` synthetic-heldout tasks the model never trained on, after the first `skip` of them (so a rule can
    be chosen on tasks other than the ones it is reported on)."""
    from arc_console.arc import load_tasks
    from arc_console.config import DEMO_PROBLEMS
    from arc_console.evaluation.model_source import locate_eval_model
    from arc_console.evaluation.trained_problems import TrainedOn, leave_out_trained

    trained = set(DEMO_PROBLEMS)
    source = locate_eval_model(model)
    run = TrainedOn.from_config(source.run_config) if source.from_a_run else None
    if run is not None:
        trained |= run.task_ids()
    return leave_out_trained(load_tasks("synthetic-heldout"), trained).kept[skip : skip + count]


class Bench:
    """One loaded model and its trainable weights; answers (seed, task) pairs in every arm."""

    def __init__(self, args: argparse.Namespace) -> None:
        import torch

        from arc_console.evaluation.adapter_reset import attach_trainable_weights
        from arc_console.evaluation.model import load_eval_model
        from arc_console.evaluation.test_time_settings import SftSettings, TestTimePlan, TestTimeSettings

        engine, self.described = load_eval_model(args.model)
        torch.set_num_threads(1)
        self.weights = attach_trainable_weights(engine, args.weights, 8, 16)
        self.sft_budgets, self.rl_budgets = args.sft_steps, args.rl_steps
        plan = TestTimePlan("sft+rl", args.weights,
                            SftSettings(steps=max(self.sft_budgets), learning_rate=args.sft_lr, batch=args.sft_batch,
                                        augment=args.sft_augment, repeat_examples=args.sft_repeat_examples),
                            TestTimeSettings(steps=max(self.rl_budgets), learning_rate=args.rl_lr))
        plan = plan.for_weights(self.weights.kind)  # eval's learning rates for what trains, unless given
        self.sft, self.rl = plan.sft, plan.rl
        self.eval_augment = args.eval_augment
        self.skip_sft_rl = args.skip_sft_rl or args.skip_rl
        self.skip_rl = args.skip_rl

    def run_pair(self, task, seed: int) -> tuple[list[dict], list[dict]]:
        """Every arm on one (seed, task): the rows, and per SFT budget the pool of the base model's and the tuned
        model's candidates with their votes and scores under either model (benchmarks/test_time_selection.py)."""
        from arc_console.engine.control import RunControl
        from arc_console.evaluation.candidates import grid_key
        from arc_console.evaluation.settings import EvalSettings
        from arc_console.evaluation.solver import answer_task, pooled, rank_task, sample_task
        from arc_console.evaluation.test_time import TestTimeTrainer
        from arc_console.evaluation.test_time_sft import SupervisedPhase

        eval_settings = EvalSettings(augment=self.eval_augment, seed=seed)  # eval's defaults but --augment
        control, quiet, weights = RunControl(), (lambda event: None), self.weights
        policy = weights.policy
        rows: list[dict] = []

        def row(mode: str, budget: int, seconds: float, answer, extra: dict | None = None) -> dict:
            return {"task_id": task.id, "seed": seed, "mode": mode, "budget": budget,
                    "sft_steps": self.sft_budgets[budget - 1] if budget and "sft" in mode else 0,
                    "rl_steps": self.rl_budgets[budget - 1] if budget and "rl" in mode else 0,
                    "pass_at_2": answer.score(2), "pass_at_1": answer.score(1), "oracle": answer.oracle_score(),
                    "seconds": round(seconds, 3), **(extra or {})}

        def record(mode: str, budget: int, trained_s: float) -> None:
            answer = answer_task(task, weights.engine, eval_settings, control)
            rows.append(row(mode, budget, trained_s + answer.seconds, answer))

        weights.reset(seed, task.id)
        started = time.perf_counter()
        base = sample_task(task, weights.engine, eval_settings, control, source="base")
        rows.append(row("plain", 0, time.perf_counter() - started, rank_task(base, eval_settings)))
        base_seconds = base.seconds
        kept: dict[int, dict] = {}  # the SFT weights at each budget, for sft+rl
        pools: dict[int, tuple] = {}  # per budget: the pooled candidates and the seconds so far
        clock = Clock()

        def after_sft(step: int) -> None:
            if step in self.sft_budgets:
                with clock.paused():
                    for budget, steps in enumerate(self.sft_budgets, start=1):
                        if steps == step:
                            kept[budget] = {"weights": snapshot(weights), "seconds": clock.seconds}
                            began = time.perf_counter()
                            tuned = sample_task(task, weights.engine, eval_settings, control, source="tuned")
                            rows.append(row("sft", budget, clock.seconds + tuned.seconds,
                                            rank_task(tuned, eval_settings)))
                            both = pooled(base, tuned)
                            tuned_views = view_scores_by_grid(policy, [both])
                            for test in both.tests:
                                for candidate in test.pool.candidates:
                                    key = (test.test_index, grid_key(candidate.grid))
                                    candidate.add_expert_score("tuned", sum(tuned_views[key]))
                            pools[budget] = (both, tuned_views,
                                             clock.seconds + base_seconds + time.perf_counter() - began)

        sft = SupervisedPhase(weights, self.sft, eval_settings).train(task, control, quiet, after_step=after_sft)
        for r in rows[-len(self.sft_budgets):]:
            r.update(sft_loss_before=sft.loss_before, sft_loss_after=sft.loss_after)
        weights.reset(seed, task.id)
        pool_rows = []
        began = time.perf_counter()
        # the reset weights: the base model's scores
        base_views = view_scores_by_grid(policy, [both for both, _, _ in pools.values()])
        scoring = (time.perf_counter() - began) / max(1, len(pools))  # shared by the budgets' pools
        for budget, (both, tuned_views, seconds) in sorted(pools.items()):
            records = []
            for test in both.tests:
                records.append([])
                for candidate in test.pool.candidates:
                    key = (test.test_index, grid_key(candidate.grid))
                    candidate.add_expert_score("base", sum(base_views[key]))
                    records[-1].append(candidate_record(candidate, test.target,
                                                        {"base": base_views[key], "tuned": tuned_views[key]}))
            pool_rows.append({"task_id": task.id, "seed": seed, "budget": budget,
                              "sft_steps": self.sft_budgets[budget - 1],
                              "seconds": round(seconds + scoring, 3), "tests": records})
        clock = Clock()

        def after_rl(step: int, mode: str = "rl", offset: float = 0.0, only: int | None = None) -> None:
            with clock.paused():
                for budget, steps in enumerate(self.rl_budgets, start=1):
                    if steps == step and (only is None or budget == only):
                        record(mode, budget, offset + clock.seconds)

        if not self.skip_rl:
            TestTimeTrainer(weights, self.rl, eval_settings).train(task, control, None, quiet, after_step=after_rl)
        for budget in range(1, 1 if self.skip_sft_rl else len(self.rl_budgets) + 1):
            restore(weights, kept[budget]["weights"])
            clock = Clock()
            settings = _with_steps(self.rl, self.rl_budgets[budget - 1])
            TestTimeTrainer(weights, settings, eval_settings).train(
                task, control, None, quiet,
                after_step=lambda step, b=budget: after_rl(step, "sft+rl", kept[b]["seconds"], b))
        weights.reset(seed, task.id)
        return rows, pool_rows


def view_scores_by_grid(policy, sampled: list) -> dict:
    """Every distinct candidate of several samplings of one task scored once under `policy`: its log-probability
    under each view (summed, the product of experts), by (test index, grid)."""
    import functools

    from arc_console.evaluation.candidates import grid_key
    from arc_console.evaluation.solver import expert_view_scores, pooled

    everything = functools.reduce(pooled, sampled)
    return {(test.test_index, grid_key(c.grid)): views for test in everything.tests
            for c, views in zip(test.pool.candidates, expert_view_scores(policy, test), strict=True)}


class Clock:
    """Training seconds so far, not counting the answers taken in between."""

    def __init__(self) -> None:
        self.started, self.paused_for = time.perf_counter(), 0.0

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.started - self.paused_for

    def paused(self):
        import contextlib

        @contextlib.contextmanager
        def pause():
            began = time.perf_counter()
            try:
                yield
            finally:
                self.paused_for += time.perf_counter() - began
        return pause()


def snapshot(weights) -> dict:
    return {name: p.detach().clone() for name, p in weights.parameters().items()}


def restore(weights, saved: dict) -> None:
    import torch

    with torch.no_grad():
        for name, parameter in weights.parameters().items():
            parameter.copy_(saved[name])


def _with_steps(settings, steps: int):
    import dataclasses

    return dataclasses.replace(settings, steps=steps)


def merge(folder: Path, out: Path, args: argparse.Namespace) -> dict:
    slices = [json.loads(p.read_text()) for p in sorted(folder.glob("slice_*.json"))]
    meta = slices[0]["meta"]
    rows, partial = whole_tasks([row for s in slices for row in s["rows"]], meta.get("seeds", args.seeds))
    pools = [p for s in slices for p in s.get("pools", []) if p["task_id"] not in partial]
    seeds = sorted({r["seed"] for r in rows})
    meta["load_average"] = {f"slice {i + 1}": [s["meta"].get("load_average_at_start"), s["meta"].get("load_average_now")]
                            for i, s in enumerate(slices)}
    for key in ("load_average_at_start", "load_average_now"):
        meta.pop(key, None)
    meta["tasks_left_out_unfinished"] = partial  # answered under some seeds only: a run stopped early
    table = summarise(rows + pooled_rows(pools, args.pool_rule), seeds, meta["sft_budgets"], meta["rl_budgets"])
    default = next((r for r in table if r["mode"] == args.default_mode and r["budget"] == args.default_budget), None)
    plain = next((r for r in table if r["mode"] == "plain"), None)
    tasks = sorted({r["task_id"] for r in rows})
    result = {"tasks": len(tasks), "pass_at_2_before": plain["pass_at_2_mean"] if plain else None,
              "pass_at_2_after": default["pass_at_2_mean"] if default else None,
              "command": "python benchmarks/test_time_modes.py " + " ".join(sys.argv[1:]),
              **({"run_command": args.ran} if args.ran else {}), **meta,
              "machine": args.machine, "merged": datetime.now().isoformat(timespec="seconds"),
              "seeds": seeds, "task_ids": tasks,
              "default": {"mode": args.default_mode, "budget": args.default_budget}, "rows": table,
              "pooled_rule": args.pool_rule,
              "selection": selection_table(pools, seeds) if pools else [],
              "per_family": {f"budget {b}": family_table(pools, b, FAMILY_RULES)
                             for b in sorted({p["budget"] for p in pools})},
              "per_task": rows, "pools": pools}
    png = out.with_suffix(".png")
    if plot(table, png, f"test-time modes, {meta['model']}, {len(tasks)} held-out synthetic tasks, seeds {seeds}\n"
                        f"{args.machine}"):
        result["plot"] = png.name
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    return result


def run_slice(args: argparse.Namespace) -> Path:
    """Task by task, every seed of a task in turn, so a slice stopped early holds whole tasks; its file is
    rewritten after every (seed, task) pair."""
    import os

    from arc_console.evaluation.model import device_name

    index, count = (int(x) for x in args.slice.split("/"))
    tasks = held_out_tasks(args.tasks, args.model, args.skip_tasks)
    pairs = [(seed, task) for task in tasks for seed in args.seeds][index - 1 :: count]
    bench = Bench(args)
    meta = {"model": bench.described, "device": device_name(bench.weights.policy), "weights": bench.weights.kind,
            "skip_tasks": args.skip_tasks, "sft_budgets": args.sft_steps, "rl_budgets": args.rl_steps,
            "sft_settings": bench.sft.to_dict(),
            "rl_settings": bench.rl.to_dict(), "seeds": args.seeds, "load_average_at_start": os.getloadavg(),
            "eval_settings": f"eval's defaults (--samples 2, --rank votes) with --augment {args.eval_augment}"}
    args.job_out.mkdir(parents=True, exist_ok=True)
    path = args.job_out / f"slice_{index:03d}_of_{count:03d}.json"
    rows: list[dict] = []
    pools: list[dict] = []
    for seed, task in pairs:
        started = time.perf_counter()
        answered, pooled_candidates = bench.run_pair(task, seed)
        rows.extend(answered)
        pools.extend(pooled_candidates)
        print(f"slice {index}/{count} seed {seed} {task.id} {time.perf_counter() - started:.1f}s", flush=True)
        meta["load_average_now"] = os.getloadavg()
        partial = path.with_suffix(".part")
        partial.write_text(json.dumps({"meta": meta, "rows": rows, "pools": pools}) + "\n")
        partial.replace(path)
    return path


def whole_tasks(rows: list[dict], seeds: list[int]) -> tuple[list[dict], list[str]]:
    """The rows of the tasks answered under every seed, and the ids of those left out (a run stopped early)."""
    seen: dict[str, set[int]] = {}
    for row in rows:
        seen.setdefault(row["task_id"], set()).add(row["seed"])
    partial = sorted(task for task, got in seen.items() if not set(seeds) <= got)
    return [r for r in rows if r["task_id"] not in partial], partial


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=40)
    parser.add_argument("--skip-tasks", type=int, default=0,
                        help="start after this many held-out tasks (dev tasks for choosing a rule: skip the test ones)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--sft-steps", type=int, nargs="+", default=[16, 32, 96], help="SFT steps at each budget")
    parser.add_argument("--rl-steps", type=int, nargs="+", default=[1, 2, 4], help="DAPO steps at each budget")
    parser.add_argument("--sft-lr", type=float, default=None, help="default: eval's, for the weights that train")
    parser.add_argument("--sft-batch", type=int, default=None)
    parser.add_argument("--sft-augment", default=None)
    parser.add_argument("--sft-repeat-examples", action=argparse.BooleanOptionalAction, default=None,
                        help="default: eval's (SftSettings.repeat_examples)")
    parser.add_argument("--rl-lr", type=float, default=None, help="default: eval's, for the weights that train")
    parser.add_argument("--skip-sft-rl", action="store_true", help="leave out the sft+rl arm (time)")
    parser.add_argument("--skip-rl", action="store_true", help="leave out the rl arm (time; implies --skip-sft-rl)")
    parser.add_argument("--eval-augment", default="dihedral", help="the answers' views (eval's --augment)")
    parser.add_argument("--weights", default="auto", help="auto | lora | full (eval's --test-time-weights)")
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--default-mode", default="sft pooled", help="the mode pass_at_2_after reports")
    parser.add_argument("--pool-rule", default="pool logprob base+tuned", choices=list(RULES),
                        help="how the sft pooled arm picks (benchmarks/test_time_selection.py)")
    parser.add_argument("--default-budget", type=int, default=2, help="the budget pass_at_2_after reports (1-based)")
    parser.add_argument("--jobs", type=int, default=1, help="slices at a time, one process and torch thread each")
    parser.add_argument("--slice", help="I/N: run only the I-th of N slices of the (seed, task) pairs")
    parser.add_argument("--job-out", type=Path, help="folder of slice files")
    parser.add_argument("--merge", type=Path, help="only merge the slice files in this folder")
    parser.add_argument("--ran", help="with --merge: the command that made the slices (kept as run_command)")
    parser.add_argument("--out", type=Path, help="the results JSON (default benchmarks/results/test_time_modes_DATE.json)")
    parser.add_argument("--machine", default=f"{platform.machine()} CPU, one torch thread per slice")
    args = parser.parse_args()
    from arc_console.evaluation.test_time_settings import SftSettings

    defaults = SftSettings()
    args.sft_batch = args.sft_batch or defaults.batch
    args.sft_augment = args.sft_augment or defaults.augment
    args.sft_repeat_examples = defaults.repeat_examples if args.sft_repeat_examples is None else args.sft_repeat_examples
    if len(args.sft_steps) != len(args.rl_steps):
        parser.error("--sft-steps and --rl-steps need one value per budget")
    out = args.out or RESULTS / f"test_time_modes_{date.today().isoformat()}.json"
    if args.slice:
        if args.job_out is None:
            parser.error("--slice needs --job-out")
        print(f"wrote {run_slice(args)}")
        return 0
    if args.merge is None:
        work = args.job_out or Path(tempfile.mkdtemp(prefix="test-time-modes-"))
        count = max(1, args.jobs)
        passed = [a for a in sys.argv[1:]]
        commands = [[sys.executable, __file__, *passed, "--slice", f"{i}/{count}", "--job-out", str(work)]
                    for i in range(1, count + 1)]
        with ThreadPoolExecutor(count) as pool:
            codes = list(pool.map(lambda command: subprocess.run(command).returncode, commands))
        if any(codes):
            print(f"{codes.count(0)}/{count} slices finished; slice files in {work}", file=sys.stderr)
            return 1
        args.merge = work
    result = merge(args.merge, out, args)
    print(json.dumps({k: result[k] for k in ("tasks", "seeds", "pass_at_2_before", "pass_at_2_after")}))
    for row in result["rows"]:
        print(f"{row['mode']:<7} budget {row['budget']} sft {row['sft_steps']:>3} rl {row['rl_steps']} "
              f"pass@2 {row['pass_at_2_mean']:.3f} ±{row['pass_at_2_stdev']:.3f} pass@1 {row['pass_at_1_mean']:.3f} "
              f"oracle {row['oracle_mean']:.3f} {row['seconds_per_task']:.1f}s/task")
    for row in result["selection"]:
        print(f"select sft {row['sft_steps']:>3} {row['rule']:<24} pass@2 {row['pass_at_2_mean']:.3f} "
              f"±{row['pass_at_2_stdev']:.3f} {row['pass_at_2_per_seed']} vs plain +{row['gained_vs_plain']} "
              f"-{row['lost_vs_plain']}")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
