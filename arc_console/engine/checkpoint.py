"""Save and restore the complete training state: weights being trained, optimizer, scheduler, RNG, trainer state.

A checkpoint is written into a hidden staging folder and renamed into place, so checkpoints/step_N/
is either complete or absent. Loading uses only safe loaders: safetensors for weights and
torch.load(weights_only=True) for optimizer and RNG state. Finding and reading a checkpoint without
torch: checkpoint_files.py.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from arc_console.rundir.atomic import atomic_write_text, staged_folder
from arc_console.engine.backends import Policy
from arc_console.engine.checkpoint_files import (  # re-exported: the torch-free half, where its users import it from
    OPTIMIZER,
    RNG,
    STATE,
    WEIGHTS,
    CheckpointError,
    TrainerState,
    checkpoint_dir,
    find_checkpoint,
    latest_checkpoint,
    read_state,
)

__all__ = [
    "OPTIMIZER", "RNG", "STATE", "WEIGHTS", "CheckpointError", "TrainerState", "checkpoint_dir", "find_checkpoint",
    "latest_checkpoint", "read_state", "restore_checkpoint", "save_checkpoint",
]


def save_checkpoint(checkpoints: Path, policy: Policy, optimizer: torch.optim.Optimizer,
                    scheduler: torch.optim.lr_scheduler.LRScheduler, state: TrainerState) -> Path:
    target = checkpoint_dir(checkpoints, state.step)
    with staged_folder(target) as staging:
        weights = {name: p.detach().to("cpu").contiguous() for name, p in policy.trainable_parameters().items()}
        save_file(weights, str(staging / WEIGHTS))
        if hasattr(policy.model, "peft_config"):
            policy.model.save_pretrained(staging / "adapter")  # the adapter as users load it
        torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}, staging / OPTIMIZER)
        rng = {"torch": torch.get_rng_state(), "python": random.getstate()}
        if torch.cuda.is_available():
            rng["cuda"] = torch.cuda.get_rng_state_all()
        torch.save(rng, staging / RNG)
        atomic_write_text(staging / STATE, state.to_json())
    return target


def save_final_model(target: Path, policy: Policy) -> None:
    """final_model/: the adapter (or the whole model) and the tokenizer, swapped in whole (staged_folder)."""
    with staged_folder(target) as staging:
        policy.model.save_pretrained(staging)
        policy.tokenizer.save_pretrained(staging)


def restore_checkpoint(checkpoint: Path, policy: Policy, optimizer: torch.optim.Optimizer,
                       scheduler: torch.optim.lr_scheduler.LRScheduler) -> TrainerState:
    try:
        return _restore(checkpoint, policy, optimizer, scheduler)
    except CheckpointError:
        raise
    except Exception as exc:  # a damaged or hostile file: safe loaders refuse it, we say which
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{checkpoint}: cannot be loaded ({type(exc).__name__}: {first_line[:200]})") from None


def _restore(checkpoint: Path, policy: Policy, optimizer: torch.optim.Optimizer,
             scheduler: torch.optim.lr_scheduler.LRScheduler) -> TrainerState:
    state = read_state(checkpoint)
    params = policy.trainable_parameters()
    weights = load_file(str(checkpoint / WEIGHTS))
    if set(weights) != set(params):
        raise CheckpointError(f"{checkpoint}: its trained weights do not match this model and LoRA setting")
    with torch.no_grad():
        for name, tensor in weights.items():
            params[name].copy_(tensor.to(params[name].device, params[name].dtype))
    saved = torch.load(checkpoint / OPTIMIZER, weights_only=True, map_location="cpu")
    optimizer.load_state_dict(saved["optimizer"])
    scheduler.load_state_dict(saved["scheduler"])
    rng = torch.load(checkpoint / RNG, weights_only=True)
    torch.set_rng_state(rng["torch"])
    random.setstate(_as_python_random_state(rng["python"]))
    if "cuda" in rng and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])
    return state


def _as_python_random_state(value: Any) -> tuple:
    version, internal, gauss = value
    return (version, tuple(internal), gauss)
