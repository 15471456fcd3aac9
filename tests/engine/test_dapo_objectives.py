"""DAPO's pieces as pure functions: zero advantage for flat groups, reward scaling, loss stats, reward variants."""

import torch

from arc_console.arc import score_grid
from arc_console.engine.objectives import dapo_loss, group_advantages
from arc_console.engine.rewards import REWARD_VARIANTS, RewardWeights, grid_reward, reward_accuracy


def test_an_all_equal_group_gets_exactly_zero_advantage_at_every_scale() -> None:
    # Eight rewards of 1.6 in float32: the mean rounds away from 1.6, and with a 1e-6 epsilon the
    # noise used to become -0.107 per candidate.
    rewards = torch.tensor([[1.6] * 8, [0.1, 0.3, 0.1, 0.3, 0.1, 0.3, 0.1, 0.3]], dtype=torch.float32)
    for scale in ("group", "none"):
        adv = group_advantages(rewards, scale)
        assert torch.equal(adv[0], torch.zeros(8)), scale
        assert adv[1].abs().min() > 0
    assert torch.allclose(group_advantages(rewards, "group")[1], torch.tensor([-1.0, 1.0] * 4), atol=1e-4)
    assert torch.allclose(group_advantages(rewards, "none")[1], torch.tensor([-0.1, 0.1] * 4), atol=1e-6)


def test_loss_stats_count_low_and_high_clipping_and_kl() -> None:
    old = torch.zeros(2, 2)
    logp = torch.log(torch.tensor([[0.5, 1.0], [1.5, 1.0]]))  # ratios 0.5 and 1.5 where the clip bites
    advantages = torch.tensor([-1.0, 1.0])
    mask = torch.ones(2, 2)
    _, stats = dapo_loss(logp, old, advantages, mask, eps_low=0.2, eps_high=0.28)
    assert stats.clip_low_fraction == 0.25 and stats.clip_high_fraction == 0.25
    assert abs(stats.ratio_mean - 1.0) < 1e-6
    expected_kl = ((0.5 - 1 - torch.log(torch.tensor(0.5))) + (1.5 - 1 - torch.log(torch.tensor(1.5)))) / 4
    assert abs(stats.approx_kl - float(expected_kl)) < 1e-6


def test_masked_rows_leave_the_token_level_loss() -> None:
    logp = torch.tensor([[-1.0, -1.0], [-2.0, -2.0]], requires_grad=True)
    advantages = torch.tensor([1.0, -1.0])
    mask = torch.tensor([[1.0, 1.0], [0.0, 0.0]])  # the second completion was truncated
    loss, _ = dapo_loss(logp, logp.detach(), advantages, mask)
    loss.backward()
    assert torch.equal(logp.grad[1], torch.zeros(2))
    assert torch.allclose(logp.grad[0], torch.tensor([-0.5, -0.5]))  # counted over 2 tokens, not 4


def test_reward_variants_pay_nothing_for_a_trivial_background_grid() -> None:
    # A flip task whose grids are two thirds background: the seed's pixel accuracy pays 0.67 for all black.
    test_input = [[0, 0, 3], [0, 0, 0], [0, 0, 0]]
    target = [[3, 0, 0], [0, 0, 0], [0, 0, 0]]
    black = [[0, 0, 0], [0, 0, 0], [0, 0, 0]]
    score = score_grid(black, target)
    assert reward_accuracy("pixel", black, target, test_input, score) > 0.85
    assert reward_accuracy("changed", black, target, test_input, score) == 0.5  # of the 2 changed cells, 1 right
    assert reward_accuracy("foreground", black, target, test_input, score) == 0.0
    perfect = score_grid(target, target)
    for name in REWARD_VARIANTS:
        assert reward_accuracy(name, target, target, test_input, perfect) == 1.0
    weights = RewardWeights()
    assert grid_reward(perfect, weights, 1.0) == 1.0 + weights.size_bonus + weights.perfect_bonus
