"""engine/optimizer.py: AdamW over exactly the trainable weights, with the run's settings, and the warm-up."""

from __future__ import annotations

import pytest
import torch

from arc_console.config import build_config
from arc_console.engine.backends import load_policy
from arc_console.engine.optimizer import build_optimizer


@pytest.fixture(scope="module")
def policy():
    return load_policy("tiny-random", "hf", lora_r=4, lora_alpha=8, max_seq_length=512)


def config(**settings):
    return build_config("tiny", None, {"model": "tiny-random", "lora_r": 4, **settings})


def test_adamw_over_the_trainable_weights_only(policy) -> None:
    optimizer, _ = build_optimizer(policy, config(learning_rate=3e-4, weight_decay=0.05))
    assert isinstance(optimizer, torch.optim.AdamW)
    (group,) = optimizer.param_groups
    trainable = list(policy.trainable_parameters().values())
    assert [id(p) for p in group["params"]] == [id(p) for p in trainable]
    frozen = [p for p in policy.model.parameters() if not p.requires_grad]
    assert frozen and not {id(p) for p in frozen} & {id(p) for p in group["params"]}  # the base stays frozen
    assert group["lr"] == 3e-4 and group["weight_decay"] == 0.05


@pytest.mark.parametrize(("warmup", "factors"), [(0, [1.0] * 5), (3, [0.25, 0.5, 0.75, 1.0, 1.0]),
                                                  (1, [0.5, 1.0, 1.0, 1.0, 1.0])])
def test_the_warm_up_rises_linearly_then_holds(policy, warmup: int, factors: list[float]) -> None:
    lr = 1e-3
    optimizer, scheduler = build_optimizer(policy, config(learning_rate=lr, warmup_steps=warmup))
    seen = []
    for _ in factors:
        seen.append(optimizer.param_groups[0]["lr"])  # the rate the next training step trains at
        optimizer.step()
        scheduler.step()
    assert seen == pytest.approx([lr * f for f in factors])


def test_the_schedule_resumes_where_it_was(policy) -> None:
    """Its state, as a checkpoint saves it, brings a new optimizer back to the same point of the warm-up."""
    optimizer, scheduler = build_optimizer(policy, config(learning_rate=1e-3, warmup_steps=4))
    for _ in range(2):
        optimizer.step()
        scheduler.step()
    resumed_optimizer, resumed = build_optimizer(policy, config(learning_rate=1e-3, warmup_steps=4))
    resumed_optimizer.load_state_dict(optimizer.state_dict())
    resumed.load_state_dict(scheduler.state_dict())
    assert resumed_optimizer.param_groups[0]["lr"] == pytest.approx(1e-3 * 3 / 5)
    resumed_optimizer.step()
    resumed.step()
    assert resumed_optimizer.param_groups[0]["lr"] == pytest.approx(1e-3 * 4 / 5)
