"""What decoding hands back (samples, rollouts) and what it needs from its caller (a policy, a stop signal).

The protocols keep decoding below the engine: the trainer's Policy and RunControl fit them without
decoding importing either.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import torch


class StopSignal(Protocol):
    """Polled between decode steps; generation ends early once it reads True."""

    @property
    def stop_requested(self) -> bool: ...


class DecodingPolicy(Protocol):
    """The model and tokenizer to sample from (engine.backends.Policy is one)."""

    model: Any
    tokenizer: Any
    backend: str
    device: torch.device
    stop_token_ids: list[int]
    share_prefill: bool

    def base_causal_lm(self) -> Any: ...

    def for_inference(self) -> None: ...


ProgressCallback = Callable[[int, int, float], None]  # tokens so far, max tokens, tokens/s (all rows)


@dataclass
class Sample:
    group: int  # which prompt of the batch
    temperature: float
    completion_ids: list[int]  # sampled tokens, the stop token included when there is one
    text: str  # the completion as text, without its stop token
    truncated: bool  # hit max_new_tokens without a stop token
    logprobs: list[float] | None = None  # per completion token at its temperature, when the engine reports them

    @property
    def num_tokens(self) -> int:
        return len(self.completion_ids)


@dataclass
class Rollout:
    prompt_ids: list[list[int]]  # one per group, unpadded
    samples: list[Sample]
    seconds: float
    aborted: bool

    @property
    def tokens_generated(self) -> int:
        return sum(s.num_tokens for s in self.samples)


def to_samples(policy: DecodingPolicy, completions: list[list[int]], temperatures: list[float], max_new_tokens: int,
               logprobs: list[list[float]] | None = None) -> list[Sample]:
    """Rows of generated tokens (K rows per prompt, in order) cut after their first stop token."""
    k = len(temperatures)
    stops = set(policy.stop_token_ids)
    samples = []
    for row, generated in enumerate(completions):
        end = next((i for i, token in enumerate(generated) if token in stops), None)
        ids = generated if end is None else generated[: end + 1]
        text_ids = ids if end is None else ids[:-1]
        samples.append(Sample(
            group=row // k,
            temperature=temperatures[row % k],
            completion_ids=ids,
            text=policy.tokenizer.decode(text_ids, skip_special_tokens=False),
            truncated=end is None and len(generated) >= max_new_tokens,
            logprobs=None if logprobs is None else logprobs[row][: len(ids)],
        ))
    return samples
