"""Issue 32: where does a DAPO run's gain on its training tasks go? Memorised answers or a learned rule?

    python benchmarks/transfer_check.py MODEL ... [--families colour_map shift_right rotate90] [--per-family 10]
                                        [--samples 16] [--out FILE]

For each MODEL ('tiny', a run directory, a checkpoint: anything `eval --model` takes), samples --samples
answers (temperature 0.7, no views, the eval's own sampling: evaluation/solver.py) to the test input of
three sets of synthetic tasks of the same families, all made by the same generator with the same sizes and
train pairs as the `synthetic` / `synthetic-heldout` sources:
  trained   the training split's tasks 0 .. per-family-1: the 120 `synthetic` tasks a generalise.py run
            draws again and again
  fresh     the training split's tasks 1000 .. 1000+per-family-1: the same random stream, never trained on by RL
  heldout   `synthetic-heldout` (its own random stream), the tasks generalise.py scores
and writes the share of exactly right samples per set and family. A rise on `trained` alone is the run
remembering its training tasks' answers; a rise on `fresh` too is a rule learned that the held-out set
should show as well.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from datetime import datetime
from pathlib import Path

FRESH_START = 1000  # train-split task indices from here on are never among the 120 `synthetic` tasks


def task_sets(families: list[str], per_family: int) -> dict[str, list]:
    from arc_console.arc.synthetic import make_task

    shape = {"max_side": 4, "train_pairs": 2}  # what arc/tasks.py's synthetic sources use
    return {
        "trained": [make_task(f, i, "train", **shape) for i in range(per_family) for f in families],
        "fresh": [make_task(f, FRESH_START + i, "train", **shape) for i in range(per_family) for f in families],
        "heldout": [make_task(f, i, "heldout", **shape) for i in range(per_family) for f in families],
    }


def exact_share(model: str, sets: dict[str, list], samples: int, seed: int) -> dict:
    """Per set and family: exactly right samples / samples, and tasks with at least one right sample."""
    import torch

    from arc_console.evaluation.model import load_eval_model
    from arc_console.evaluation.settings import EvalSettings
    from arc_console.evaluation.solver import sample_task

    torch.set_num_threads(1)
    engine, described = load_eval_model(model)
    settings = EvalSettings(augment="none", samples=samples, seed=seed)
    out: dict = {"model": described}
    for name, tasks in sets.items():
        families: dict[str, dict] = {}
        for task in tasks:
            test = sample_task(task, engine, settings).tests[0]
            right = sum(1 for grid in test.view_grids[0] if grid == test.target)
            row = families.setdefault(task.id.split("-")[2], {"right": 0, "samples": 0, "tasks_any_right": 0})
            row["right"] += right
            row["samples"] += samples
            row["tasks_any_right"] += int(right > 0)
        total_right = sum(r["right"] for r in families.values())
        total = sum(r["samples"] for r in families.values())
        out[name] = {"exact_share": round(total_right / total, 4), "per_family": families}
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+")
    parser.add_argument("--families", nargs="+", default=["colour_map", "shift_right", "rotate90", "mirror_extend"])
    parser.add_argument("--per-family", type=int, default=10)
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    sets = task_sets(args.families, args.per_family)
    started = time.perf_counter()
    rows = []
    for model in args.models:
        rows.append(exact_share(model, sets, args.samples, args.seed))
        print(json.dumps({"model": model, **{k: rows[-1][k]["exact_share"] for k in sets}}), flush=True)
    result = {"command": "python " + " ".join(["benchmarks/transfer_check.py", *sys.argv[1:]]),
              "machine": f"{platform.machine()} CPU, one torch thread",
              "date": datetime.now().isoformat(timespec="seconds"),
              "seconds": round(time.perf_counter() - started, 1), "samples": args.samples, "families": args.families,
              "per_family": args.per_family, "models": dict(zip(args.models, rows))}
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
