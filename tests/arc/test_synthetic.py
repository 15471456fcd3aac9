"""Synthetic ARC-like tasks: seeded, valid, at least ten families, a held-out split."""

from arc_console.arc import load_tasks
from arc_console.arc.synthetic import FAMILIES, make_task, make_tasks


def test_at_least_ten_families_of_valid_small_tasks() -> None:
    assert len(FAMILIES) >= 10
    tasks = make_tasks(5)
    assert len(tasks) == 5 * len(FAMILIES)
    for task in tasks:
        for pair in task.train + task.test:
            assert 3 <= len(pair.input) <= 8 and 3 <= len(pair.input[0]) <= 8
            assert len(pair.output) <= 10 and len(pair.output[0]) <= 10


def test_seeded_and_split() -> None:
    assert make_task("gravity", 7) == make_task("gravity", 7)
    assert make_task("gravity", 7).train != make_task("gravity", 7, "heldout").train
    train_ids = {t.id for t in load_tasks("synthetic")}
    heldout_ids = {t.id for t in load_tasks("synthetic-heldout")}
    assert train_ids.isdisjoint(heldout_ids) and len(heldout_ids) == 10 * len(FAMILIES)


def test_transformations_do_what_their_names_say() -> None:
    pair = make_task("flip_h", 0).train[0]
    assert pair.output == [row[::-1] for row in pair.input]
    pair = make_task("rotate180", 0).train[0]
    assert pair.output == [row[::-1] for row in pair.input[::-1]]
    pair = make_task("scale2", 0).train[0]
    assert len(pair.output) == 2 * len(pair.input) and pair.output[0][0] == pair.output[1][1] == pair.input[0][0]
    pair = make_task("gravity", 3).train[0]
    for c in range(len(pair.input[0])):
        column = [row[c] for row in pair.output]
        nonzero = [v for v in column if v]
        assert column == [0] * (len(column) - len(nonzero)) + nonzero
