"""The model to evaluate: anything `train` accepts, a run directory, or a checkpoint.

A run directory gives its final model, else its latest checkpoint (model_source.py finds which,
without torch). A checkpoint is rebuilt as the trainer built it (same base, same LoRA setting) and
its trained weights copied in: an adapter on its base, or full weights where the run trained them all.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from safetensors.torch import load_file

from arc_console.decoding.rollout_engine import RolloutEngine, choose_rollout_engine
from arc_console.engine.backends import BackendError, Policy, load_policy
from arc_console.engine.checkpoint_files import WEIGHTS, CheckpointError, read_state
from arc_console.evaluation.model_source import ModelSource, locate_eval_model

DEFAULT_CONTEXT = 4096


def load_eval_model(spec: str, backend: str | None = None) -> tuple[RolloutEngine, str]:
    """(the rollout engine of a policy ready for inference, a sentence saying what was loaded).
    Raises BackendError or CheckpointError."""
    source = locate_eval_model(spec)
    return load_located_model(source, backend), source.described


def load_located_model(source: ModelSource, backend: str | None = None) -> RolloutEngine:
    """Load what locate_eval_model found, ready for inference."""
    if source.kind == "checkpoint":
        return _load_checkpoint(source.folder, backend)
    if source.kind in ("final_model", "adapter"):
        return _load_folder(source.folder, backend, source.run_config)
    return _inference_ready(load_policy(source.spec, backend or "auto", 0, 1, DEFAULT_CONTEXT))


def _load_folder(folder: Path, backend: str | None, run_config: dict[str, Any]) -> RolloutEngine:
    """A saved final model: full weights (config.json) or a peft adapter on the run's base model."""
    if (folder / "config.json").exists():
        return _inference_ready(load_policy(str(folder), backend or run_config.get("backend", "auto"), 0, 1,
                                            DEFAULT_CONTEXT))
    from peft import PeftModel

    try:
        adapter = json.loads((folder / "adapter_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BackendError(f"{folder}: unreadable adapter_config.json ({exc})") from None
    base = run_config.get("model") or adapter.get("base_model_name_or_path")
    if not base:
        raise BackendError(f"{folder}: an adapter without a base model")
    policy = load_policy(str(base), backend or run_config.get("backend", "auto"), 0, 1, DEFAULT_CONTEXT)
    try:
        policy.model = PeftModel.from_pretrained(policy.model, str(folder))
    except (OSError, ValueError, RuntimeError) as exc:
        raise BackendError(f"{folder}: cannot load the adapter ({str(exc).splitlines()[0][:200]})") from None
    return _inference_ready(policy)


def _load_checkpoint(checkpoint: Path, backend: str | None) -> RolloutEngine:
    config = read_state(checkpoint).config
    policy = load_policy(config["model"], backend or config.get("backend", "auto"), int(config.get("lora_r", 0)),
                         int(config.get("lora_alpha", 1)), int(config.get("max_seq_length", DEFAULT_CONTEXT)),
                         bool(config.get("load_in_4bit", True)), int(config.get("seed", 0)))
    params = policy.trainable_parameters()
    try:
        weights = load_file(str(checkpoint / WEIGHTS))
    except Exception as exc:  # a damaged file: the safe loader refuses it, we say which
        raise CheckpointError(f"{checkpoint}: cannot be loaded ({type(exc).__name__})") from None
    if set(weights) != set(params):
        raise CheckpointError(f"{checkpoint}: its trained weights do not match the model it names")
    import torch

    with torch.no_grad():
        for name, tensor in weights.items():
            params[name].copy_(tensor.to(params[name].device, params[name].dtype))
    return _inference_ready(policy)


def _inference_ready(policy: Policy) -> RolloutEngine:
    """The trainer's rollout engine choice: the static engine for GPT-OSS models, else generate."""
    for parameter in policy.model.parameters():
        parameter.requires_grad_(False)
    policy.for_inference()
    return choose_rollout_engine(policy)


def device_name(policy: Policy) -> str:
    import torch

    if policy.device.type == "cuda":
        return f"cuda:{policy.device.index or 0} ({torch.cuda.get_device_name(policy.device)})"
    return "cpu"
