"""The modes benchmark's table and plot: per mode and budget, pass@2 / pass@1 / oracle over seeds with the spread,
and seconds per task (benchmarks/test_time_modes.py writes them)."""

from __future__ import annotations

import statistics
from pathlib import Path

from test_time_selection import task_score

MODES = ("plain", "sft", "rl", "sft+rl", "sft pooled")


def pooled_rows(pools: list[dict], rule: str) -> list[dict]:
    """The `sft pooled` arm's per-task rows: the pool of the base and the tuned model's candidates, ranked by
    `rule` (eval's --test-time-pool both picks with it; tests/evaluation check the two agree)."""
    return [{"task_id": p["task_id"], "seed": p["seed"], "mode": "sft pooled", "budget": p["budget"],
             "sft_steps": p["sft_steps"], "rl_steps": 0, "pass_at_2": task_score(p["tests"], rule),
             "pass_at_1": task_score(p["tests"], rule, tries=1), "oracle": task_score(p["tests"], "oracle"),
             "seconds": p["seconds"]} for p in pools]


def summarise(rows: list[dict], seeds: list[int], sft_budgets: list[int], rl_budgets: list[int]) -> list[dict]:
    table = []
    arms = [("plain", 0)] + [(mode, b) for mode in MODES[1:] for b in range(1, len(sft_budgets) + 1)]
    for mode, budget in arms:
        mine = [r for r in rows if r["mode"] == mode and r["budget"] == budget]
        if not mine:
            continue
        per_seed = {key: [statistics.mean(r[key] for r in mine if r["seed"] == s) for s in seeds
                          if any(r["seed"] == s for r in mine)] for key in ("pass_at_2", "pass_at_1", "oracle")}
        table.append({"mode": mode, "budget": budget, "sft_steps": mine[0]["sft_steps"], "rl_steps": mine[0]["rl_steps"],
                      "tasks_per_seed": len(mine) // max(1, len(per_seed["pass_at_2"])),
                      **{f"{key}_mean": round(statistics.mean(v), 4) for key, v in per_seed.items()},
                      "pass_at_2_per_seed": [round(v, 4) for v in per_seed["pass_at_2"]],
                      "pass_at_2_stdev": round(statistics.pstdev(per_seed["pass_at_2"]), 4),
                      "seconds_per_task": round(statistics.mean(r["seconds"] for r in mine), 2)})
    return table


def plot(table: list[dict], path: Path, title: str) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    budgets = sorted({row["budget"] for row in table if row["budget"]})
    width = 0.8 / len(MODES)
    colours = dict(zip(MODES, ("tab:gray", "tab:blue", "tab:orange", "tab:green", "tab:red")))
    plain = next((row for row in table if row["mode"] == "plain"), None)
    for index, mode in enumerate(MODES):
        mine = {row["budget"]: row for row in table if row["mode"] == mode}
        xs = [b + (index - (len(MODES) - 1) / 2) * width for b in budgets]
        source = [plain if mode == "plain" else mine.get(b) for b in budgets]
        if not any(source):
            continue
        left.bar(xs, [r["pass_at_2_mean"] if r else 0 for r in source], width, color=colours[mode], label=mode,
                 yerr=[r["pass_at_2_stdev"] if r else 0 for r in source], capsize=3)
        left.scatter([x for x, r in zip(xs, source) if r], [r["oracle_mean"] for r in source if r], marker="_",
                     s=120, color="black", label="oracle (a right candidate anywhere)" if index == 0 else None,
                     zorder=3)
        right.bar(xs, [r["seconds_per_task"] if r else 0 for r in source], width, color=colours[mode], label=mode)
    labels = [" / ".join(f"{r['mode']} {r['sft_steps'] or r['rl_steps']}" for r in table if r["budget"] == b
                         and r["mode"] in ("sft", "rl")) for b in budgets]
    for axis, name in ((left, "held-out pass@2 (mean over seeds, error bars: spread)"), (right, "seconds per task")):
        axis.set_xticks(budgets, [f"budget {b}\n{label}" for b, label in zip(budgets, labels)], fontsize=8)
        axis.set_ylabel(name)
    left.set_ylim(0, 1.05)
    left.legend(fontsize=8, loc="upper left")
    figure.suptitle(title, fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    return True
