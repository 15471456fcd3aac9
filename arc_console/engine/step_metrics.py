"""One step's metrics.jsonl line, computed from its groups by a pure function (as verl's compute_data_metrics).

Accuracy figures describe the step's first group (the one its step file and the dashboard show);
reward, length and sampling figures describe every group drawn.
"""

from __future__ import annotations

from statistics import fmean, pstdev
from typing import Any

from arc_console.engine.objective_registry import is_informative
from arc_console.engine.step_groups import Group


def sampling_metrics(groups: list[Group], kept: list[Group]) -> dict[str, Any]:
    rewards = [r for g in groups for r in g.rewards]
    candidates = [c for g in groups for c in g.candidates]
    return {
        "reward_mean": fmean(rewards),
        "reward_std": pstdev(rewards),
        "groups_drawn": len(groups),
        "groups_kept": len(kept),
        "skipped_groups": len(groups) - len(kept),
        "groups": len(groups),
        # TRL's frac_reward_zero_std: groups whose trained rewards are all equal (zero advantage).
        "frac_reward_zero_std": sum(not is_informative(g.rewards) for g in groups) / len(groups),
        "completion_length_mean": fmean(c["tokens"] for c in candidates),
        "truncated_fraction": sum(bool(c["truncated"]) for c in candidates) / len(candidates),
    }


def step_metrics(step: int, groups: list[Group], kept: list[Group], update: dict[str, Any],
                 perfect_problems: int, tokens: int, phase_seconds: dict[str, float], step_seconds: float,
                 lr: float, gpu_peak_gb: float | None, timestamp: str) -> dict[str, Any]:
    head = groups[0]
    accuracies = head.accuracies
    rollout_seconds = phase_seconds.get("time_rollout_s", 0.0)
    return {
        "step": step,
        "problem_id": head.problem.task.id,
        "best_accuracy": max(accuracies),
        "mean_accuracy": sum(accuracies) / len(accuracies),
        "worst_accuracy": min(accuracies),
        "perfect": any(c["perfect_match"] for c in head.candidates),
        "perfect_problems": perfect_problems,
        "grids": sum(c["has_grid"] for c in head.candidates),
        **sampling_metrics(groups, kept),
        "loss": update.get("loss"),
        "grad_norm": update.get("grad_norm"),
        "clip_fraction": update.get("clip_fraction"),
        "clip_low_fraction": update.get("clip_low_fraction"),
        "clip_high_fraction": update.get("clip_high_fraction"),
        "ratio_mean": update.get("ratio_mean"),
        "approx_kl": update.get("approx_kl"),
        "entropy": update.get("entropy"),
        "tokens_generated": tokens,
        "tokens_per_s": tokens / rollout_seconds if rollout_seconds > 0 else 0.0,
        "generate_s": rollout_seconds,
        **phase_seconds,
        "step_time_s": step_seconds,
        "lr": lr,
        "gpu_peak_gb": gpu_peak_gb,
        "timestamp": timestamp,
    }


def step_summary(metrics: dict[str, Any], groups: list[Group], kept: list[Group]) -> str:
    """The step's line in training.log."""
    head = groups[0]
    loss_text = (f"loss {metrics['loss']:.4f} grad norm {metrics['grad_norm']:.2f}" if metrics["loss"] is not None
                 else "no update")
    draws_text = f" groups {len(kept)}/{len(groups)} kept" if len(groups) > 1 else ""
    return (f"step {metrics['step']} problem {head.problem.task.id} best {metrics['best_accuracy']:.2f} "
            f"mean {metrics['mean_accuracy']:.2f} reward {metrics['reward_mean']:+.3f} {loss_text} "
            f"grids {metrics['grids']}/{len(head.accuracies)}{draws_text} {metrics['tokens_per_s']:.0f} tok/s "
            f"{metrics['step_time_s']:.1f}s")
