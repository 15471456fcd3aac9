"""`arc-console export`: a LoRA run's adapter and its merged model, checked against peft on the real tiny model."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
import torch

from arc_console.engine.backends import builtin_tiny_path

CLI = [sys.executable, "-m", "arc_console"]
FAST = ["--max-new-tokens", "12", "--overlong-buffer", "4", "--num-candidates", "4"]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=300)


def run_warm(warm_cli, *args: str) -> subprocess.CompletedProcess:
    """A run, an export or a model made only for its files: a fresh process from the warm launcher
    (tests/support/warm_cli.py); the refused exports (their one-line errors and exit) are `python -m arc_console`."""
    return warm_cli.run(list(args), timeout=300)


@pytest.fixture(scope="module")
def lora_run(tmp_path_factory: pytest.TempPathFactory, warm_cli) -> Path:
    """Two DAPO steps of the tiny preset with a rank-4 LoRA, a learning rate that moves it visibly."""
    run = tmp_path_factory.mktemp("export") / "run"
    out = run_warm(warm_cli, "train", "--headless", "--preset", "tiny", "--max-steps", "2", "--out", str(run), *FAST,
                   "--lora-r", "4", "--learning-rate", "0.01", "--objective", "grpo")
    assert out.returncode == 0, out.stderr
    return run


def _logits(model: torch.nn.Module) -> torch.Tensor:
    ids = torch.tensor([[1, 12, 30, 45, 60, 75, 90, 14, 15, 16]])
    with torch.no_grad():
        return model(input_ids=ids).logits


def test_merged_model_equals_base_plus_adapter(lora_run: Path, tmp_path: Path, warm_cli) -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    adapter, merged = tmp_path / "adapter", tmp_path / "merged"
    out = run_warm(warm_cli, "export", str(lora_run), "--out", str(adapter))
    assert out.returncode == 0, out.stderr
    assert "adapter (PEFT) of step 2, base 'tiny'" in out.stdout
    settings = json.loads((adapter / "adapter_config.json").read_text())
    assert settings["base_model_name_or_path"] == "tiny" and settings["r"] == 4  # a name, not a local path
    out = run_warm(warm_cli, "export", str(lora_run / "checkpoints/step_2"), "--out", str(merged), "--merged")
    assert out.returncode == 0, out.stderr

    plain = AutoModelForCausalLM.from_pretrained(merged)  # no peft, no arc-console
    assert not any("lora" in name for name, _ in plain.named_parameters())
    base = AutoModelForCausalLM.from_pretrained(builtin_tiny_path())
    base_logits = _logits(base)
    with_adapter = PeftModel.from_pretrained(base, adapter)
    expected = _logits(with_adapter)
    assert (expected - base_logits).abs().max() > 1e-3  # the adapter learned something
    torch.testing.assert_close(_logits(plain), expected, atol=1e-5, rtol=1e-5)


def test_bfloat16_export_and_bad_input(lora_run: Path, tmp_path: Path, warm_cli) -> None:
    from safetensors import safe_open

    out = run_warm(warm_cli, "export", str(lora_run), "--out", str(tmp_path / "bf16"), "--merged",
                   "--dtype", "bfloat16")
    assert out.returncode == 0, out.stderr
    with safe_open(tmp_path / "bf16/model.safetensors", "pt") as weights:
        assert weights.get_tensor("model.embed_tokens.weight").dtype == torch.bfloat16
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "keep.txt").write_text("mine")
    for args, message in (([str(tmp_path / "nowhere"), "--out", str(tmp_path / "x")], "no such run directory"),
                          ([str(tmp_path), "--out", str(tmp_path / "x")], "neither a run directory nor a checkpoint"),
                          ([str(lora_run), "--out", str(taken)], "exists and is not an empty folder")):
        out = run_cli("export", *args)
        assert out.returncode == 2 and out.stderr.startswith("arc-console: error:") and message in out.stderr, out.stderr
        assert len(out.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists() and (taken / "keep.txt").read_text() == "mine"


@pytest.mark.timeout(420)
def test_a_4bit_base_is_dequantized_before_merging(tmp_path: Path, warm_cli) -> None:
    from transformers import AutoModelForCausalLM

    base, run, merged = tmp_path / "base-4bit", tmp_path / "run", tmp_path / "merged"
    out = run_warm(warm_cli, "make-model", "--shape", "tiny", "--out", str(base), "--quantize", "4bit")
    assert out.returncode == 0, out.stderr
    assert json.loads((base / "config.json").read_text())["quantization_config"]["bnb_4bit_quant_type"] == "nf4"
    out = run_warm(warm_cli, "train", "--headless", "--preset", "tiny", "--model", str(base), "--max-steps", "1",
                   "--out", str(run), "--lora-r", "4", "--max-new-tokens", "8", "--overlong-buffer", "2",
                   "--num-candidates", "3")
    assert out.returncode == 0, out.stderr
    # A random base teaches nothing in one step (every answer is equally wrong), so the adapter is still zero:
    # give the checkpoint's LoRA B the values a trained one has, so the merge has something to carry.
    from safetensors.torch import load_file, save_file

    trained = run / "checkpoints/step_1/trainable.safetensors"  # what --merged reads
    saved_adapter = run / "checkpoints/step_1/adapter/adapter_model.safetensors"  # what the adapter export copies
    weights, adapter_weights = load_file(trained), load_file(saved_adapter)
    generator = torch.Generator().manual_seed(0)
    lora_b = [name for name in weights if "lora_B" in name]
    assert lora_b
    for name in lora_b:
        value = torch.randn(weights[name].shape, generator=generator) * 0.5
        weights[name] = value.to(weights[name].dtype)
        adapter_weights[name.replace(".default", "")] = value.to(adapter_weights[name.replace(".default", "")].dtype)
    save_file(weights, trained)
    save_file(adapter_weights, saved_adapter)
    out = run_warm(warm_cli, "export", str(run), "--out", str(merged), "--merged")
    assert out.returncode == 0, out.stderr
    assert "base 'base-4bit'" in out.stdout and "note: the base is quantized: dequantized to bfloat16" in out.stdout
    assert "quantization_config" not in json.loads((merged / "config.json").read_text())
    plain = AutoModelForCausalLM.from_pretrained(merged)
    kinds = {type(module).__name__ for module in plain.modules()}
    assert "Linear4bit" not in kinds and plain.model.layers[0].self_attn.q_proj.weight.dtype == torch.bfloat16

    # The reference, by transformers and peft alone: the 4-bit base dequantized, the exported adapter on it.
    from peft import PeftModel

    adapter = tmp_path / "adapter"
    out = run_warm(warm_cli, "export", str(run), "--out", str(adapter))
    assert out.returncode == 0, out.stderr
    dequantized = AutoModelForCausalLM.from_pretrained(base).dequantize().float()
    base_logits = _logits(dequantized)
    expected = _logits(PeftModel.from_pretrained(dequantized, adapter))
    got = _logits(plain.float())
    effect = float((expected - base_logits).abs().max())
    assert effect > 1e-2, effect  # the adapter changes the answer
    assert float((got - expected).abs().max()) < effect / 20, (effect, float((got - expected).abs().max()))  # the merged model is base + adapter, to bf16's rounding
