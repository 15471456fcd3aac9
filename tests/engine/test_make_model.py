"""`arc-console make-model` beyond the tiny 4-bit one: each CPU-sized shape in each dtype, the seed, and the 20B
shape's size (counted on the meta device, where no weight is made)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from arc_console.cli import main
from arc_console.engine.model_factory import SHAPES, build_config, build_tokenizer


def make(out: Path, *args: str) -> Path:
    assert main(["make-model", "--out", str(out), "--device", "cpu", *args]) == 0
    return out


@pytest.mark.parametrize(("shape", "dtype"), [("tiny", "bfloat16"), ("small", "float32"), ("tiny-arc", "bfloat16")])
def test_a_shape_is_written_as_that_shape_and_trains(tmp_path: Path, shape: str, dtype: str) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from arc_console.engine.backends import load_policy

    out = make(tmp_path / shape, "--shape", shape, "--dtype", dtype, "--seed", "3")
    config = json.loads((out / "config.json").read_text())
    wanted = SHAPES[shape]
    for field in ("num_hidden_layers", "hidden_size", "intermediate_size", "num_attention_heads",
                  "num_key_value_heads", "head_dim", "num_local_experts", "num_experts_per_tok", "sliding_window"):
        assert config[field] == getattr(wanted, field), field
    assert json.loads((out / "arc_console_model.json").read_text()) == {"shape": shape, "seed": 3, "dtype": dtype}
    model = AutoModelForCausalLM.from_pretrained(out, dtype="auto")
    assert model.dtype == getattr(torch, dtype)
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert config["vocab_size"] == len(tokenizer) and tokenizer.eos_token == "<|return|>"
    assert len(tokenizer("1 2 3", add_special_tokens=False)["input_ids"]) == 5  # one token per cell and space
    # The trainer's loader takes it as a model folder, with a LoRA, and a step of its loss has a gradient.
    policy = load_policy(str(out), "hf", lora_r=4, lora_alpha=8, max_seq_length=512)
    ids = torch.tensor([tokenizer("1 2 3", add_special_tokens=False)["input_ids"]])
    policy.model(input_ids=ids).logits.float().logsumexp(-1).sum().backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in policy.trainable_parameters().values())


def test_the_seed_decides_the_weights(tmp_path: Path) -> None:
    first = load_file(make(tmp_path / "a", "--seed", "1") / "model.safetensors")
    again = load_file(make(tmp_path / "b", "--seed", "1") / "model.safetensors")
    other = load_file(make(tmp_path / "c", "--seed", "2") / "model.safetensors")
    assert all(torch.equal(first[name], again[name]) for name in first)
    assert any(not torch.equal(first[name], other[name]) for name in first)


def test_the_20b_shape_is_gpt_oss_20b() -> None:
    """The real shape's 20.9 B parameters, counted on the meta device (the weights would take 42 GB)."""
    from transformers import GptOssForCausalLM

    config = build_config(SHAPES["gpt-oss-20b"], len(build_tokenizer()))
    assert config.vocab_size == 201088 and config.max_position_embeddings == 131072
    with torch.device("meta"):
        model = GptOssForCausalLM(config)
    count = sum(p.numel() for p in model.parameters())
    assert 20.8e9 < count < 21.0e9, count
