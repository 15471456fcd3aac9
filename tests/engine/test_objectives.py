"""Each loss term against values computed by hand."""

import math

import pytest
import torch

from arc_console.engine.objectives import (
    clipped_surrogate,
    dapo_loss,
    group_advantages,
    grpo_loss,
    preference_loss,
)
from arc_console.engine.rewards import RewardWeights, grid_reward, overlong_penalty
from arc_console.arc import score_grid


def test_group_advantages_standardise_within_each_group() -> None:
    rewards = torch.tensor([[1.0, 0.0, 0.0, 1.0], [2.0, 2.0, 2.0, 2.0]])
    adv = group_advantages(rewards, eps=0.0 + 1e-12)
    # group 0: mean 0.5, population std 0.5 -> +-1
    assert torch.allclose(adv[0], torch.tensor([1.0, -1.0, -1.0, 1.0]))
    assert torch.equal(adv[1], torch.zeros(4))


def test_clip_higher_is_asymmetric() -> None:
    old = torch.zeros(1, 4)
    # ratios 0.5, 0.9, 1.2, 1.5
    logp = torch.log(torch.tensor([[0.5, 0.9, 1.2, 1.5]]))
    per_token, clipped, _ = clipped_surrogate(logp, old, torch.tensor([1.0]), eps_low=0.2, eps_high=0.28)
    # positive advantage: min(r, clip(r, 0.8, 1.28)) -> 0.5, 0.9, 1.2, 1.28
    assert torch.allclose(per_token, -torch.tensor([[0.5, 0.9, 1.2, 1.28]]))
    assert clipped.tolist() == [[0.0, 0.0, 0.0, 1.0]]
    per_token, clipped, _ = clipped_surrogate(logp, old, torch.tensor([-1.0]), eps_low=0.2, eps_high=0.28)
    # negative advantage: max(r, clip(r)) -> 0.8, 0.9, 1.2, 1.5 (the low clip binds at 0.5)
    assert torch.allclose(per_token, torch.tensor([[0.8, 0.9, 1.2, 1.5]]))
    assert clipped.tolist() == [[1.0, 0.0, 0.0, 0.0]]


def test_dapo_is_token_level_and_grpo_sequence_level() -> None:
    # Two sequences: 3 tokens with advantage +1, 1 token with advantage -1; ratio 1 everywhere.
    logp = torch.zeros(2, 3)
    mask = torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.0, 0.0]])
    adv = torch.tensor([1.0, -1.0])
    dapo, _ = dapo_loss(logp, logp, adv, mask)
    grpo, _ = grpo_loss(logp, logp, adv, mask)
    assert dapo.item() == pytest.approx((-1 - 1 - 1 + 1) / 4)  # every token counts once
    assert grpo.item() == pytest.approx((-1 + 1) / 2)  # every sequence counts once


def test_dapo_gradient_pushes_up_positive_advantage_tokens() -> None:
    logp = torch.zeros(2, 1, requires_grad=True)
    loss, _ = dapo_loss(logp, logp.detach(), torch.tensor([1.0, -1.0]), torch.ones(2, 1))
    loss.backward()
    assert logp.grad.tolist() == [[-0.5], [0.5]]


def test_preference_loss_is_the_seeds_rule() -> None:
    # One group of 3: mean log-likelihoods -1, -2, -3; accuracies 0.2, 0.9, 0.5.
    logp = torch.tensor([[-1.0, -1.0], [-2.0, -2.0], [-3.0, 0.0]])
    mask = torch.tensor([[1.0, 1.0], [1.0, 1.0], [1.0, 0.0]])
    loss, _ = preference_loss(logp, mask, torch.tensor([0.2, 0.9, 0.5]), group_size=3)
    # best = #2 (mean -2), worst = #1 (mean -1), weight 0.7: -0.7 * (-2 - -1) = 0.7
    assert loss.item() == pytest.approx(0.7)


def test_overlong_penalty_is_dapo_eq_13() -> None:
    assert overlong_penalty(100, 512, 128) == 0.0
    assert overlong_penalty(384, 512, 128) == 0.0
    assert overlong_penalty(448, 512, 128) == pytest.approx(-0.5)
    assert overlong_penalty(512, 512, 128) == pytest.approx(-1.0)
    assert overlong_penalty(600, 512, 128) == -1.0
    assert overlong_penalty(512, 512, 0) == 0.0


def test_grid_reward_shaping() -> None:
    w = RewardWeights(size_bonus=0.1, perfect_bonus=0.5, no_grid_penalty=0.2)
    assert grid_reward(score_grid([[1]], [[1]]), w) == pytest.approx(1.6)
    assert grid_reward(score_grid([[1, 2]], [[1, 1]]), w) == pytest.approx(0.6)
    assert grid_reward(score_grid([[1]], [[1, 1]]), w) == pytest.approx(0.5)
    assert grid_reward(score_grid(None, [[1]]), w) == pytest.approx(-0.2)
    assert math.isfinite(grid_reward(score_grid([[0]], [[1]]), w))
