"""A task's own training problems (arc/leave_one_out.py): each train pair held out in turn, under random views."""

import random
from collections import Counter

from arc_console.arc import load_tasks
from arc_console.arc.augment import DIHEDRAL
from arc_console.arc.leave_one_out import augmented_view, leave_one_out
from arc_console.arc.task import Pair, Task


def five_pair_task() -> Task:
    pairs = [Pair([[i, 1], [2, 3]], [[3, 2], [1, i]]) for i in range(5)]
    return Task("five", pairs, [Pair([[9, 9], [9, 1]], [[1, 9], [9, 9]])])


def test_each_train_pair_is_the_pseudo_test_once_and_the_real_test_never_appears():
    task = five_pair_task()
    problems = leave_one_out(task)
    assert [p.id for p in problems] == [f"five:pair{i}" for i in range(1, 6)]
    for held, problem in enumerate(problems):
        assert problem.test == [task.train[held]]
        assert problem.train == [p for i, p in enumerate(task.train) if i != held]
        assert task.test[0] not in problem.train + problem.test
    assert leave_one_out(Task("one", task.train[:1], task.test)) == []  # no example would be left


def test_a_view_transforms_every_grid_its_inverse_undoes_it_and_the_examples_are_a_permutation():
    problem = leave_one_out(five_pair_task())[0]
    rng = random.Random(0)
    orders, dihedrals = Counter(), Counter()
    for _ in range(200):
        seen, view = augmented_view(problem, "dihedral+colors", True, rng)
        assert view.colors[0] == 0 and sorted(view.colors) == list(range(10))
        assert view.invert(seen.test[0].output) == problem.test[0].output
        originals = [Pair(view.invert(p.input), view.invert(p.output)) for p in seen.train]
        assert sorted(map(str, originals)) == sorted(map(str, problem.train))
        orders[tuple(map(str, originals))] += 1
        dihedrals[view.dihedral] += 1
    assert len(orders) == 24  # 4 examples: every order of them turns up
    assert set(dihedrals) == set(DIHEDRAL)


def test_no_shuffle_and_no_augment_give_the_problem_itself():
    problem = leave_one_out(load_tasks("synthetic-heldout")[0])[1]
    seen, view = augmented_view(problem, "none", False, random.Random(1))
    assert view.is_identity and seen.train == problem.train and seen.test == problem.test


def test_the_same_generator_state_draws_the_same_views():
    problem = leave_one_out(five_pair_task())[2]
    first = [augmented_view(problem, "dihedral+colors", True, random.Random(5))[0] for _ in range(2)]
    assert first[0] == first[1]


def test_repeated_examples_fill_a_prompt_to_the_tasks_own_count_in_turn():
    task = five_pair_task()
    for held, problem in enumerate(leave_one_out(task, repeat_examples=True)):
        others = [p for i, p in enumerate(task.train) if i != held]
        assert problem.train == others + others[:1]  # 4 others, 5 examples: the first again
        assert problem.test == [task.train[held]]
    two = load_tasks("synthetic-heldout")[0]  # every held-out synthetic task has two train pairs
    first, second = leave_one_out(two, repeat_examples=True)
    assert first.train == [two.train[1], two.train[1]] and second.train == [two.train[0], two.train[0]]
    assert leave_one_out(Task("one", task.train[:1], task.test), repeat_examples=True) == []
