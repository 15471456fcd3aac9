"""Score a predicted grid against the target with the seed's four measures."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from arc_console.arc.grids import Grid


@dataclass(frozen=True)
class GridScore:
    accuracy: float
    has_grid: bool
    correct_size: bool
    perfect_match: bool

    def __getitem__(self, key: str) -> float | bool:
        return getattr(self, key)

    def as_dict(self) -> dict[str, float | bool]:
        return asdict(self)


def score_grid(predicted: Grid | None, target: Grid) -> GridScore:
    """Pixel accuracy over the union of both shapes, so missing and extra cells both count against.

    accuracy = equal cells at the same position / (max height x max width); it is 1.0 exactly
    when the prediction is a perfect match. No grid scores 0.0 with every flag false.
    """
    if not predicted or not predicted[0]:
        return GridScore(0.0, False, False, False)
    height = max(len(predicted), len(target))
    width = max(len(predicted[0]), len(target[0]))
    equal = sum(
        1
        for p_row, t_row in zip(predicted, target)
        for p_cell, t_cell in zip(p_row, t_row)
        if p_cell == t_cell
    )
    correct_size = len(predicted) == len(target) and len(predicted[0]) == len(target[0])
    accuracy = equal / (height * width)
    perfect = correct_size and equal == height * width
    return GridScore(1.0 if perfect else accuracy, True, correct_size, perfect)
