"""The optimizer and learning-rate schedule a run trains with: AdamW over the trainable parameters,
a linear warm-up over --warmup-steps training steps, then constant. The schedule steps once per training
step that updates the policy (policy_update), not per optimizer update: --updates-per-rollout N makes N
updates at one step's rate."""

from __future__ import annotations

import torch

from arc_console.config import TrainConfig
from arc_console.engine.backends import Policy


def build_optimizer(policy: Policy, config: TrainConfig) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
    optimizer = torch.optim.AdamW(policy.trainable_parameters().values(), lr=config.learning_rate,
                                  weight_decay=config.weight_decay)
    warmup = config.warmup_steps
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda updates: min(1.0, (updates + 1) / (warmup + 1)) if warmup else 1.0)
    return optimizer, scheduler
