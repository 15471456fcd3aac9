"""A task's own training problems: leave-one-out, and random augmented views of them.

Each train pair in turn is a pseudo-test whose output is known, the other pairs its examples
(Akyurek et al. 2024). A view of such a problem transforms every grid the same way (a dihedral
transform, with colours also a permutation of 1-9, 0 kept) and shows the examples in a shuffled
order, as the ARChitects (Franzen et al. 2024) and marc augment their test-time data. The real
test pair of the task is never in any of them. Pure Python, no torch.
"""

from __future__ import annotations

import random

from arc_console.arc.augment import View, random_view
from arc_console.arc.task import Task


def leave_one_out(task: Task, repeat_examples: bool = False) -> list[Task]:
    """Per train pair, in order: that pair as the test, the others (in order) as the examples. With
    `repeat_examples`, the examples are repeated in turn up to the task's own count, so a leave-one-out
    prompt shows as many examples as the real test's prompt does (one pair twice, for a two-pair task).
    Empty for a task with fewer than two train pairs (no example would be left)."""
    if len(task.train) < 2:
        return []
    problems = []
    for held in range(len(task.train)):
        examples = [p for i, p in enumerate(task.train) if i != held]
        if repeat_examples:
            examples = [examples[i % len(examples)] for i in range(len(task.train))]
        problems.append(Task(f"{task.id}:pair{held + 1}", examples, [task.train[held]], task.source))
    return problems


def augmented_view(problem: Task, augment: str, shuffle_examples: bool, rng: random.Random) -> tuple[Task, View]:
    """`problem` under a view drawn from `rng`, its examples shuffled when asked; (the problem, the view)."""
    view = random_view(augment, rng)
    examples = list(problem.train)
    if shuffle_examples:
        rng.shuffle(examples)
    seen = view.apply_task(Task(problem.id, examples, problem.test, problem.source))
    return Task(f"{problem.id}:{view.describe()}", seen.train, seen.test, problem.source), view


__all__ = ["augmented_view", "leave_one_out"]
