"""The training settings a real tiny run is given, and what each one does to it: the reward variants and their
weights (every candidate's reward recomputed from its step file), --warmup-steps, --weight-decay,
--max-grad-norm and --grpo-eps."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from helpers import make_trainer

pytestmark = pytest.mark.slow

WEIGHTS = {"reward_size_bonus": 0.125, "reward_perfect_bonus": 0.75, "reward_no_grid_penalty": 0.375}
MAX_NEW, BUFFER = 40, 24  # answers longer than 16 tokens are penalised, -1 at 40
GRIDS = {"model": "tiny", "max_new_tokens": MAX_NEW, "overlong_buffer": BUFFER}  # the built-in model answers grids


# ------------------------------------------------------------------ rewards, recomputed independently


def cell(grid: list[list[int]] | None, row: int, column: int) -> int | None:
    if grid is None or row >= len(grid) or column >= len(grid[row]):
        return None
    return grid[row][column]


def shape(grid: list[list[int]]) -> tuple[int, int]:
    return len(grid), len(grid[0])


def pixel(predicted, target, test_input) -> float:
    """README: equal cells over the union of both shapes (0 without a grid)."""
    if predicted is None:
        return 0.0
    height = max(len(predicted), len(target))
    width = max(max(len(r) for r in predicted), len(target[0]))
    equal = sum(cell(predicted, r, c) is not None and cell(predicted, r, c) == cell(target, r, c)
                for r in range(height) for c in range(width))
    return equal / (height * width)


def changed(predicted, target, test_input) -> float:
    """README: only the cells the task changes (every target cell where the output's shape is not the input's);
    pixel where that set is empty, or for a perfect answer or none."""
    if predicted is None or predicted == target:
        return pixel(predicted, target, test_input)
    same = shape(test_input) == shape(target)
    cells = [(r, c) for r in range(len(target)) for c in range(len(target[0]))
             if not same or test_input[r][c] != target[r][c]]
    if not cells:
        return pixel(predicted, target, test_input)
    return sum(cell(predicted, r, c) == target[r][c] for r, c in cells) / len(cells)


def foreground(predicted, target, test_input) -> float:
    """README: equal cells among those that are not background (0) in the target or the prediction."""
    if predicted is None or predicted == target:
        return pixel(predicted, target, test_input)
    height = max(len(predicted), len(target))
    width = max(max(len(r) for r in predicted), len(target[0]))
    cells = [(r, c) for r in range(height) for c in range(width)
             if cell(target, r, c) not in (None, 0) or cell(predicted, r, c) not in (None, 0)]
    if not cells:
        return pixel(predicted, target, test_input)
    return sum(cell(predicted, r, c) == cell(target, r, c) for r, c in cells) / len(cells)


def exact(predicted, target, test_input) -> float:
    """README: ARC's scoring, 1 for a perfect answer, 0 for anything else."""
    return float(predicted == target)


ACCURACY = {"pixel": pixel, "changed": changed, "foreground": foreground, "exact": exact}


def expected_reward(variant: str, candidate: dict[str, Any], target, test_input) -> float:
    predicted = candidate["predicted_grid"]
    reward = ACCURACY[variant](predicted, target, test_input)
    if predicted is not None and shape(predicted) == shape(target) and all(len(r) == len(target[0]) for r in predicted):
        reward += WEIGHTS["reward_size_bonus"]
    if predicted == target:
        reward += WEIGHTS["reward_perfect_bonus"]
    if predicted is None:
        reward -= WEIGHTS["reward_no_grid_penalty"]
    tokens = candidate["tokens"]  # DAPO eq. 13: 0 up to max - buffer tokens, then down to -1 at max
    if tokens > MAX_NEW - BUFFER:
        reward += max(-1.0, (MAX_NEW - BUFFER - tokens) / BUFFER)
    return reward


def step_groups(run: Path) -> list[dict[str, Any]]:
    groups = []
    for path in sorted((run / "logs/responses").glob("step_*.json")):
        record = json.loads(path.read_text())
        groups += [record, *record.get("extra_groups", [])]
    return groups


@pytest.mark.parametrize("variant", ["pixel", "changed", "foreground", "exact"])
def test_every_candidates_reward_is_its_variant_plus_shaping_and_the_overlong_penalty(tmp_path: Path,
                                                                                    variant: str) -> None:
    trainer, _ = make_trainer(tmp_path / "run", max_steps=3, reward=variant, num_candidates=6, max_extra_draws=1,
                              **GRIDS, **WEIGHTS)
    trainer.run()
    candidates = 0
    penalised = differs_from_pixel = 0
    for group in step_groups(tmp_path / "run"):
        target, test_input = group["target_grid"], group["test_input"]
        for candidate in group["candidates"]:
            candidates += 1
            assert candidate["reward"] == pytest.approx(expected_reward(variant, candidate, target, test_input),
                                                         abs=2e-6), (group["problem_id"], candidate)
            assert candidate["accuracy"] == pytest.approx(pixel(candidate["predicted_grid"], target, test_input))
            penalised += candidate["tokens"] > MAX_NEW - BUFFER
            differs_from_pixel += ACCURACY[variant](candidate["predicted_grid"], target, test_input) != \
                pixel(candidate["predicted_grid"], target, test_input)
    assert candidates >= 18 and penalised > 0  # the overlong penalty was exercised
    if variant != "pixel":
        assert differs_from_pixel > 0, "the variant never changed a reward: nothing was checked of it"
    assert json.loads((tmp_path / "run/logs/run.json").read_text())["config"]["reward"] == variant


