"""Unsloth's pre-quantized GPT-OSS layout (as unsloth/gpt-oss-20b-unsloth-bnb-4bit): `make-model --quantize 4bit
--layout unsloth-bnb-4bit` writes it, the hf backend loads it from disk, and the static engine reads its experts
packed; every output equals a plain transformers model holding the dequantized weights."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from arc_console.arc import Pair, build_prompt
from arc_console.decoding.decoder_weights import extract_weights
from arc_console.decoding.packed_experts import PackedExperts
from arc_console.decoding.rollout_engine import RolloutEngine
from arc_console.decoding.static_decoder import StaticDecoder
from arc_console.decoding.static_rollout import StaticRolloutEngine
from arc_console.engine.backends import BackendError, load_policy
from arc_console.engine.logprobs import build_batch, completion_logprobs
from arc_console.engine.prequantized import checkpoint_experts_layout, tensor_names

CLI = [sys.executable, "-m", "arc_console"]
PROMPT = build_prompt([Pair([[1, 2], [3, 4]], [[4, 3], [2, 1]])], [[5, 6], [7, 8]])


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=300)


def run_warm(warm_cli, *args: str) -> subprocess.CompletedProcess:
    """A model made or a run trained only for its files: a fresh process from the warm launcher
    (tests/support/warm_cli.py); the refused requests (their one-line errors and exit) are `python -m arc_console`."""
    return warm_cli.run(list(args), timeout=300)


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory, warm_cli) -> tuple[Path, Path]:
    """(the tiny random model in float32, its copy in Unsloth's bnb-4bit layout)."""
    root = tmp_path_factory.mktemp("prequantized")
    source, split = root / "source", root / "split"
    assert run_warm(warm_cli, "make-model", "--out", str(source)).returncode == 0
    out = run_warm(warm_cli, "make-model", "--quantize", "4bit", "--layout", "unsloth-bnb-4bit", "--from", str(source),
                   "--out", str(split))
    assert out.returncode == 0, out.stderr
    assert "Unsloth's bnb-4bit layout" in out.stdout
    return source, split


@pytest.fixture(scope="module")
def split_policy(checkpoints):
    policy = load_policy(str(checkpoints[1]), "hf", lora_r=4, lora_alpha=8, max_seq_length=2048)
    torch.manual_seed(0)
    for name, parameter in policy.model.named_parameters():
        if "lora_B" in name:  # a trained adapter, not peft's zero start
            parameter.data.normal_(0, 0.2)
    return policy


def _dequantized(module: torch.nn.Module) -> torch.Tensor:
    import bitsandbytes.functional as bnb_functional

    return bnb_functional.dequantize_4bit(module.weight.data, module.weight.quant_state).float()


def test_the_checkpoint_has_unsloths_tensor_names_and_quantization_config(checkpoints) -> None:
    source, split = checkpoints
    names = set(tensor_names(split))
    expert = "model.layers.0.mlp.experts.gate_up_projs.3.weight"
    statistics = ("absmax", "quant_map", "nested_absmax", "nested_quant_map", "quant_state.bitsandbytes__nf4")
    assert {expert, *(f"{expert}.{s}" for s in statistics)} <= names
    assert {"model.layers.1.mlp.experts.down_projs.0.bias", "model.layers.0.mlp.router.linear.weight",
            "model.layers.0.mlp.router.linear.bias", "model.layers.0.self_attn.q_proj.weight.absmax"} <= names
    assert not any(name.endswith(("experts.gate_up_proj", "experts.down_proj", "mlp.router.weight")) for name in names)
    assert "lm_head.weight.absmax" not in names and "model.embed_tokens.weight.absmax" not in names
    config = json.loads((split / "config.json").read_text())["quantization_config"]
    assert config["quant_method"] == "bitsandbytes" and config["bnb_4bit_quant_type"] == "nf4"
    assert config["load_in_4bit"] and config["bnb_4bit_use_double_quant"]
    assert checkpoint_experts_layout(split) == "split" and checkpoint_experts_layout(source) == "fused"
    index = json.loads((split / "model.safetensors.index.json").read_text())
    assert set(index["weight_map"]) == names
    shard = split / index["weight_map"][expert]
    with safe_open(str(shard), framework="pt") as handle:
        assert handle.get_tensor(expert).dtype == torch.uint8  # two NF4 codes a byte
        assert handle.get_tensor("model.layers.0.mlp.router.linear.weight").dtype == torch.float32


def test_built_or_converted_the_same_weights_give_the_same_bytes(tmp_path: Path, checkpoints, warm_cli) -> None:
    built = tmp_path / "built"
    out = run_warm(warm_cli, "make-model", "--quantize", "4bit", "--layout", "unsloth-bnb-4bit", "--out", str(built))
    assert out.returncode == 0, out.stderr
    for shard in built.glob("*.safetensors"):
        assert shard.read_bytes() == (checkpoints[1] / shard.name).read_bytes()


def test_the_hf_backend_loads_each_expert_as_a_4bit_linear_of_the_source_weights(checkpoints, split_policy) -> None:
    import bitsandbytes.functional as bnb_functional
    from transformers import AutoModelForCausalLM

    source = AutoModelForCausalLM.from_pretrained(checkpoints[0])
    loaded = split_policy.base_causal_lm()
    for original, layer in zip(source.model.layers, loaded.model.layers):
        experts = layer.mlp.experts
        assert type(experts).__name__ == "SplitExperts" and len(experts.gate_up_projs) == 4
        assert type(experts.gate_up_projs[0]).__name__ == "Linear4bit"
        assert torch.equal(layer.mlp.router.weight, original.mlp.router.weight)  # the router stays exact
        for expert, linear in enumerate(experts.down_projs):
            weight = original.mlp.experts.down_proj.data[expert].t().contiguous()
            packed, state = bnb_functional.quantize_4bit(weight, quant_type="nf4", compress_statistics=True)
            assert torch.equal(_dequantized(linear), bnb_functional.dequantize_4bit(packed, state))
            assert torch.equal(linear.bias, original.mlp.experts.down_proj_bias[expert])


def test_outputs_equal_transformers_holding_the_dequantized_weights(checkpoints, split_policy) -> None:
    from transformers import AutoModelForCausalLM

    reference = AutoModelForCausalLM.from_pretrained(checkpoints[0])
    loaded = split_policy.base_causal_lm()
    with torch.no_grad():
        for target, layer in zip(reference.model.layers, loaded.model.layers):
            experts = layer.mlp.experts
            target.mlp.experts.gate_up_proj.copy_(torch.stack([_dequantized(m).t() for m in experts.gate_up_projs]))
            target.mlp.experts.down_proj.copy_(torch.stack([_dequantized(m).t() for m in experts.down_projs]))
            for name in ("q_proj", "k_proj", "v_proj", "o_proj"):
                getattr(target.self_attn, name).weight.copy_(_dequantized(getattr(layer.self_attn, name).base_layer))
        ids = torch.randint(10, loaded.config.vocab_size, (1, 120), generator=torch.Generator().manual_seed(3))
        with split_policy.model.disable_adapter():
            expected, got = reference(ids).logits, split_policy.model(ids).logits
    assert torch.allclose(got, expected, atol=1e-4), (got - expected).abs().max()


def test_the_static_engine_reads_the_experts_packed_and_matches_the_trainer(split_policy) -> None:
    weights = extract_weights(split_policy.base_causal_lm(), 512, experts_format="packed")
    assert isinstance(weights.layers[0].gate_up, PackedExperts) and weights.layers[0].gate_up.split
    ids = torch.randint(10, 100, (90,), generator=torch.Generator().manual_seed(2))
    decoder = StaticDecoder(weights, batch=2, max_len=96)
    with torch.no_grad():
        first = decoder.prefill(ids[:80], slice(0, 2), 80)
        expected = split_policy.model(input_ids=ids[None, :80]).logits[0, -1].float()
        assert torch.allclose(first, expected, atol=1e-4)
        for step in range(10):
            logits = decoder.decode(ids[80 + step].repeat(2), torch.tensor([80 + step]))
        expected = split_policy.model(input_ids=ids[None]).logits[0, -1].float()
    assert torch.allclose(logits[0], expected, atol=1e-4) and torch.allclose(logits[1], expected, atol=1e-4)

    engine = RolloutEngine(split_policy, StaticRolloutEngine(split_policy, experts_format="packed"))
    assert "packed 4-bit experts" in engine.describe()
    rollout = engine.generate([PROMPT], [0.7, 1.0, 1.3], 12)
    samples = rollout.samples
    batch = build_batch([rollout.prompt_ids[s.group] for s in samples], [s.completion_ids for s in samples],
                        [s.temperature for s in samples], split_policy.tokenizer.pad_token_id, split_policy.device)
    trainer, _ = completion_logprobs(split_policy, batch, 256, with_grad=False)
    for row, sample in enumerate(samples):
        assert torch.allclose(torch.tensor(sample.logprobs), trainer[row, : sample.num_tokens], atol=1e-4)


def test_fp8_copies_are_made_from_the_split_experts(split_policy) -> None:
    weights = extract_weights(split_policy.base_causal_lm(), 512, experts_format="fp8")
    assert weights.experts_format == "fp8"
    gate_up = weights.layers[0].gate_up
    restored = torch.empty(gate_up.buffer_shape)
    gate_up.dequantize_into(restored)
    experts = split_policy.base_causal_lm().model.layers[0].mlp.experts
    exact = torch.stack([_dequantized(m).t() for m in experts.gate_up_projs])
    assert torch.allclose(restored, exact, rtol=1 / 16, atol=exact.abs().max().item() / 448)


def test_a_quantized_model_refuses_full_fine_tuning_in_one_line(checkpoints) -> None:
    with pytest.raises(BackendError, match="LoRA adapters only"):
        load_policy(str(checkpoints[1]), "hf", lora_r=0, lora_alpha=0, max_seq_length=2048)


@pytest.mark.slow
@pytest.mark.timeout(600)  # a training process
def test_train_one_step_on_the_prequantized_checkpoint(tmp_path: Path, checkpoints, warm_cli) -> None:
    run = tmp_path / "run"
    out = run_warm(warm_cli, "train", "--headless", "--preset", "tiny", "--model", str(checkpoints[1]), "--max-steps",
                   "1", "--out", str(run), "--lora-r", "4", "--objective", "grpo", "--max-new-tokens", "8",
                   "--overlong-buffer", "2", "--num-candidates", "3", "--rollout-engine", "static")
    assert out.returncode == 0, out.stderr
    log = (run / "logs" / "training.log").read_text()
    assert "packed 4-bit experts" in log
    assert (run / "final_model").is_dir()


@pytest.mark.parametrize("args, message", [
    (["--layout", "unsloth-bnb-4bit"], "--layout needs --quantize 4bit"),
    (["--quantize", "4bit", "--from", "SOURCE"], "--from needs --quantize 4bit --layout unsloth-bnb-4bit"),
    (["--quantize", "4bit", "--layout", "unsloth-bnb-4bit", "--from", "SPLIT"], "already quantized"),
    (["--quantize", "4bit", "--layout", "unsloth-bnb-4bit", "--from", "MISSING"], "not a model folder"),
    (["--quantize", "4bit", "--layout", "unsloth-bnb-4bit", "--from", "SOURCE", "--shape", "small"], "do not apply"),
])
def test_bad_make_model_requests_fail_in_one_line_and_write_nothing(tmp_path: Path, checkpoints, args, message) -> None:
    paths = {"SOURCE": str(checkpoints[0]), "SPLIT": str(checkpoints[1]), "MISSING": str(tmp_path / "none")}
    out = run_cli("make-model", "--out", str(tmp_path / "out"), *[paths.get(a, a) for a in args])
    assert out.returncode == 2 and message in out.stderr, out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and not (tmp_path / "out").exists()
