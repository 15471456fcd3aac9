"""What a training run's update was made of, from its own files (logs/responses/step_*.json, logs/metrics.jsonl),
in the run's first and second half: how often a sampled group held a perfect answer, how many groups DAPO's
dynamic sampling kept (rewards not all equal) and how many of those held a perfect answer (the rest differ
only by partial credit, grid size, a missing grid or length), the policy's entropy and the truncated share;
and, for the training tasks drawn more than once, the perfect answers at a task's first draw and at its last
(the same problem again: what the run learnt of it, whether or not that carries to other tasks).

    python benchmarks/training_signal.py RUN_DIR ...   # prints one JSON object per run

benchmarks/generalise.py adds it to every job it merges (key `training_signal`) and sums it per variant.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

COUNTS = ("steps", "steps_updated", "head_perfect_steps", "groups_drawn", "groups_with_perfect", "groups_kept",
          "kept_groups_with_perfect", "candidates", "perfect_candidates")
MEANS = ("entropy", "truncated_fraction")


def _groups(record: dict) -> list[dict]:
    return [record, *record.get("extra_groups", [])]


def _half(records: list[dict], metrics: list[dict]) -> dict:
    row: dict = {key: 0 for key in COUNTS}
    for record in records:
        groups = _groups(record)
        perfect = [any(c["perfect_match"] for c in g["candidates"]) for g in groups]
        kept = [not g.get("skipped", False) for g in groups]
        row["steps"] += 1
        row["head_perfect_steps"] += perfect[0]
        row["groups_drawn"] += len(groups)
        row["groups_with_perfect"] += sum(perfect)
        row["groups_kept"] += sum(kept)
        row["kept_groups_with_perfect"] += sum(p and k for p, k in zip(perfect, kept))
        row["candidates"] += sum(len(g["candidates"]) for g in groups)
        row["perfect_candidates"] += sum(c["perfect_match"] for g in groups for c in g["candidates"])
    row["steps_updated"] = sum(m.get("loss") is not None for m in metrics)
    for key in MEANS:
        values = [m[key] for m in metrics if m.get(key) is not None]
        row[key] = round(statistics.mean(values), 4) if values else None
    return row


def _revisits(records: list[dict]) -> dict:
    draws: dict[str, list[int]] = {}
    for record in records:
        for group in _groups(record):
            draws.setdefault(group["problem_id"], []).append(sum(c["perfect_match"] for c in group["candidates"]))
    again = [counts for counts in draws.values() if len(counts) > 1]
    return {"tasks_drawn": len(draws), "tasks_drawn_again": len(again),
            "perfect_candidates_first_draw": sum(c[0] for c in again),
            "perfect_candidates_last_draw": sum(c[-1] for c in again)}


def training_signal(run_dir: Path) -> dict | None:
    """{"first_half": {...}, "second_half": {...}, "revisits": {...}} for one run directory (None without step
    files). A step's groups are its first problem's and the extra draws; `skipped` marks a group whose rewards
    were all equal."""
    steps = sorted((run_dir / "logs/responses").glob("step_*.json"))
    metrics_file = run_dir / "logs/metrics.jsonl"
    if not steps or not metrics_file.exists():
        return None
    records = [json.loads(path.read_text()) for path in steps]
    metrics = {m["step"]: m for m in map(json.loads, metrics_file.read_text().splitlines()) if m.get("step")}
    middle = len(records) // 2
    halves = {"first_half": records[:middle], "second_half": records[middle:]}
    signal = {name: _half(part, [metrics[r["step"]] for r in part if r["step"] in metrics])
              for name, part in halves.items()}
    return {**signal, "revisits": _revisits(records)}


def summed(signals: list[dict | None]) -> dict | None:
    """The counts summed over runs (seeds), the means averaged."""
    present = [s for s in signals if s]
    if not present:
        return None
    total: dict = {}
    for half in ("first_half", "second_half"):
        rows = [s[half] for s in present]
        total[half] = {key: sum(r[key] for r in rows) for key in COUNTS}
        for key in MEANS:
            values = [r[key] for r in rows if r[key] is not None]
            total[half][key] = round(statistics.mean(values), 4) if values else None
    total["revisits"] = {key: sum(s["revisits"][key] for s in present) for key in present[0]["revisits"]}
    return total


if __name__ == "__main__":
    for folder in sys.argv[1:]:
        print(json.dumps({"run": folder, **(training_signal(Path(folder)) or {})}))
