"""A step's numbers under the names TRL's GRPOTrainer logs them, plus arc-console's own.

Pure functions of a StepFinished's metrics line and step record, so every backend logs the same set.
"""

from __future__ import annotations

import math
import statistics
from typing import Any

from arc_console.arc.candidates import best_candidate

# metrics.jsonl key -> the name TRL's GRPOTrainer (or transformers' Trainer) logs the same quantity under
TRL_NAMES = {
    "reward_mean": "reward",
    "entropy": "entropy",
    "loss": "loss",
    "grad_norm": "grad_norm",
    "lr": "learning_rate",
    "step_time_s": "step_time",
    "clip_fraction": "clip_ratio/region_mean",
    "clip_low_fraction": "clip_ratio/low_mean",
    "clip_high_fraction": "clip_ratio/high_mean",
    "frac_reward_zero_std": "frac_reward_zero_std",  # when the trainer computes it (on task rewards), it wins
}
# Ours, where TRL has no counterpart.
OWN_NAMES = {
    "best_accuracy": "arc/best_accuracy",
    "mean_accuracy": "arc/mean_accuracy",
    "worst_accuracy": "arc/worst_accuracy",
    "perfect": "arc/perfect",
    "perfect_problems": "arc/perfect_problems",
    "grids": "arc/grids",
    "skipped_groups": "arc/skipped_groups",
    "tokens_per_s": "perf/tokens_per_s",
    "generate_s": "perf/generate_time",
    "gpu_peak_gb": "perf/gpu_peak_gb",
    "approx_kl": "policy/approx_kl",
    "ratio_mean": "policy/ratio_mean",
}


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)) and math.isfinite(value):
        return float(value)
    return None


def _groups(record: dict[str, Any]) -> list[list[dict[str, Any]]]:
    """Every group of candidates the step rolled out: the head problem's and any extra draws'."""
    groups = [record.get("candidates") or []]
    for extra in record.get("extra_groups") or []:
        if isinstance(extra, dict):
            groups.append(extra.get("candidates") or [])
    return [g for g in groups if g]


def completion_scalars(record: dict[str, Any]) -> dict[str, float]:
    """TRL's completion and reward-spread statistics, from the candidates of a step record."""
    groups = _groups(record)
    candidates = [c for g in groups for c in g]
    lengths = [c["tokens"] for c in candidates if isinstance(c.get("tokens"), int)]
    out: dict[str, float] = {}
    if lengths:
        out["completions/mean_length"] = sum(lengths) / len(lengths)
        out["completions/min_length"] = float(min(lengths))
        out["completions/max_length"] = float(max(lengths))
    truncated = [bool(c["truncated"]) for c in candidates if "truncated" in c]
    if truncated:
        out["completions/clipped_ratio"] = sum(truncated) / len(truncated)
    rewarded = [[float(c["reward"]) for c in g if _number(c.get("reward")) is not None] for g in groups]
    rewarded = [r for r in rewarded if len(r) >= 2]
    if rewarded:
        # TRL: the per-group (sample) standard deviation, averaged; a group counts as zero-spread when all agree.
        spreads = [statistics.stdev(r) for r in rewarded]
        out["reward_std"] = sum(spreads) / len(spreads)
        out["frac_reward_zero_std"] = sum(math.isclose(s, 0.0, abs_tol=1e-8) for s in spreads) / len(spreads)
    return out


def step_scalars(metrics: dict[str, Any], record: dict[str, Any]) -> dict[str, float]:
    """Every number worth a chart for one step, named as described above. Missing or None values are left out."""
    out = completion_scalars(record)
    for key, name in {**TRL_NAMES, **OWN_NAMES}.items():
        value = _number(metrics.get(key))
        if value is not None:
            out[name] = value
    return out


def best_candidate_text(record: dict[str, Any]) -> str:
    """The best candidate of a step as plain text: a heading line, then its response verbatim."""
    best = best_candidate(record.get("candidates") or [])
    if best is None:
        return f"step {record.get('step', '?')}: no candidates"
    heading = (f"step {record.get('step', '?')} problem {record.get('problem_id', '?')} candidate "
               f"{best.get('candidate_id', '?')} accuracy {float(best.get('accuracy', 0.0)):.3f}"
               f"{' perfect' if best.get('perfect_match') else ''}")
    return heading + "\n" + str(best.get("response_text", ""))


def eval_scalars(row: dict[str, Any]) -> dict[str, float]:
    """A line of logs/eval.jsonl as eval/<name> scalars (every finite number but the step)."""
    return {f"eval/{key}": value for key, raw in row.items()
            if key != "step" and (value := _number(raw)) is not None and not isinstance(raw, bool)}
