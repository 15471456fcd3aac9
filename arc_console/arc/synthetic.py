"""Small ARC-like tasks from seeded generators: 12 families of transformations on 3x3 to 8x8 grids.

Tasks come in the ARC JSON form ({"train": [...], "test": [...]}) and as Task objects. The
held-out split draws from a different random stream, so no held-out grid is a training grid
by construction of the seeds (collisions of tiny grids are possible and harmless).
"""

from __future__ import annotations

import random
from collections.abc import Callable

from arc_console.arc.grids import Grid
from arc_console.arc.task import Task, validate_task

Transform = Callable[[Grid], Grid]


def _flip_h(g: Grid) -> Grid:
    return [row[::-1] for row in g]


def _flip_v(g: Grid) -> Grid:
    return g[::-1]


def _rotate90(g: Grid) -> Grid:
    return [list(row) for row in zip(*g[::-1])]


def _rotate180(g: Grid) -> Grid:
    return [row[::-1] for row in g[::-1]]


def _transpose(g: Grid) -> Grid:
    return [list(row) for row in zip(*g)]


def _gravity(g: Grid) -> Grid:
    """Every non-zero cell falls to the bottom of its column."""
    h, w = len(g), len(g[0])
    out = [[0] * w for _ in range(h)]
    for c in range(w):
        column = [g[r][c] for r in range(h) if g[r][c]]
        for i, value in enumerate(reversed(column)):
            out[h - 1 - i][c] = value
    return out


def _scale2(g: Grid) -> Grid:
    return [[cell for cell in row for _ in range(2)] for row in g for _ in range(2)]


def _shift_right(g: Grid) -> Grid:
    return [[row[-1]] + row[:-1] for row in g]


def _mirror_extend(g: Grid) -> Grid:
    """The grid followed by its mirror image: width doubles."""
    return [row + row[::-1] for row in g]


def _random_grid(rng: random.Random, h: int, w: int, density: float = 0.5, colours: int = 9) -> Grid:
    palette = rng.sample(range(1, 10), k=min(colours, 9))
    return [[rng.choice(palette) if rng.random() < density else 0 for _ in range(w)] for _ in range(h)]


def _colour_map_factory(rng: random.Random) -> Transform:
    source = rng.sample(range(1, 10), 3)
    target = rng.sample(range(1, 10), 3)
    mapping = dict(zip(source, target))
    return lambda g: [[mapping.get(c, c) for c in row] for row in g]


def _border_factory(rng: random.Random) -> Transform:
    colour = rng.randrange(1, 10)
    return lambda g: [[colour] * (len(g[0]) + 2)] + [[colour] + row + [colour] for row in g] + [[colour] * (len(g[0]) + 2)]


def _recolour_factory(rng: random.Random) -> Transform:
    colour = rng.randrange(1, 10)
    return lambda g: [[colour if c else 0 for c in row] for row in g]


# name -> (makes the transform for one task, largest input side so the output stays <= 8)
FAMILIES: dict[str, tuple[Callable[[random.Random], Transform], int]] = {
    "flip_h": (lambda rng: _flip_h, 8),
    "flip_v": (lambda rng: _flip_v, 8),
    "rotate90": (lambda rng: _rotate90, 8),
    "rotate180": (lambda rng: _rotate180, 8),
    "transpose": (lambda rng: _transpose, 8),
    "gravity": (lambda rng: _gravity, 8),
    "scale2": (lambda rng: _scale2, 4),
    "shift_right": (lambda rng: _shift_right, 8),
    "mirror_extend": (lambda rng: _mirror_extend, 4),
    "colour_map": (_colour_map_factory, 8),
    "border": (_border_factory, 6),
    "recolour": (_recolour_factory, 8),
}

_SPLIT_SALT = {"train": 0x5EED, "heldout": 0xB0B}


def make_task(family: str, index: int, split: str = "train", train_pairs: int = 3, max_side: int = 8,
              min_side: int = 3) -> Task:
    """Task `index` of a family; the same arguments always give the same task."""
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r} (known: {', '.join(FAMILIES)})")
    factory, family_max = FAMILIES[family]
    rng = random.Random(f"{_SPLIT_SALT[split]}-{family}-{index}")
    transform = factory(rng)
    side_cap = max(min_side, min(max_side, family_max))
    h, w = rng.randint(min_side, side_cap), rng.randint(min_side, side_cap)
    if family in ("rotate90", "transpose"):
        w = h  # keep these tasks about the rule, not about shapes
    pairs = []
    for _ in range(train_pairs + 1):
        grid = _random_grid(rng, h, w, density=rng.uniform(0.25, 0.6), colours=rng.randint(2, 4))
        pairs.append({"input": grid, "output": transform(grid)})
    data = {"train": pairs[:-1], "test": pairs[-1:]}
    return validate_task(f"syn-{split}-{family}-{index:05d}", data, "synthetic")


def make_tasks(count_per_family: int, split: str = "train", families: list[str] | None = None, **kwargs: int) -> list[Task]:
    """count_per_family tasks of every family, interleaved so that any prefix mixes families."""
    names = families or list(FAMILIES)
    return [make_task(name, index, split, **kwargs) for index in range(count_per_family) for name in names]
