"""Export a run's trained model: its LoRA adapter alone (PEFT format), or merged into the base as a
plain transformers checkpoint that vLLM or transformers load without arc-console or peft."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from arc_console import UserError
from arc_console.rundir.atomic import staged_folder
from arc_console.engine.model_path import resolve_model_path
from arc_console.engine.checkpoint_files import find_checkpoint, read_state

ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")
EXPORT_INFO = "arc_console_export.json"
DTYPES = ("float32", "bfloat16", "float16")


class ExportError(UserError, ValueError):
    """The checkpoint cannot be exported as asked; one line saying why."""


@dataclass
class ExportResult:
    out: Path
    kind: str  # adapter | merged
    base_model: str
    step: int
    notes: list[str] = field(default_factory=list)


def base_model_name(model: str) -> str:
    """How the export names its base: a hub id as it is, the built-in model by its arc-console name,
    a local folder by its folder name (an absolute path would not mean anything on another machine)."""
    if model in ("tiny", "tiny-random") or not Path(model).expanduser().exists():
        return model
    return Path(model).expanduser().resolve().name


def export_checkpoint(source: Path, out: Path, merged: bool, dtype: str | None = None) -> ExportResult:
    """Export the checkpoint `source` (or a run directory's latest) to the new folder `out`."""
    checkpoint = find_checkpoint(source)
    state = read_state(checkpoint)
    config, step = state.config, state.step
    model = str(config.get("model", ""))
    lora_r = int(config.get("lora_r", 0))
    result = ExportResult(out, "merged" if merged else "adapter", base_model_name(model), step)
    if not merged and lora_r == 0:
        raise ExportError(f"{checkpoint}: this run trained every weight (lora_r 0), so it has no adapter; "
                          "export the whole model with --merged")
    if lora_r > 0 and not all((checkpoint / "adapter" / name).exists() for name in ADAPTER_FILES):
        raise ExportError(f"{checkpoint}: no adapter/ folder with {' and '.join(ADAPTER_FILES)}")
    with staged_folder(out) as staging:
        if merged:
            _write_merged(checkpoint, config, staging, dtype, result)
        else:
            _write_adapter(checkpoint / "adapter", staging, dtype, result.base_model)
        info = {"kind": result.kind, "base_model": result.base_model, "step": step, "lora_r": lora_r,
                "lora_alpha": config.get("lora_alpha"), "dtype": dtype, "objective": config.get("objective"),
                "notes": result.notes}
        (staging / EXPORT_INFO).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return result


def _write_adapter(adapter: Path, staging: Path, dtype: str | None, base_name: str) -> None:
    settings = json.loads((adapter / "adapter_config.json").read_text(encoding="utf-8"))
    settings["base_model_name_or_path"] = base_name
    (staging / "adapter_config.json").write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
    if dtype is None:
        shutil.copyfile(adapter / "adapter_model.safetensors", staging / "adapter_model.safetensors")
        return
    import torch
    from safetensors.torch import load_file, save_file

    weights = load_file(str(adapter / "adapter_model.safetensors"))
    save_file({k: v.to(getattr(torch, dtype)) for k, v in weights.items()}, str(staging / "adapter_model.safetensors"))


def _saved_dtype(base_path: str) -> str | None:
    try:
        config = json.loads((Path(base_path) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # a hub id: transformers reads it
    value = config.get("dtype") or config.get("torch_dtype")
    return value if value in DTYPES else None


def _is_quantized(model: Any) -> bool:
    return getattr(model.config, "quantization_config", None) is not None


def _write_merged(checkpoint: Path, config: dict[str, Any], staging: Path, dtype: str | None,
                  result: ExportResult) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    base_path = resolve_model_path(str(config.get("model", "")))
    device = "cuda" if torch.cuda.is_available() else "cpu"
    load_dtype = dtype or _saved_dtype(base_path) or "bfloat16"
    base = AutoModelForCausalLM.from_pretrained(base_path, dtype=getattr(torch, load_dtype), device_map=device)
    if _is_quantized(base):
        # Merging into 4-bit weights would round the adapter away: dequantize first, merge in bf16.
        base = base.dequantize() or base
        load_dtype = dtype or "bfloat16"
        base = base.to(getattr(torch, load_dtype))
        result.notes.append(f"the base is quantized: dequantized to {load_dtype} before merging")
    elif config.get("backend") == "unsloth" and config.get("load_in_4bit"):
        result.notes.append("the adapter was trained on a 4-bit quantization of this base; merged into its "
                            f"{load_dtype} weights")
    if int(config.get("lora_r", 0)) > 0:
        from peft import PeftModel

        model = PeftModel.from_pretrained(base, str(checkpoint / "adapter")).merge_and_unload()
    else:
        model = _with_trained_weights(base, checkpoint)
    model = model.to(getattr(torch, dtype)) if dtype else model
    model.save_pretrained(staging)
    AutoTokenizer.from_pretrained(base_path).save_pretrained(staging)


def _with_trained_weights(model: Any, checkpoint: Path) -> Any:
    """A run that trained every weight: its checkpoint holds them all."""
    from safetensors.torch import load_file

    from arc_console.engine.checkpoint_files import WEIGHTS

    weights = load_file(str(checkpoint / WEIGHTS))
    _, unexpected = model.load_state_dict(weights, strict=False)
    trained = set(weights) - set(unexpected)
    if unexpected or not trained:
        raise ExportError(f"{checkpoint}: its weights do not match the base model")
    return model
