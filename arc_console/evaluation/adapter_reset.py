"""The weights test-time RL trains, and their exact reset between tasks.

The base model is loaded once. Test-time RL trains a LoRA on it: a fresh adapter (r, alpha on
q, k, v, o) where the model has none, re-initialised for every task from a seed of (seed, task id),
so a task's starting weights never depend on the tasks before it. A model that already carries a
trained adapter (an adapter run's checkpoint) keeps it as the starting point: its weights are
snapshotted once and copied back before every task. Either way the base weights are never touched.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from arc_console.arc.seeds import derived_seed
from arc_console.decoding.rollout_engine import RolloutEngine
from arc_console.engine.backends import LORA_TARGETS, Policy

ADAPTER = "default"


@dataclass
class TestTimeAdapter:
    """The trainable adapter of a policy, the engine that samples it, and how to put it back to its
    per-task starting point."""

    engine: RolloutEngine
    fresh: bool  # True: a new LoRA re-initialised per task; False: a loaded adapter restored from `snapshot`
    rank: int
    snapshot: dict[str, torch.Tensor] = field(default_factory=dict)

    @property
    def policy(self) -> Policy:
        return self.engine.policy

    def parameters(self) -> dict[str, torch.nn.Parameter]:
        return {name: p for name, p in self.policy.model.named_parameters() if "lora_" in name}

    def reset(self, seed: int, task_id: str) -> None:
        """Exactly the starting weights for `task_id`: whatever ran before, the same tensors bit for bit."""
        with torch.no_grad():
            if not self.fresh:
                for name, parameter in self.parameters().items():
                    parameter.copy_(self.snapshot[name])
                return
            generator = torch.Generator().manual_seed(derived_seed("lora", seed, task_id))
            for name, parameter in sorted(self.parameters().items()):
                if ".lora_A." in name:
                    # peft's own init for A (kaiming uniform, a = sqrt(5)), drawn from the task's generator
                    bound = 1.0 / math.sqrt(parameter.shape[1])
                    values = torch.rand(parameter.shape, generator=generator, dtype=torch.float32) * 2 - 1
                    parameter.copy_((values * bound).to(parameter.dtype))
                else:  # B starts at zero: the adapted model starts as the base model
                    parameter.zero_()


def attach_test_time_adapter(engine: RolloutEngine, rank: int, alpha: int) -> TestTimeAdapter:
    """Make the engine's policy trainable through a LoRA (a new one, or the adapter it was loaded with);
    the adapter holds the engine rebuilt over it, so a static engine folds the live adapter into every rollout."""
    from peft import PeftModel

    policy = engine.policy
    if isinstance(policy.model, PeftModel):
        adapter = TestTimeAdapter(engine, fresh=False, rank=0)
        for parameter in adapter.parameters().values():
            parameter.requires_grad_(True)
        adapter.snapshot = {name: p.detach().clone() for name, p in adapter.parameters().items()}
    else:
        from peft import LoraConfig, get_peft_model

        lora = LoraConfig(r=rank, lora_alpha=alpha, lora_dropout=0.0, target_modules=LORA_TARGETS, bias="none",
                          task_type="CAUSAL_LM")
        policy.model = get_peft_model(policy.model, lora)
        adapter = TestTimeAdapter(engine, fresh=True, rank=rank)
    if not adapter.parameters():
        raise ValueError("the model has no q/k/v/o projections a LoRA can attach to")
    for name, parameter in policy.model.named_parameters():
        parameter.requires_grad_("lora_" in name)
    policy.model.eval()
    adapter.engine = engine.rebuilt()
    return adapter
