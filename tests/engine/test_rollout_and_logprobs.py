"""Rollouts on the real tiny GPT-OSS: one batched generate, per-row temperatures, stops, aborts;
chunked log-probs that agree with the model's own full logits."""

import pytest
import torch

from arc_console.arc import Pair, build_prompt
from arc_console.engine.backends import load_policy
from arc_console.engine.control import RunControl
from arc_console.engine.logprobs import build_batch, completion_logprobs
from arc_console.decoding.rollout import PerRowTemperature
from arc_console.decoding.rollout_engine import RolloutEngine

PROMPT = build_prompt([Pair([[1, 2], [3, 4]], [[4, 3], [2, 1]])], [[5, 6], [7, 8]])


@pytest.fixture(scope="module")
def policy():
    return load_policy("tiny", "hf", lora_r=0, lora_alpha=32, max_seq_length=2048)


@pytest.fixture(scope="module")
def lora_policy():
    return load_policy("tiny", "hf", lora_r=4, lora_alpha=8, max_seq_length=2048)


def test_per_row_temperature_divides_each_row() -> None:
    scores = torch.tensor([[2.0, 4.0], [2.0, 4.0]])
    out = PerRowTemperature(torch.tensor([0.5, 2.0]))(torch.zeros(2, 1, dtype=torch.long), scores)
    assert out.tolist() == [[4.0, 8.0], [1.0, 2.0]]


def test_candidates_come_from_one_batched_generate(policy, monkeypatch) -> None:
    calls = []
    real_generate = policy.model.generate

    def counting_generate(*args, **kwargs):
        calls.append(kwargs["input_ids"].shape)
        return real_generate(*args, **kwargs)

    monkeypatch.setattr(policy.model, "generate", counting_generate)
    temps = [0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3]
    progress = []
    torch.manual_seed(0)
    rollout = RolloutEngine(policy).generate([PROMPT], temps, max_new_tokens=24,
                                  on_progress=lambda *a: progress.append(a))
    assert len(calls) == 1 and calls[0][0] == 8
    assert [s.temperature for s in rollout.samples] == temps
    assert not rollout.aborted
    for sample in rollout.samples:
        assert 1 <= sample.num_tokens <= 24
        ends_with_stop = sample.completion_ids[-1] in policy.stop_token_ids
        assert sample.truncated == (not ends_with_stop)
        assert "<|return|>" not in sample.text[-10:] or not ends_with_stop
    cut = RolloutEngine(policy).generate([PROMPT], temps, max_new_tokens=3)  # a 2x2 answer needs more tokens
    assert all(s.truncated and s.num_tokens == 3 for s in cut.samples)


def test_two_problems_share_the_batch(policy) -> None:
    other = build_prompt([Pair([[1]], [[2]])], [[3]])
    rollout = RolloutEngine(policy).generate([PROMPT, other], [0.7, 1.0, 1.3], max_new_tokens=8)
    assert [s.group for s in rollout.samples] == [0, 0, 0, 1, 1, 1]
    assert len(rollout.prompt_ids) == 2 and len(rollout.prompt_ids[1]) < len(rollout.prompt_ids[0])


def test_stop_request_aborts_generation(policy) -> None:
    control = RunControl()
    control.request_stop()
    rollout = RolloutEngine(policy).generate([PROMPT], [1.0] * 4, max_new_tokens=400, control=control)
    assert rollout.aborted
    assert max(s.num_tokens for s in rollout.samples) <= 2


def _full_logprobs(policy, batch):
    logits = policy.base_causal_lm()(input_ids=batch.input_ids, attention_mask=batch.attention_mask,
                                      position_ids=(batch.attention_mask.cumsum(-1) - 1).clamp(min=0)).logits
    logits = logits[:, batch.prompt_width - 1 : -1].float() / batch.temperatures.view(-1, 1, 1)
    targets = batch.input_ids[:, batch.prompt_width :]
    return torch.log_softmax(logits, -1).gather(-1, targets.unsqueeze(-1)).squeeze(-1) * batch.completion_mask


@pytest.mark.parametrize("chunk", [1, 7, 4096])
def test_chunked_logprobs_match_full_logits(lora_policy, chunk) -> None:
    policy = lora_policy
    tok = policy.tokenizer
    short = tok("<|start|>user<|message|>hi<|end|>", add_special_tokens=False)["input_ids"]
    long = tok(PROMPT, add_special_tokens=False)["input_ids"]
    completions = [tok("1 2\n3 4<|return|>", add_special_tokens=False)["input_ids"], tok("7", add_special_tokens=False)["input_ids"]]
    batch = build_batch([long, short], completions, [0.7, 1.3], tok.pad_token_id, policy.device)
    expected = _full_logprobs(policy, batch)
    logp, entropy = completion_logprobs(policy, batch, chunk_tokens=chunk, with_grad=True)
    assert torch.allclose(logp, expected, atol=1e-5)
    assert (entropy[batch.completion_mask.bool()] > 0).all()
    # The gradient through the checkpointed chunks equals the plain one.
    params = [p for p in policy.model.parameters() if p.requires_grad]
    grads = torch.autograd.grad(logp.sum(), params)
    expected_grads = torch.autograd.grad(_full_logprobs(policy, batch).sum(), params)
    for got, want in zip(grads, expected_grads):
        assert torch.allclose(got, want, atol=1e-5)


def test_training_logprobs_agree_with_the_sampler(policy) -> None:
    # The sampler's own raw logits at each step, divided by the row's temperature, against the
    # training forward over the same (left-padded) batch: the importance ratio starts at 1.
    from transformers import LogitsProcessorList

    tok = policy.tokenizer
    other = build_prompt([Pair([[1]], [[2]])], [[3]])
    prompts = [tok(p, add_special_tokens=False)["input_ids"] for p in (PROMPT, other)]
    width = max(map(len, prompts))
    input_ids = torch.tensor([[tok.pad_token_id] * (width - len(p)) + p for p in prompts])
    mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
    temps = torch.tensor([0.8, 1.3])
    torch.manual_seed(3)
    out = policy.model.generate(input_ids=input_ids, attention_mask=mask, do_sample=True, top_k=0, temperature=1.0,
                                max_new_tokens=6, logits_processor=LogitsProcessorList([PerRowTemperature(temps)]),
                                output_logits=True, return_dict_in_generate=True, eos_token_id=None,
                                pad_token_id=tok.pad_token_id)
    completions = out.sequences[:, width:]
    sampler = torch.stack([torch.log_softmax(step.float() / temps.view(-1, 1), -1) for step in out.logits], dim=1)
    sampler = sampler.gather(-1, completions.unsqueeze(-1)).squeeze(-1)
    batch = build_batch(prompts, completions.tolist(), temps.tolist(), tok.pad_token_id, policy.device)
    logp, _ = completion_logprobs(policy, batch, chunk_tokens=5, with_grad=False)
    assert (logp - sampler).abs().max().item() < 1e-4
