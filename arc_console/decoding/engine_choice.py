"""Which rollout engine a policy samples with: transformers' generate, or the static engine (GPT-OSS only)."""

from __future__ import annotations

from collections.abc import Callable

from arc_console.decoding.samples import DecodingPolicy
from arc_console.decoding.static_rollout import StaticRolloutEngine


class EngineChoiceError(ValueError):
    """The engine asked for cannot run this model."""


def attach_rollout_engine(policy: DecodingPolicy, requested: str, experts_format: str,
                          on_notice: Callable[[str], None]) -> str:
    """Set the policy's rollout engine ("auto": static for GPT-OSS, else generate); returns a line describing it."""
    gpt_oss = getattr(policy.base_causal_lm().config, "model_type", None) == "gpt_oss"
    engine = requested if requested != "auto" else ("static" if gpt_oss else "generate")
    if engine == "static" and not gpt_oss:
        raise EngineChoiceError("rollout_engine static runs GPT-OSS models only; use --rollout-engine generate")
    policy.rollout_engine = engine
    if engine != "static":
        return "transformers' generate"
    static = policy.static_engine = StaticRolloutEngine(policy, experts_format=experts_format, on_notice=on_notice)
    return (f"{static.describe()}, holding {static.memory_bytes() / 1024**3:.1f} GB beyond the model"
            + (" (--rollout-experts packed holds less, decodes slower)" if static.experts_format == "fp8" else ""))
