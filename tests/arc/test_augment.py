"""ARC views: the 8 dihedral transforms and colour permutations, each undone by its inverse."""

import random

import pytest

from arc_console.arc import load_tasks
from arc_console.arc.augment import (DIHEDRAL, IDENTITY_COLORS, View, random_colors, random_view, task_views,
                                     transform_grid)

GRID = [[1, 2, 3], [4, 5, 6]]  # 2 x 3, every cell distinct: each transform gives a different grid


def test_the_eight_transforms_are_the_dihedral_group_on_a_rectangle():
    images = {name: transform_grid(GRID, name) for name in DIHEDRAL}
    assert images["rot90"] == [[4, 1], [5, 2], [6, 3]]  # clockwise
    assert images["rot180"] == [[6, 5, 4], [3, 2, 1]]
    assert images["rot270"] == [[3, 6], [2, 5], [1, 4]]
    assert images["flip_h"] == [[3, 2, 1], [6, 5, 4]]
    assert images["flip_v"] == [[4, 5, 6], [1, 2, 3]]
    assert images["transpose"] == [[1, 4], [2, 5], [3, 6]]
    assert images["anti_transpose"] == [[6, 3], [5, 2], [4, 1]]
    assert len({str(g) for g in images.values()}) == 8


@pytest.mark.parametrize("name", DIHEDRAL)
def test_every_view_is_undone_by_its_inverse(name):
    rng = random.Random(7)
    for _ in range(20):
        h, w = rng.randint(1, 6), rng.randint(1, 6)
        grid = [[rng.randint(0, 9) for _ in range(w)] for _ in range(h)]
        view = View(name, random_colors(rng))
        assert view.invert(view.apply(grid)) == grid
        assert View(name).invert(View(name).apply(grid)) == grid


def test_colour_permutations_keep_the_background_and_permute_1_to_9():
    rng = random.Random(3)
    for _ in range(50):
        colours = random_colors(rng)
        assert colours[0] == 0 and sorted(colours) == list(range(10))
    view = View("identity", (0, 2, 3, 4, 5, 6, 7, 8, 9, 1))
    assert view.apply([[0, 1, 9]]) == [[0, 2, 1]]


def test_a_view_transforms_every_grid_of_a_task():
    task = load_tasks("synthetic-heldout")[0]
    view = View("rot90", (0, 9, 8, 7, 6, 5, 4, 3, 2, 1))
    seen = view.apply_task(task)
    assert seen.id == task.id
    for original, shown in zip(task.train + task.test, seen.train + seen.test):
        assert shown.input == view.apply(original.input)
        assert shown.output == view.apply(original.output)


def test_task_views_per_augmentation_are_reproducible_and_start_with_the_task_itself():
    assert task_views("none") == [View()]
    assert [v.dihedral for v in task_views("dihedral")] == list(DIHEDRAL)
    coloured = task_views("dihedral+colors", seed=1, task_id="abc")
    assert coloured[0].is_identity and len(coloured) == 8
    assert all(v.colors != IDENTITY_COLORS for v in coloured[1:])
    assert coloured == task_views("dihedral+colors", seed=1, task_id="abc")
    assert coloured != task_views("dihedral+colors", seed=2, task_id="abc")
    assert coloured != task_views("dihedral+colors", seed=1, task_id="abd")
    with pytest.raises(ValueError):
        task_views("rotations")


def test_random_views_follow_the_augmentation_and_round_trip_through_json():
    rng = random.Random(0)
    assert random_view("none", rng).is_identity
    assert random_view("dihedral", rng).colors == IDENTITY_COLORS
    view = random_view("dihedral+colors", random.Random(5))
    assert View.from_dict(view.to_dict()) == view
