"""Views of an ARC task: the 8 dihedral transforms and colour permutations (0 kept), each invertible.

A view transforms every grid of a task the same way; an answer given under the view is mapped
back to the task's own frame by `View.invert`. Pure Python, no torch.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from arc_console.arc.grids import Grid
from arc_console.arc.seeds import derived_rng
from arc_console.arc.task import Pair, Task

# identity, the three rotations (clockwise), the two flips, the two transposes
DIHEDRAL = ("identity", "rot90", "rot180", "rot270", "flip_h", "flip_v", "transpose", "anti_transpose")
_INVERSE = {"identity": "identity", "rot90": "rot270", "rot180": "rot180", "rot270": "rot90",
            "flip_h": "flip_h", "flip_v": "flip_v", "transpose": "transpose", "anti_transpose": "anti_transpose"}
AUGMENTATIONS = ("none", "dihedral", "dihedral+colors")
IDENTITY_COLORS = tuple(range(10))


def _transpose(grid: Grid) -> Grid:
    return [list(column) for column in zip(*grid)]


def transform_grid(grid: Grid, name: str) -> Grid:
    """`grid` under the dihedral transform `name` (flip_h mirrors left-right, flip_v top-bottom)."""
    if name == "identity":
        return [list(row) for row in grid]
    if name == "rot90":
        return [list(row) for row in zip(*grid[::-1])]
    if name == "rot180":
        return [list(row[::-1]) for row in grid[::-1]]
    if name == "rot270":
        return [list(row) for row in zip(*grid)][::-1]
    if name == "flip_h":
        return [list(row[::-1]) for row in grid]
    if name == "flip_v":
        return [list(row) for row in grid[::-1]]
    if name == "transpose":
        return _transpose(grid)
    if name == "anti_transpose":
        return transform_grid(_transpose(grid), "rot180")
    raise ValueError(f"unknown dihedral transform {name!r}")


def inverse_transform(name: str) -> str:
    return _INVERSE[name]


def permute_colors(grid: Grid, mapping: tuple[int, ...]) -> Grid:
    return [[mapping[cell] for cell in row] for row in grid]


def invert_mapping(mapping: tuple[int, ...]) -> tuple[int, ...]:
    inverse = [0] * len(mapping)
    for colour, image in enumerate(mapping):
        inverse[image] = colour
    return tuple(inverse)


@dataclass(frozen=True)
class View:
    """One way of showing a task: a dihedral transform, then a colour mapping (colour c -> colors[c])."""

    dihedral: str = "identity"
    colors: tuple[int, ...] = IDENTITY_COLORS

    def apply(self, grid: Grid) -> Grid:
        return permute_colors(transform_grid(grid, self.dihedral), self.colors)

    def invert(self, grid: Grid) -> Grid:
        """An answer given under this view, in the task's own frame."""
        return transform_grid(permute_colors(grid, invert_mapping(self.colors)), inverse_transform(self.dihedral))

    def apply_pair(self, pair: Pair) -> Pair:
        return Pair(self.apply(pair.input), None if pair.output is None else self.apply(pair.output))

    def apply_task(self, task: Task) -> Task:
        """Every train and test grid of `task` under this view (same id and source)."""
        return Task(task.id, [self.apply_pair(p) for p in task.train], [self.apply_pair(p) for p in task.test],
                    task.source)

    @property
    def is_identity(self) -> bool:
        return self.dihedral == "identity" and self.colors == IDENTITY_COLORS

    def describe(self) -> str:
        if self.colors == IDENTITY_COLORS:
            return self.dihedral
        return f"{self.dihedral} colours {''.join(str(c) for c in self.colors[1:])}"

    def to_dict(self) -> dict[str, object]:
        return {"dihedral": self.dihedral, "colors": list(self.colors)}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> View:
        return cls(str(data["dihedral"]), tuple(int(c) for c in data["colors"]))  # type: ignore[union-attr]


def random_colors(rng: random.Random) -> tuple[int, ...]:
    """A permutation of colours 1-9; 0, the background, stays 0."""
    rest = list(range(1, 10))
    rng.shuffle(rest)
    return (0, *rest)


def task_views(augment: str, seed: int = 0, task_id: str = "") -> list[View]:
    """The views an evaluation shows a task: the task itself first, then the other transforms.

    With colours, every view but the first also permutes colours 1-9, drawn from (seed, task id),
    so a run is reproducible and each task gets its own permutations.
    """
    if augment == "none":
        return [View()]
    if augment == "dihedral":
        return [View(name) for name in DIHEDRAL]
    if augment == "dihedral+colors":
        rng = derived_rng(seed, task_id)
        return [View()] + [View(name, random_colors(rng)) for name in DIHEDRAL[1:]]
    raise ValueError(f"unknown augmentation {augment!r} (known: {', '.join(AUGMENTATIONS)})")


def random_view(augment: str, rng: random.Random) -> View:
    """One view drawn from `rng`: for training, where each step sees its problem under a random view."""
    if augment == "none":
        return View()
    dihedral = rng.choice(DIHEDRAL)
    if augment == "dihedral":
        return View(dihedral)
    if augment == "dihedral+colors":
        return View(dihedral, random_colors(rng))
    raise ValueError(f"unknown augmentation {augment!r} (known: {', '.join(AUGMENTATIONS)})")
