"""The warm start's forward pass (pretraining/fast_forward.py) computes exactly what transformers' GPT-OSS
computes, on the real tiny-arc shape: logits of right-padded batches past the sliding window, the answer
loss and its gradients, in float32 and under bfloat16 autocast."""

import random

import pytest
import torch
from transformers import GptOssForCausalLM

from arc_console.arc import build_prompt, grid_to_text
from arc_console.arc.augment import random_view
from arc_console.arc.synthetic import make_task
from arc_console.engine.model_factory import SHAPES, build_config, build_tokenizer
from arc_console.pretraining.fast_forward import FastGptOss


def batch(tokenizer, count: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Right-padded prompts + answers of synthetic tasks under random views (lengths differ), answer labels."""
    rng = random.Random(0)
    rows = []
    for index in range(count):
        task = random_view("dihedral+colors", rng).apply_task(make_task(["gravity", "border", "scale2"][index % 3], index))
        prompt = tokenizer(build_prompt(task.train, task.test_input), add_special_tokens=False)["input_ids"]
        answer = tokenizer(grid_to_text(task.test_output) + "<|return|>", add_special_tokens=False)["input_ids"]
        rows.append((prompt + answer, len(prompt)))
    width = max(len(ids) for ids, _ in rows)
    ids = torch.full((count, width), tokenizer.pad_token_id)
    mask = torch.zeros((count, width), dtype=torch.long)
    labels = torch.full((count, width), -100)
    for i, (seq, prompt_len) in enumerate(rows):
        ids[i, : len(seq)], mask[i, : len(seq)] = torch.tensor(seq), 1
        labels[i, prompt_len : len(seq)] = torch.tensor(seq[prompt_len:])
    return ids, mask, labels


@pytest.mark.slow
@pytest.mark.parametrize("window", [128, 512])
def test_logits_loss_and_gradients_equal_transformers(window: int) -> None:
    torch.manual_seed(0)
    tokenizer = build_tokenizer()
    config = build_config(SHAPES["tiny-arc"], len(tokenizer))
    config.sliding_window = window
    model = GptOssForCausalLM(config)
    fast = FastGptOss(model, max_positions=1024)
    ids, mask, labels = batch(tokenizer, 4)
    assert ids.shape[1] > 128  # the sliding layers' window matters at 128
    with torch.no_grad():
        expected, got = model(input_ids=ids, attention_mask=mask).logits, fast(ids)
    assert (expected - got)[mask.bool()].abs().max().item() < 1e-4
    reference = model(input_ids=ids, attention_mask=mask, labels=labels).loss
    ours = fast.loss(ids, labels)
    assert ours.item() == pytest.approx(reference.item(), rel=1e-5)
    parameters = [p for p in model.parameters() if p.requires_grad]
    for a, b in zip(torch.autograd.grad(reference, parameters), torch.autograd.grad(ours, parameters)):
        assert (a - b).abs().max().item() <= 1e-5 + 1e-4 * a.abs().max().item()


def test_bfloat16_autocast_runs_and_stays_close() -> None:
    torch.manual_seed(0)
    tokenizer = build_tokenizer()
    model = GptOssForCausalLM(build_config(SHAPES["tiny-arc"], len(tokenizer)))
    fast = FastGptOss(model, max_positions=1024)
    ids, _, labels = batch(tokenizer, 2)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = fast.loss(ids, labels)
    assert abs(loss.item() - fast.loss(ids, labels).item()) < 0.05
