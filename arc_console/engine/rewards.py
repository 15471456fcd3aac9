"""Rewards: pixel accuracy plus configurable shaping, and DAPO's soft overlong punishment."""

from __future__ import annotations

from dataclasses import dataclass

from arc_console.arc.score import GridScore


@dataclass(frozen=True)
class RewardWeights:
    size_bonus: float = 0.1
    perfect_bonus: float = 0.5
    no_grid_penalty: float = 0.1


def grid_reward(score: GridScore, weights: RewardWeights) -> float:
    reward = score.accuracy
    if score.correct_size:
        reward += weights.size_bonus
    if score.perfect_match:
        reward += weights.perfect_bonus
    if not score.has_grid:
        reward -= weights.no_grid_penalty
    return reward


def overlong_penalty(length: int, max_length: int, buffer: int) -> float:
    """DAPO eq. 13: 0 up to max - buffer tokens, then a linear ramp down to -1 at max_length."""
    if buffer <= 0:
        return 0.0
    expected = max_length - buffer
    if length <= expected:
        return 0.0
    if length <= max_length:
        return (expected - length) / buffer
    return -1.0
