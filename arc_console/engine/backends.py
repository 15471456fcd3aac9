"""Load a policy to train: `hf` (transformers + peft, CPU or GPU) or `unsloth` (4-bit, GPU).

The built-in tiny model is built locally on first use and cached (model_path.py); nothing is downloaded for it.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import torch

from arc_console.engine.model_path import (  # re-exported: the torch-free half, where its users import it from
    TINY_MODEL_VERSION,
    BackendError,
    builtin_tiny_path,
    cache_dir,
    resolve_model_path,
    tiny_model_path,
)

__all__ = [
    "LORA_TARGETS", "SMALL_MODEL_PARAMETERS", "STOP_TOKENS", "TINY_MODEL_VERSION", "BackendError", "Policy",
    "apply_cpu_threads", "builtin_tiny_path", "cache_dir", "device_label", "load_policy", "resolve_backend",
    "resolve_model_path", "tiny_model_path",
]

LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj"]
STOP_TOKENS = ("<|return|>", "<|end|>", "<|call|>")


@dataclass
class Policy:
    """A causal LM ready to sample from and train, with what the rollout and losses need to know."""

    model: Any  # a transformers model, usually wrapped by peft
    tokenizer: Any
    backend: str
    model_name: str
    device: torch.device
    stop_token_ids: list[int]
    share_prefill: bool = True  # decoding/rollout.py turns it off if this backend's generate refuses a given cache

    def base_causal_lm(self) -> Any:
        """The underlying *ForCausalLM, below any peft wrapper."""
        model = self.model
        return model.get_base_model() if hasattr(model, "get_base_model") else model

    def trainable_parameters(self) -> dict[str, torch.nn.Parameter]:
        return {name: p for name, p in self.model.named_parameters() if p.requires_grad}

    def for_inference(self) -> None:
        if self.backend == "unsloth":
            from unsloth import FastLanguageModel

            FastLanguageModel.for_inference(self.model)
        self.model.eval()

    def for_training(self) -> None:
        if self.backend == "unsloth":
            from unsloth import FastLanguageModel

            FastLanguageModel.for_training(self.model)
        # GPT-OSS has no dropout; train() only matters to wrappers that check the mode.
        self.model.train()


SMALL_MODEL_PARAMETERS = 10_000_000


def apply_cpu_threads(requested: int, policy: Policy) -> int:
    """Set torch's CPU thread count for this run and return it (unchanged on a GPU).

    requested 0 picks one thread for a small model: its matrices are too small for a second thread
    to pay, and on a busy machine a parallel op waits for whichever of its threads is descheduled."""
    if policy.device.type != "cpu":
        return torch.get_num_threads()
    threads = requested
    if threads == 0:
        parameters = sum(p.numel() for p in policy.base_causal_lm().parameters())
        threads = 1 if parameters < SMALL_MODEL_PARAMETERS else torch.get_num_threads()
    torch.set_num_threads(threads)
    return threads


def resolve_backend(backend: str) -> str:
    if backend == "auto":
        return "unsloth" if torch.cuda.is_available() else "hf"
    return backend


def _stop_token_ids(tokenizer: Any) -> list[int]:
    ids = []
    for token in STOP_TOKENS:
        token_id = tokenizer.convert_tokens_to_ids(token)
        if isinstance(token_id, int) and token_id != tokenizer.unk_token_id:
            ids.append(token_id)
    if tokenizer.eos_token_id is not None and tokenizer.eos_token_id not in ids:
        ids.append(tokenizer.eos_token_id)
    return ids


def load_policy(model: str, backend: str, lora_r: int, lora_alpha: int, max_seq_length: int,
                load_in_4bit: bool = True, seed: int = 0) -> Policy:
    backend = resolve_backend(backend)
    path = resolve_model_path(model)
    if backend == "unsloth":
        loaded, tokenizer = _load_unsloth(path, lora_r, lora_alpha, max_seq_length, load_in_4bit, seed)
        device = next(loaded.parameters()).device
    elif backend == "hf":
        loaded, tokenizer, device = _load_hf(path, lora_r, lora_alpha, seed)
    else:
        raise BackendError(f"unknown backend {backend!r}")
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
    return Policy(loaded, tokenizer, backend, model, device, _stop_token_ids(tokenizer))


def _load_hf(path: str, lora_r: int, lora_alpha: int, seed: int = 0) -> tuple[Any, Any, torch.device]:
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    from arc_console.engine.prequantized import is_split_checkpoint
    from arc_console.engine.split_experts import split_layout_modules

    hf_logging.disable_progress_bar()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
        with split_layout_modules() if is_split_checkpoint(path) else contextlib.nullcontext():  # Unsloth's bnb-4bit
            model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype).to(device)
    except OSError as exc:
        raise BackendError(f"{path}: cannot load model: {str(exc).splitlines()[0]}") from None
    model.config.use_cache = True
    if lora_r > 0:
        from peft import LoraConfig, get_peft_model

        lora = LoraConfig(r=lora_r, lora_alpha=lora_alpha, lora_dropout=0.0, target_modules=LORA_TARGETS,
                          bias="none", task_type="CAUSAL_LM")
        # The adapters' random start from --seed alone (as Unsloth's random_state), not from whatever
        # the process drew before: two runs with one seed start equal, in one process or two.
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(seed)
            model = get_peft_model(model, lora)
    elif getattr(model.config, "quantization_config", None) is not None:
        raise BackendError(f"{path}: a quantized model trains through LoRA adapters only (--lora-r above 0)")
    else:
        model.requires_grad_(True)
    return model, tokenizer, device


def _load_unsloth(path: str, lora_r: int, lora_alpha: int, max_seq_length: int, load_in_4bit: bool,
                  seed: int) -> tuple[Any, Any]:
    if not torch.cuda.is_available():
        raise BackendError("the unsloth backend needs a CUDA GPU (use --backend hf on the CPU)")
    try:
        from unsloth import FastLanguageModel
    except ImportError as exc:
        raise BackendError(f"the unsloth backend needs unsloth: pip install 'arc-console[gpu]' ({exc})") from None
    model, tokenizer = FastLanguageModel.from_pretrained(
        model_name=path, max_seq_length=max_seq_length, load_in_4bit=load_in_4bit, dtype=None
    )
    if lora_r > 0:
        model = FastLanguageModel.get_peft_model(
            model, r=lora_r, lora_alpha=lora_alpha, lora_dropout=0.0, target_modules=LORA_TARGETS,
            bias="none", use_gradient_checkpointing="unsloth", random_state=seed,
        )
    return model, tokenizer


def device_label(device: torch.device) -> str:
    """The device as the log and the dashboard name it: "cpu", or "cuda:0 (NVIDIA H200)"."""
    if device.type == "cuda":
        return f"cuda:{device.index or 0} ({torch.cuda.get_device_name(device)})"
    return "cpu"
