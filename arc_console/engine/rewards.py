"""Rewards: an accuracy term chosen by name (--reward), configurable shaping, and DAPO's soft overlong punishment.

The accuracy term is what the policy is pushed towards, so it should not pay for what a trivial grid
gets right. `pixel` (the seed's) counts every cell of the target, background included: an all-black
grid scores 0.67 on a flip task whose cells are two thirds black. `changed` counts only the cells the
task changes (target cells that differ from the test input at the same position), `foreground` only
the cells that are not background (colour 0) in the target or the prediction. All three give 1.0 to a
perfect match, and fall back to `pixel` where their set of cells is empty (an identity task; an
all-black target). `exact` pays only a perfect match (1.0, else 0.0), ARC's own scoring: no credit for a
near miss, so sharpening the policy can only favour exact answers (the shaping terms still apply).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from arc_console.arc.grids import Grid
from arc_console.arc.score import GridScore

BACKGROUND = 0


@dataclass(frozen=True)
class RewardWeights:
    size_bonus: float = 0.1
    perfect_bonus: float = 0.5
    no_grid_penalty: float = 0.1


def _cell(grid: Grid | None, row: int, column: int) -> int | None:
    if grid is None or row >= len(grid) or column >= len(grid[row]):
        return None
    return grid[row][column]


def pixel_accuracy(predicted: Grid | None, target: Grid, test_input: Grid, score: GridScore) -> float:
    """The seed's: equal cells over the union of both shapes."""
    return score.accuracy


def changed_cells_accuracy(predicted: Grid | None, target: Grid, test_input: Grid, score: GridScore) -> float:
    """Share of the cells the task changes that the prediction gets right. Where the output's shape
    differs from the input's, every target cell counts as changed."""
    if score.perfect_match or not score.has_grid:
        return score.accuracy
    same_shape = len(test_input) == len(target) and all(len(a) == len(b) for a, b in zip(test_input, target))
    cells = [(r, c) for r, row in enumerate(target) for c, value in enumerate(row)
             if not same_shape or test_input[r][c] != value]
    if not cells:
        return score.accuracy
    return sum(_cell(predicted, r, c) == target[r][c] for r, c in cells) / len(cells)


def foreground_accuracy(predicted: Grid | None, target: Grid, test_input: Grid, score: GridScore) -> float:
    """Equal cells among those that are not background in the target or in the prediction (an IoU of
    the coloured cells): an all-background grid scores 0, painting everything is penalised too."""
    if score.perfect_match or not score.has_grid or predicted is None:
        return score.accuracy
    height = max(len(predicted), len(target))
    width = max(len(predicted[0]), len(target[0]))
    cells = [(r, c) for r in range(height) for c in range(width)
             if _cell(target, r, c) not in (None, BACKGROUND) or _cell(predicted, r, c) not in (None, BACKGROUND)]
    if not cells:
        return score.accuracy
    return sum(_cell(predicted, r, c) == _cell(target, r, c) for r, c in cells) / len(cells)


def exact_accuracy(predicted: Grid | None, target: Grid, test_input: Grid, score: GridScore) -> float:
    """ARC's scoring: 1.0 for a perfect match (right size, every cell equal), else 0.0."""
    return 1.0 if score.perfect_match else 0.0


AccuracyTerm = Callable[[Grid | None, Grid, Grid, GridScore], float]
REWARD_VARIANTS: dict[str, AccuracyTerm] = {
    "pixel": pixel_accuracy,
    "changed": changed_cells_accuracy,
    "foreground": foreground_accuracy,
    "exact": exact_accuracy,
}


def reward_accuracy(name: str, predicted: Grid | None, target: Grid, test_input: Grid, score: GridScore) -> float:
    """The accuracy term of reward variant `name` (a key of REWARD_VARIANTS), for the trainer and for evaluation."""
    try:
        term = REWARD_VARIANTS[name]
    except KeyError:
        raise ValueError(f"unknown reward {name!r} (known: {', '.join(REWARD_VARIANTS)})") from None
    return term(predicted, target, test_input, score)


def grid_reward(score: GridScore, weights: RewardWeights, accuracy: float | None = None) -> float:
    """The task reward: the accuracy term (pixel accuracy unless given) plus the shaping terms."""
    reward = score.accuracy if accuracy is None else accuracy
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
