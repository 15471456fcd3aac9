"""A plain CPU evaluation with test-time steps prints nothing that reads as a failure: stderr holds the
CLI's own lines only (the real command in a subprocess, read line by line); its eval.json records the
test-time settings with the others. The libraries' messages that
are silenced are silenced narrowly (engine/library_noise.py): their exact wording at their one module,
checked against the installed library, while every other message of theirs still shows."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from arc_console.engine import library_noise
from arc_console.evaluation import test_time_settings

CLI = [sys.executable, "-m", "arc_console"]


@pytest.mark.slow
def test_a_cpu_eval_with_test_time_steps_prints_only_its_own_lines(tmp_path: Path) -> None:
    out = subprocess.run([*CLI, "eval", "--headless", "--limit", "1", "--augment", "none", "--samples", "1",
                          "--max-new-tokens", "12", "--test-time-steps", "1", "--test-time-candidates", "2",
                          "--test-time-augment", "none", "--out", "eval"],
                         capture_output=True, text=True, cwd=tmp_path, stdin=subprocess.DEVNULL, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stderr.splitlines()
    assert lines and [line for line in lines if not line.startswith("arc-console: ")] == []
    assert not [line for line in lines if any(word in line.lower() for word in ("warn", "error", "fail"))]
    # eval.json's settings are every setting the answers came from, the test-time ones included
    settings = json.loads((tmp_path / "eval" / "eval.json").read_text())["settings"]
    assert settings["test_time"]["mode"] == "rl" and settings["test_time"]["trained"] == "every weight, restored per task"
    assert settings["test_time"]["rl"] == test_time_settings.TestTimeSettings(
        steps=1, candidates=2, augment="none", learning_rate=test_time_settings.default_learning_rate("rl", "full")).to_dict()
    assert settings["augment"] == "none" and settings["samples"] == 1


def test_the_silenced_bitsandbytes_message_is_the_installed_one() -> None:
    """The wording matched is the wording the installed bitsandbytes logs, from the module named."""
    import importlib.util

    spec = importlib.util.find_spec(library_noise.BNB_CPU_KERNEL_LOGGER)
    assert spec is not None and spec.origin is not None
    source = Path(spec.origin).read_text(encoding="utf-8")
    assert f'"{library_noise.BNB_CPU_KERNEL_MESSAGE}%s.' in source


def test_only_that_bitsandbytes_message_is_silenced() -> None:
    code = (
        "import logging\n"
        "from arc_console.engine.library_noise import quiet_library_noise\n"
        "quiet_library_noise()\n"
        "logger = logging.getLogger('bitsandbytes.backends.cpu.ops')\n"
        "logger.warning('Failed to load CPU gemm_4bit_forward from kernels-community: %s. Please make sure you "
        "already `pip install kernels` and the kernels >= 0.11.1', 'trust_remote_code')\n"
        "logger.warning('another bitsandbytes warning')\n"
        "logging.getLogger('bitsandbytes.functional').warning('Failed to load CPU gemm_4bit_forward from "
        "kernels-community: elsewhere')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stderr.splitlines() == ["another bitsandbytes warning",
                                       "Failed to load CPU gemm_4bit_forward from kernels-community: elsewhere"]


def test_only_that_future_warning_is_silenced() -> None:
    """transformers' deprecation of the name peft asks for is silenced; the same words from elsewhere are not."""
    code = (
        "import warnings\n"
        "from arc_console.engine.library_noise import quiet_library_noise\n"
        "quiet_library_noise()\n"
        "from transformers import GptOssConfig, GptOssForCausalLM\n"
        "model = GptOssForCausalLM(GptOssConfig(num_hidden_layers=1, hidden_size=8, intermediate_size=8,\n"
        "    num_attention_heads=2, num_key_value_heads=1, head_dim=4, num_local_experts=2, num_experts_per_tok=1,\n"
        "    vocab_size=16))\n"
        "assert model.is_gradient_checkpointing is False\n"  # as peft asks when it wraps the model in a LoRA
        "warnings.warn('`is_gradient_checkpointing` is deprecated and will be removed in v6 (not transformers)',\n"
        "              FutureWarning)\n"
    )
    out = subprocess.run([sys.executable, "-W", "default", "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    shown = [line for line in out.stderr.splitlines() if "is_gradient_checkpointing" in line]
    assert len(shown) == 1 and "(not transformers)" in shown[0], out.stderr
