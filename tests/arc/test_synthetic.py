"""Synthetic ARC-like tasks: seeded, valid, at least ten families, a held-out split."""

import pytest

from arc_console.arc import TaskError, load_tasks
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


def test_a_count_after_the_source_name_gives_that_many_tasks_per_family_first_ten_unchanged() -> None:
    plain = load_tasks("synthetic")
    more = load_tasks("synthetic:25")
    assert len(more) == 25 * len(FAMILIES) and len({t.id for t in more}) == len(more)
    assert [t.id for t in more[: len(plain)]] == [t.id for t in plain]  # interleaved: the plain source is a prefix
    assert more[: len(plain)] == plain
    assert more[-1] == make_task(list(FAMILIES)[-1], 24, "train", max_side=4, train_pairs=2)
    heldout = load_tasks("synthetic-heldout:11")
    assert {t.id for t in heldout}.isdisjoint(t.id for t in more)
    assert all(t.id.startswith("syn-heldout-") for t in heldout) and len(heldout) == 11 * len(FAMILIES)


def test_a_bad_count_is_one_clear_error() -> None:
    for source in ("synthetic:0", "synthetic:ten", "synthetic:", "synthetic:-3", "synthetic-heldout:100001"):
        with pytest.raises(TaskError, match=r"tasks per family, 1\.\.100000"):
            load_tasks(source)
    with pytest.raises(TaskError, match="synthetic:N"):  # an unknown name still lists what is known
        load_tasks("synthetics:4")
