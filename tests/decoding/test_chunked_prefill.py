"""The static engine's prefill runs attention in blocks of queries: on the real tiny GPT-OSS (sliding-window
and full layers alternating, sinks on every head) a prompt several blocks long, past the sliding window,
leaves the same KV cache and the same logits as one unchunked block and as transformers' forward pass,
and no block's scores cover more than `chunk` queries."""

import pytest
import torch

import arc_console.decoding.static_decoder as static_decoder
from arc_console.decoding.decoder_weights import extract_weights
from arc_console.decoding.static_decoder import StaticDecoder
from arc_console.decoding.static_rollout import StaticRolloutEngine
from arc_console.engine.backends import load_policy
from arc_console.arc import Pair, build_prompt


@pytest.fixture(scope="module")
def policy():
    policy = load_policy("tiny-random", "hf", lora_r=4, lora_alpha=8, max_seq_length=2048)
    torch.manual_seed(0)
    for name, parameter in policy.model.named_parameters():
        if "lora_B" in name:
            parameter.data.normal_(0, 0.2)
    return policy


def _prefill(weights, prompt: torch.Tensor, width: int, chunk: int) -> tuple[torch.Tensor, StaticDecoder]:
    decoder = StaticDecoder(weights, batch=2, max_len=width + 8)
    with torch.no_grad():
        logits = decoder.prefill(prompt, slice(0, 2), width, chunk)
    return logits, decoder


def test_a_prompt_several_chunks_long_prefills_exactly_as_one_block(policy, monkeypatch) -> None:
    config = policy.base_causal_lm().config
    window = config.sliding_window
    assert {"sliding_attention", "full_attention"} <= set(config.layer_types)
    weights = extract_weights(policy.base_causal_lm(), 1024)
    length, chunk = 3 * window + 37, 100  # 5 blocks, the last partial; later blocks start past the window
    prompt = torch.randint(10, config.vocab_size, (length,), generator=torch.Generator().manual_seed(2))
    width = length + 5  # left padding in the cache, as a shorter prompt of a batch has

    query_blocks = []
    real_attend = static_decoder.attend

    def watched_attend(q, k, v, allowed, sinks):
        query_blocks.append((q.shape[2], k.shape[2]))
        return real_attend(q, k, v, allowed, sinks)

    monkeypatch.setattr(static_decoder, "attend", watched_attend)
    chunked, chunked_cache = _prefill(weights, prompt, width, chunk)
    assert max(queries for queries, _ in query_blocks) == chunk
    # a sliding layer's late block reads only the keys its window reaches, not the whole prompt
    assert min(keys for queries, keys in query_blocks if queries == chunk) < length - window
    query_blocks.clear()
    whole, whole_cache = _prefill(weights, prompt, width, length)
    assert [queries for queries, _ in query_blocks] == [length] * len(weights.layers)

    assert torch.allclose(chunked, whole, atol=1e-5)
    for mine, theirs in zip(chunked_cache.keys + chunked_cache.values, whole_cache.keys + whole_cache.values):
        assert torch.allclose(mine, theirs, atol=1e-5)
    with torch.no_grad():
        reference = policy.model(input_ids=prompt[None]).logits[0, -1].float()
    assert torch.allclose(chunked, reference, atol=1e-4)


def test_the_engine_samples_the_same_tokens_whatever_its_prefill_chunk(policy) -> None:
    prompt = build_prompt([Pair([[1, 2, 3]] * 3, [[3, 2, 1]] * 3)] * 3, [[4, 5, 6]] * 3)
    assert len(policy.tokenizer(prompt, add_special_tokens=False)["input_ids"]) > 3 * 64
    rollouts = []
    for chunk in (64, 4096):
        engine = StaticRolloutEngine(policy, prefill_chunk=chunk)
        rollouts.append(engine.generate([prompt], [0.8, 1.2], max_new_tokens=12, sample_keys=[11]).samples)
    assert [s.completion_ids for s in rollouts[0]] == [s.completion_ids for s in rollouts[1]]
    for a, b in zip(*rollouts):
        assert max(abs(x - y) for x, y in zip(a.logprobs, b.logprobs)) < 1e-4
