"""transformers' generate warns "Both `max_new_tokens` and `max_length` seem to have been set" on every call
when the model's generation config carries a max_length (Unsloth sets it to the context length), since
every rollout gives max_new_tokens. The rollout leaves the length to the call: no warning, and the
completions are still max_new_tokens long at most."""

from __future__ import annotations

import logging

import pytest

from arc_console.arc import Pair, build_prompt
from arc_console.decoding.rollout import generate_with_transformers
from arc_console.engine.backends import load_policy

PROMPT = build_prompt([Pair([[1, 2], [3, 4]], [[4, 3], [2, 1]])], [[5, 6], [7, 8]])


class Recorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.mark.slow
@pytest.mark.parametrize("lora_r", [0, 4])
def test_a_model_with_its_own_max_length_generates_without_the_warning(lora_r: int) -> None:
    policy = load_policy("tiny-random", "hf", lora_r=lora_r, lora_alpha=8, max_seq_length=2048)
    policy.base_causal_lm().generation_config.max_length = 2048  # as Unsloth's loader leaves it
    recorder = Recorder()
    logger = logging.getLogger("transformers.generation.utils")
    logger.addHandler(recorder)
    try:
        rollout = generate_with_transformers(policy, [PROMPT], [0.7, 1.0], max_new_tokens=6)
        rollout = generate_with_transformers(policy, [PROMPT, PROMPT], [1.0], max_new_tokens=6, share_prefill=False)
    finally:
        logger.removeHandler(recorder)
    assert [m for m in recorder.messages if "max_length" in m] == []
    assert rollout.samples and all(len(sample.completion_ids) <= 6 for sample in rollout.samples)
