"""The objective registry: each objective one entry, and Dr. GRPO (added as one) against its formula."""

import math
import re

import pytest
import torch

from arc_console.arc import load_tasks
from arc_console.config import OBJECTIVES, ConfigError, TrainConfig, validate
from arc_console.decoding.samples import Sample
from arc_console.engine.micro_batches import micro_batches
from arc_console.engine.objective_registry import get_objective, objective_help, objective_names
from arc_console.engine.step_groups import Group, Problem
from paths import REPO

# Two groups of K = 3 candidates: completion lengths differ within and across groups.
REWARDS = [[1.0, 0.25, 0.0], [0.5, 0.5, 0.1]]
LENGTHS = [[5, 2, 3], [1, 4, 6]]
MAX_NEW_TOKENS = 8
EPS = 0.2


def _groups() -> list[Group]:
    task = load_tasks("synthetic-heldout")[0]
    groups = []
    for rewards, lengths in zip(REWARDS, LENGTHS):
        samples = [Sample(0, 1.0, list(range(3, 3 + n)), "", False) for n in lengths]
        groups.append(Group(Problem(task, "", 1), [1, 2], samples, candidates=[{"accuracy": r} for r in rewards],
                            rewards=list(rewards), task_rewards=list(rewards)))
    return groups


def _dr_grpo_by_hand(logps: list[list[float]], old_logps: list[list[float]]) -> float:
    """Liu et al. 2025: A_i = r_i - mean of its group (no std); each sequence's clipped-surrogate token SUM,
    summed over the G*K sequences and divided by G*K*MAX_NEW_TOKENS (a constant, not each length)."""
    total, row = 0.0, 0
    for rewards in REWARDS:
        mean = sum(rewards) / len(rewards)
        for reward in rewards:
            advantage = reward - mean
            for logp, old in zip(logps[row], old_logps[row]):
                ratio = math.exp(logp - old)
                clipped = min(max(ratio, 1 - EPS), 1 + EPS)
                total += max(-ratio * advantage, -clipped * advantage)
            row += 1
    return total / (row * MAX_NEW_TOKENS)


@pytest.mark.parametrize("micro_groups", [0, 1])
def test_dr_grpo_is_its_formula_through_the_registry_and_micro_batches(micro_groups: int) -> None:
    # scale_rewards "group" is the default: Dr. GRPO's advantages are never divided by the std all the same.
    config = TrainConfig(objective="dr_grpo", max_new_tokens=MAX_NEW_TOKENS, grpo_eps=EPS, num_candidates=3,
                         scale_rewards="group")
    objective = get_objective("dr_grpo")
    parts, counts = micro_batches(_groups(), micro_groups, objective.reward_scale(config), False, 0,
                                  torch.device("cpu"))
    denominator = objective.denominator(counts, config)
    draw = torch.Generator().manual_seed(0)
    loss_sum, logps, old_logps = 0.0, [], []
    for part in parts:
        logp = torch.randn(part.loss_mask.shape, generator=draw, dtype=torch.float64) * 0.3
        old = logp + torch.randn(part.loss_mask.shape, generator=draw, dtype=torch.float64) * 0.3  # ratios far from 1
        loss, stats = objective.loss(logp, old, part, denominator, config)
        loss_sum += float(loss)
        for row, mask in enumerate(part.loss_mask):
            kept = mask.bool()
            logps.append(logp[row][kept].tolist())
            old_logps.append(old[row][kept].tolist())
    assert [len(row) for row in logps] == [n for lengths in LENGTHS for n in lengths]
    # The advantages are float32 (as the trainer makes them), the rest float64 here.
    assert loss_sum == pytest.approx(_dr_grpo_by_hand(logps, old_logps), rel=1e-6)
    assert stats.counts is not None and 0 < stats.clip_fraction < 1  # its ratio is clipped, as GRPO's
    assert objective.has_ratio and objective.splits_groups and not objective.refills