# ------------------------------------------------------------------ the optimiser's settings


def trained_once(run: Path, **settings: Any) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], Any]:
    """One step on the first problem (refilled until a group is informative); the trainable weights before and
    after, and the trainer."""
    trainer, _ = make_trainer(run, max_steps=1, max_extra_draws=4, seed=5, **GRIDS, **settings)
    before = {n: p.detach().clone() for n, p in trainer.policy.trainable_parameters().items()}
    trainer.run()
    assert trainer.history[0]["groups_kept"] >= 1, "no informative group: nothing was trained"
    after = {n: p.detach().clone() for n, p in trainer.policy.trainable_parameters().items()}
    return before, after, trainer


def test_weight_decay_shrinks_each_weight_by_lr_times_decay(tmp_path: Path) -> None:
    """AdamW's decoupled decay: from the same gradients, the decayed weights are the plain ones less
    lr * decay * the weight before the step."""
    lr, decay = 1e-3, 0.5
    before, plain, _ = trained_once(tmp_path / "plain", learning_rate=lr, weight_decay=0.0)
    _, decayed, _ = trained_once(tmp_path / "decayed", learning_rate=lr, weight_decay=decay)
    moved = 0
    for name, start in before.items():
        torch.testing.assert_close(plain[name] - decayed[name], lr * decay * start, rtol=1e-3, atol=2e-8)
        moved += bool((start != 0).any())
    assert moved > 0  # some weights were non-zero, so the decay showed


def test_max_grad_norm_bounds_the_update(tmp_path: Path) -> None:
    """Clipped to a norm far below Adam's epsilon the gradient barely moves the weights; the logged grad_norm is
    the norm before clipping, the same either way."""
    before, free, free_trainer = trained_once(tmp_path / "free", learning_rate=1e-3, max_grad_norm=1e3)
    _, clipped, clipped_trainer = trained_once(tmp_path / "clipped", learning_rate=1e-3, max_grad_norm=1e-12)
    free_move = max(float((free[n] - before[n]).abs().max()) for n in before)
    clipped_move = max(float((clipped[n] - before[n]).abs().max()) for n in before)
    assert free_move > 1e-4 and clipped_move < free_move / 100, (free_move, clipped_move)
    assert clipped_trainer.history[0]["grad_norm"] == pytest.approx(free_trainer.history[0]["grad_norm"], rel=1e-4)


def test_warmup_steps_count_training_steps_not_updates(tmp_path: Path) -> None:
    """--warmup-steps 3: the learning rate is lr * (n + 1) / 4 after the n-th step that updated the policy, then lr,
    however many updates each step makes (--updates-per-rollout 2): the schedule steps once per training step."""
    lr = 1e-3
    trainer, _ = make_trainer(tmp_path / "run", max_steps=6, warmup_steps=3, learning_rate=lr, updates_per_rollout=2,
                              max_extra_draws=2, seed=5, **GRIDS)
    first_lr = []
    real_step = trainer.optimizer.step

    def step(*args, **kwargs):
        first_lr.append(trainer.optimizer.param_groups[0]["lr"])
        return real_step(*args, **kwargs)

    trainer.optimizer.step = step
    trainer.run()
    trained = 0
    for metrics in trainer.history:
        trained += metrics["groups_kept"] > 0
        assert metrics["lr"] == pytest.approx(lr * min(1.0, (trained + 1) / 4)), metrics["step"]
    assert trained >= 3
    # Each step's two updates ran at that step's rate: the rate changes between steps, never inside one.
    assert len(first_lr) == 2 * trained
    assert first_lr[0::2] == first_lr[1::2]
    assert first_lr[0] == pytest.approx(lr / 4)


@pytest.mark.parametrize("eps", [1e-4, 0.9])
def test_grpo_eps_is_the_clip_of_the_ratio(tmp_path: Path, eps: float) -> None:
    """With several updates on one rollout the ratio leaves 1: a clip of 1e-4 holds tokens at its bounds, a clip
    of 0.9 never does."""
    trainer, _ = make_trainer(tmp_path / "run", max_steps=2, objective="grpo", grpo_eps=eps, updates_per_rollout=3,
                              learning_rate=5e-3, max_extra_draws=3, seed=5, **GRIDS)
    trainer.run()
    fractions = [m["clip_fraction"] for m in trainer.history if m["groups_kept"] > 0]
    assert fractions
    if eps < 1:
        assert max(fractions) > 0
    else:
        assert all(f == 0 for f in fractions)
