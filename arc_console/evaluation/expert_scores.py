"""Log-probabilities of whole answers: of sampled completions (the trainer's chunked pass,
engine/logprobs.py) and of given answers under one prompt, whose prefix is computed once."""

from __future__ import annotations

import copy

import torch

from arc_console.engine.backends import Policy
from arc_console.engine.logprobs import build_batch, completion_logprobs
from arc_console.decoding.rollout import cache_argument

ROWS_PER_FORWARD = 16


def sequence_logprobs(policy: Policy, prompt_ids: list[list[int]], completions: list[list[int]],
                      temperatures: list[float], chunk_tokens: int) -> list[float]:
    """log p(completion | prompt) for each row, summed over its tokens, at that row's temperature."""
    totals: list[float] = []
    pad = policy.tokenizer.pad_token_id
    for start in range(0, len(completions), ROWS_PER_FORWARD):
        part = slice(start, start + ROWS_PER_FORWARD)
        batch = build_batch(prompt_ids[part], completions[part], temperatures[part], pad, policy.device)
        with torch.no_grad():
            logp, _ = completion_logprobs(policy, batch, chunk_tokens, with_grad=False)
        totals.extend((logp * batch.completion_mask).sum(-1).tolist())
    return totals


def answers_logprobs(policy: Policy, prompt_ids: list[int], answers: list[list[int]]) -> list[float]:
    """log p(answer | prompt) at temperature 1 for each answer, the prompt run once and its cache shared."""
    from transformers import DynamicCache

    causal_lm = policy.base_causal_lm()
    name = cache_argument(type(causal_lm))
    pad = policy.tokenizer.pad_token_id
    totals: list[float] = []
    with torch.no_grad():
        prefix = DynamicCache(config=causal_lm.config)
        causal_lm(input_ids=torch.tensor([prompt_ids[:-1]], device=policy.device), use_cache=True, logits_to_keep=1,
                  **{name: prefix})  # the prefix's cache is wanted, not its logits
        for start in range(0, len(answers), ROWS_PER_FORWARD):
            part = answers[start : start + ROWS_PER_FORWARD]
            cache = copy.deepcopy(prefix)
            cache.batch_repeat_interleave(len(part))
            width = max(len(a) for a in part)
            rows = torch.tensor([[prompt_ids[-1], *a] + [pad] * (width - len(a)) for a in part], device=policy.device)
            attention = torch.tensor([[1] * len(prompt_ids) + [1] * len(a) + [0] * (width - len(a)) for a in part],
                                     device=policy.device)
            logits = causal_lm(input_ids=rows, attention_mask=attention, use_cache=True, **{name: cache}).logits
            logp = torch.log_softmax(logits[:, :-1].float(), dim=-1).gather(-1, rows[:, 1:, None])[..., 0]
            keep = attention[:, len(prompt_ids):].to(logp.dtype)
            totals.extend((logp * keep).sum(-1).tolist())
    return totals


def answer_ids(policy: Policy, answer_text: str) -> list[int]:
    """The tokens of an answer as the model ends it: the grid's text, then its stop token."""
    ids = policy.tokenizer(answer_text, add_special_tokens=False)["input_ids"]
    return ids + policy.stop_token_ids[:1]