def test_dr_grpo_differs_from_grpo_only_where_the_length_normalisation_does() -> None:
    # Equal lengths of MAX_NEW_TOKENS and unit-std groups: GRPO's per-sequence mean equals Dr. GRPO's constant.
    task = load_tasks("synthetic-heldout")[0]
    samples = [Sample(0, 1.0, list(range(MAX_NEW_TOKENS)), "", False) for _ in range(2)]
    group = Group(Problem(task, "", 1), [1], samples, candidates=[{"accuracy": 1.0}, {"accuracy": 0.0}],
                  rewards=[1.0, -1.0], task_rewards=[1.0, -1.0])
    logp = torch.randn(2, MAX_NEW_TOKENS, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    losses = {}
    for name in ("grpo", "dr_grpo"):
        config = TrainConfig(objective=name, max_new_tokens=MAX_NEW_TOKENS, num_candidates=2, scale_rewards="none")
        objective = get_objective(name)
        (part,), counts = micro_batches([group], 0, objective.reward_scale(config), False, 0, torch.device("cpu"))
        losses[name] = float(objective.loss(logp, logp.detach() - 0.1, part, objective.denominator(counts, config),
                                            config)[0])
    assert losses["dr_grpo"] == pytest.approx(losses["grpo"], rel=1e-12)


def test_which_groups_each_objective_keeps() -> None:
    """DAPO drops a group whose task rewards are equal (a difference in the overlong penalty alone teaches length),
    the seed's rule one whose accuracies are equal (no best and worst); GRPO and Dr. GRPO keep every group."""
    task = load_tasks("synthetic-heldout")[0]

    def group(task_rewards: list[float], accuracies: list[float]) -> Group:
        return Group(Problem(task, "", 1), [1], [], candidates=[{"accuracy": a} for a in accuracies],
                     rewards=[r - 0.1 * i for i, r in enumerate(task_rewards)], task_rewards=task_rewards)

    equal, differ = group([0.1, 0.1], [0.5, 0.5]), group([0.1, 0.2], [0.5, 0.6])
    same_accuracy = group([0.1, 0.3], [0.5, 0.5])  # the size bonus differs, the accuracies do not
    kept = {name: [get_objective(name).keeps(g) for g in (equal, differ, same_accuracy)] for name in OBJECTIVES}
    assert kept == {"dapo": [False, True, True], "grpo": [True] * 3, "dr_grpo": [True] * 3,
                    "preference": [False, True, False]}
    assert [name for name in OBJECTIVES if get_objective(name).refills] == ["dapo"]


def test_the_settings_are_made_from_the_registry() -> None:
    assert OBJECTIVES == objective_names() == ("dapo", "grpo", "dr_grpo", "preference")
    assert all(name in objective_help() for name in OBJECTIVES)
    with pytest.raises(ValueError, match="known: dapo, grpo, dr_grpo, preference"):
        get_objective("ppo")
    validate(TrainConfig(objective="dr_grpo", update_micro_rows=3))  # its loss is a sum over rows
    with pytest.raises(ConfigError, match="update_micro_rows must be 0 with objective preference"):
        validate(TrainConfig(objective="preference", update_micro_rows=3))
    with pytest.raises(ConfigError, match="objective must be one of dapo, grpo, dr_grpo, preference"):
        validate(TrainConfig(objective="ppo"))


def test_no_objective_name_is_compared_outside_the_registry() -> None:
    names = "|".join(OBJECTIVES)
    compared = re.compile(rf"""(==|!=|\bin)\s*[(\[{{]?\s*["']({names})["']|["']({names})["']\s*(==|!=|:)""")
    found = [f"{path.relative_to(REPO)}:{number}: {line.strip()}"
             for path in sorted((REPO / "arc_console").rglob("*.py")) if path.name != "objective_registry.py"
             for number, line in enumerate(path.read_text().splitlines(), start=1) if compared.search(line)]
    assert found == []
