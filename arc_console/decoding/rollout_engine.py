"""The one object the trainer and eval sample with: which engine a policy decodes with, and its state.

`choose_rollout_engine` picks transformers' generate or the static engine (GPT-OSS only); the
RolloutEngine it returns holds the policy and, for the static engine, its weights view, KV caches
and captured graphs. Policy carries none of this: whoever samples holds the engine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from arc_console.decoding.rollout import generate_with_transformers
from arc_console.decoding.samples import DecodingPolicy, ProgressCallback, Rollout, StopSignal
from arc_console.decoding.static_rollout import StaticRolloutEngine

ENGINES = ("auto", "static", "generate")


class EngineChoiceError(ValueError):
    """The engine asked for cannot run this model."""


class RolloutEngine:
    """K candidates per prompt from `policy`: through `static` (the static engine) when it has one,
    else through transformers' generate."""

    def __init__(self, policy: DecodingPolicy, static: StaticRolloutEngine | None = None) -> None:
        self.policy = policy
        self.static = static

    @property
    def kind(self) -> str:
        return "static" if self.static is not None else "generate"

    def generate(self, prompts: list[str], temperatures: list[float], max_new_tokens: int, top_p: float = 1.0,
                 control: StopSignal | None = None, on_progress: ProgressCallback | None = None,
                 share_prefill: bool = True, sample_keys: list[int] | None = None, fit_reserved: bool = False) -> Rollout:
        """len(temperatures) candidates for every prompt, all rows in one batch.

        sample_keys, one per prompt (device_sampling.sampling_key of seed, step and problem slot), make a
        prompt's candidates independent of the batch it shares: the static engine keys each row's draws
        by them; transformers' generate, which draws from one generator for the whole batch, then runs
        each prompt on its own after seeding torch with its key.

        fit_reserved: a rollout with more rows than the static engine was reserved for runs in parts that
        fit, rather than growing the decode step (held-out evaluation on the trainer's engine: growing
        it would pad every later training rollout to the evaluation's rows)."""
        if self.static is not None:
            per_call = max(1, self.static.rows // len(temperatures)) if self.static.rows else len(prompts)
            if fit_reserved and len(prompts) > per_call:  # more rows than the decode step holds: in parts
                return self._in_parts(prompts, temperatures, max_new_tokens, top_p, control, on_progress,
                                      sample_keys, per_call)
            return self.static.generate(prompts, temperatures, max_new_tokens, top_p, control, on_progress,
                                        sample_keys)
        return generate_with_transformers(self.policy, prompts, temperatures, max_new_tokens, top_p, control,
                                          on_progress, share_prefill, sample_keys)

    def _in_parts(self, prompts: list[str], temperatures: list[float], max_new_tokens: int, top_p: float,
                  control: StopSignal | None, on_progress: ProgressCallback | None, sample_keys: list[int] | None,
                  per_call: int) -> Rollout:
        """One rollout made of several, each within the reserved rows, so the decode step keeps its shape."""
        assert self.static is not None
        parts = []
        for start in range(0, len(prompts), per_call):
            keys = sample_keys[start:start + per_call] if sample_keys is not None else None
            part = self.static.generate(prompts[start:start + per_call], temperatures, max_new_tokens, top_p, control,
                                        on_progress, keys)
            parts.append((start, part))
            if part.aborted:
                break
        samples = [replace(sample, group=sample.group + start) for start, part in parts for sample in part.samples]
        return Rollout([ids for _, part in parts for ids in part.prompt_ids], samples,
                       sum(part.seconds for _, part in parts), any(part.aborted for _, part in parts))

    def reserve(self, rows: int, tokens: int) -> None:
        """Say the largest rollout to come (rows = prompts x candidates, prompt + new tokens): the static
        engine sizes its decode step for it at once rather than recompiling as rollouts grow."""
        if self.static is not None:
            self.static.rows = max(self.static.rows, rows)
            self.static.cache_tokens = max(self.static.cache_tokens, tokens)

    def describe(self) -> str:
        """A line saying how rollouts run (for the run's log)."""
        static = self.static
        if static is None:
            return "transformers' generate"
        held = f"holding {static.memory_bytes() / 1024**3:.1f} GB beyond the model"
        if not static.has_decode_state() and static.rows and static.cache_tokens:
            held += f" and then a KV cache for {static.rows} rows x {static.cache_tokens} tokens (built at the first rollout)"
        return (f"{static.describe()}, {held}"
                + (" (--rollout-experts packed holds less, decodes slower)" if static.experts_format == "fp8" else ""))

    def rebuilt(self, **static_overrides: Any) -> RolloutEngine:
        """The same choice over the policy's current modules (after a LoRA was attached to it): a static
        engine reads the model's tensors when it is built, so it is built anew with the same settings
        (but for `static_overrides`, e.g. experts_format)."""
        if self.static is None:
            return RolloutEngine(self.policy)
        return RolloutEngine(self.policy, StaticRolloutEngine(self.policy, **{**self.static.settings(),
                                                                              **static_overrides}))


def is_gpt_oss(policy: DecodingPolicy) -> bool:
    return getattr(policy.base_causal_lm().config, "model_type", None) == "gpt_oss"


def choose_rollout_engine(policy: DecodingPolicy, requested: str = "auto", experts_format: str = "auto",
                          on_notice: Callable[[str], None] | None = None, **static_options: Any) -> RolloutEngine:
    """"auto": the static engine for GPT-OSS models, else transformers' generate. static_options go to
    StaticRolloutEngine (rows, cache_tokens, ...)."""
    if requested not in ENGINES:
        raise EngineChoiceError(f"rollout_engine must be one of {', '.join(ENGINES)}, got {requested!r}")
    gpt_oss = is_gpt_oss(policy)
    engine = requested if requested != "auto" else ("static" if gpt_oss else "generate")
    if engine == "static" and not gpt_oss:
        raise EngineChoiceError("rollout_engine static runs GPT-OSS models only; use --rollout-engine generate")
    if engine != "static":
        return RolloutEngine(policy)
    return RolloutEngine(policy, StaticRolloutEngine(policy, experts_format=experts_format, on_notice=on_notice,
                                                     **static_options))
