"""A rollout's candidates scored: the one place a candidate's record and reward are made, for training,
its ranks and test-time training alike."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from arc_console.arc import parse_response, score_grid
from arc_console.decoding.samples import Rollout
from arc_console.engine.rewards import RewardWeights, grid_reward, overlong_penalty, reward_accuracy
from arc_console.engine.step_groups import Group, Problem

# (the group, the candidate just scored): the trainer emits CandidateScored from it
CandidateCallback = Callable[[Group, dict[str, Any]], None]


@dataclass(frozen=True)
class RewardRule:
    """How a candidate is rewarded: the accuracy term (--reward), the shaping weights, and DAPO's soft
    overlong punishment over the last `overlong_buffer` of `max_new_tokens` tokens (0: none)."""

    accuracy: str = "pixel"
    weights: RewardWeights = RewardWeights()
    max_new_tokens: int = 0
    overlong_buffer: int = 0


def score_group(group: Group, rule: RewardRule, on_candidate: CandidateCallback | None = None) -> None:
    """Parse and score each of the group's samples: its candidate record, reward and task reward (the reward
    before the overlong penalty, which dynamic sampling filters on)."""
    target, test_input = group.problem.task.test_output, group.problem.task.test_input
    for number, sample in enumerate(group.samples, start=1):
        predicted = parse_response(sample.text)
        score = score_grid(predicted, target)
        accuracy = reward_accuracy(rule.accuracy, predicted, target, test_input, score)
        task_reward = grid_reward(score, rule.weights, accuracy)
        reward = task_reward + overlong_penalty(sample.num_tokens, rule.max_new_tokens, rule.overlong_buffer)
        candidate = {
            "candidate_id": number,
            "response_text": sample.text,
            "predicted_grid": predicted,
            "accuracy": score.accuracy,
            "has_grid": score.has_grid,
            "correct_size": score.correct_size,
            "perfect_match": score.perfect_match,
            "temperature": sample.temperature,
            "reward": round(reward, 6),
            "tokens": sample.num_tokens,
            "truncated": sample.truncated,
        }
        group.candidates.append(candidate)
        group.rewards.append(reward)
        group.task_rewards.append(task_reward)
        if on_candidate is not None:
            on_candidate(group, candidate)


def scored_groups(problems: list[Problem], rollout: Rollout, rule: RewardRule,
                  on_candidate: CandidateCallback | None = None) -> list[Group]:
    """The rollout's groups, one per problem (its K samples in order), each scored."""
    k = len(rollout.samples) // len(problems)
    groups = []
    for index, problem in enumerate(problems):
        group = Group(problem, rollout.prompt_ids[index], rollout.samples[index * k:(index + 1) * k])
        score_group(group, rule, on_candidate)
        groups.append(group)
    return groups
