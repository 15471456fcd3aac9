"""The weights test-time training trains, and their exact reset between tasks.

The model is loaded once. What trains is either a LoRA or every weight:
- a LoRA: a fresh adapter (r, alpha on q, k, v, o) where the model has none, re-initialised for every
  task from a seed of (seed, task id); a model that already carries a trained adapter (an adapter run's
  checkpoint) keeps it as the starting point, snapshotted once and copied back before every task. The
  base weights are never touched.
- every weight (FullWeights): an unquantized model's parameters, snapshotted once and copied back
  before every task.
Either way a task's starting weights never depend on the tasks before it, bit for bit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from arc_console.arc.seeds import derived_seed
from arc_console.decoding.rollout_engine import RolloutEngine
from arc_console.engine.backends import LORA_TARGETS, SMALL_MODEL_PARAMETERS, Policy

ADAPTER = "default"


@dataclass
class TestTimeAdapter:
    kind = "lora"

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


@dataclass
class FullWeights:
    """Every weight of an unquantized model trains; `reset` copies the snapshot taken at attach back."""

    engine: RolloutEngine
    snapshot: dict[str, torch.Tensor] = field(default_factory=dict)
    kind = "full"
    fresh = False

    @property
    def policy(self) -> Policy:
        return self.engine.policy

    def parameters(self) -> dict[str, torch.nn.Parameter]:
        return dict(self.policy.model.named_parameters())

    def reset(self, seed: int, task_id: str) -> None:  # noqa: ARG002 (the same start for every task)
        with torch.no_grad():
            for name, parameter in self.parameters().items():
                parameter.copy_(self.snapshot[name])


TrainableWeights = TestTimeAdapter | FullWeights


def is_quantized(policy: Policy) -> bool:
    return any(getattr(p, "quant_state", None) is not None or not p.dtype.is_floating_point
               for p in policy.model.parameters())


def attach_full_weights(engine: RolloutEngine) -> FullWeights:
    """Make every weight of the engine's policy trainable and snapshot it. The engine is rebuilt over the
    trainable weights: a static engine then reads the live tensors (no joined q/k/v copy of frozen ones, no
    fp8 copy of the experts), so every update reaches the rollouts."""
    policy = engine.policy
    if is_quantized(policy):
        raise ValueError("every weight cannot train on a quantized (4-bit) model: use a LoRA")
    for parameter in policy.model.parameters():
        parameter.requires_grad_(True)
    policy.model.eval()
    # Experts as the model holds them: fp8 copies (the GPU default) would never see an update.
    weights = FullWeights(engine.rebuilt(experts_format="bf16"))
    weights.snapshot = {name: p.detach().clone() for name, p in weights.parameters().items()}
    return weights


def choose_weights(choice: str, policy: Policy) -> str:
    """auto: every weight of a small unquantized model without an adapter, else a LoRA."""
    if choice != "auto":
        return choice
    from peft import PeftModel

    small = sum(p.numel() for p in policy.model.parameters()) < SMALL_MODEL_PARAMETERS
    return "full" if small and not is_quantized(policy) and not isinstance(policy.model, PeftModel) else "lora"


def attach_trainable_weights(engine: RolloutEngine, choice: str, rank: int, alpha: int) -> TrainableWeights:
    """The weights test-time training trains on this engine's policy: "lora", "full" or "auto"."""
    if choose_weights(choice, engine.policy) == "full":
        return attach_full_weights(engine)
    return attach_test_time_adapter(engine, rank, alpha)
