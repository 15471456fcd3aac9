"""Pre-quantized GPT-OSS checkpoints in Unsloth's bnb-4bit layout: what 24 GB users download
(`unsloth/gpt-oss-20b-unsloth-bnb-4bit`), written here from any local GPT-OSS checkpoint for tests and
benchmarks, and recognised when a model is loaded.

The layout (split_experts.py says how it loads): every expert its own bitsandbytes NF4 Linear, 
`model.layers.L.mlp.experts.gate_up_projs.E.weight` = the fused checkpoint's gate_up_proj[E] transposed
([2I, H], x W^T), the same for down_projs; each 4-bit weight stored as its packed bytes plus the
statistics bitsandbytes serialises beside it (`weight.absmax`, `weight.quant_map`, `weight.nested_absmax`,
`weight.nested_quant_map`, `weight.quant_state.bitsandbytes__nf4`: double-quantised absmax, 64-value
blocks); the attention projections in 4 bits the same way; the router as `mlp.router.linear.weight` and
`.bias`, embeddings, lm_head, norms and sinks unquantised; config.json carrying the bitsandbytes
quantization_config. Unsloth tells this layout from the fused one by those tensor names.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import torch

SHARD_BYTES = 4 * 1024**3
LAYOUT_NAME = "unsloth-bnb-4bit"
_EXPERTS = re.compile(r"^(?P<prefix>.*\.mlp\.experts\.)(?P<which>gate_up_proj|down_proj)(?P<bias>_bias)?$")
_ROUTER = re.compile(r"^(?P<prefix>.*\.mlp\.router\.)(?P<what>weight|bias)$")
_ATTENTION_WEIGHT = re.compile(r"^.*\.self_attn\.[qkvo]_proj\.weight$")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja",
                   "generation_config.json")


def tensor_names(model_dir: Path) -> list[str]:
    """The checkpoint's tensor names, read from its safetensors index or headers (no weights loaded)."""
    index = model_dir / "model.safetensors.index.json"
    if index.is_file():
        return list(json.loads(index.read_text())["weight_map"])
    from safetensors import safe_open

    names: list[str] = []
    for shard in sorted(model_dir.glob("*.safetensors")):
        with safe_open(str(shard), framework="pt") as handle:
            names.extend(handle.keys())
    return names


def checkpoint_experts_layout(model_dir: Path) -> str:
    """"split" (one Linear per expert: Unsloth's pre-quantized layout), "fused" (transformers' stacked
    experts) or "unknown" (no safetensors to read)."""
    try:
        names = tensor_names(model_dir)
    except (OSError, ValueError, KeyError):
        return "unknown"
    if any(".experts.gate_up_projs." in name for name in names):
        return "split"
    return "fused" if names else "unknown"


def is_split_checkpoint(model_dir: str | Path) -> bool:
    path = Path(model_dir)
    return path.is_dir() and checkpoint_experts_layout(path) == "split"


def quantization_config(compute_dtype: torch.dtype) -> dict:
    """bitsandbytes' settings as transformers saves them for a 4-bit NF4, double-quantised model."""
    return {
        "quant_method": "bitsandbytes", "load_in_4bit": True, "load_in_8bit": False, "_load_in_4bit": True,
        "_load_in_8bit": False, "bnb_4bit_quant_type": "nf4", "bnb_4bit_use_double_quant": True,
        "bnb_4bit_compute_dtype": str(compute_dtype).removeprefix("torch."), "bnb_4bit_quant_storage": "uint8",
        "llm_int8_skip_modules": ["router", "lm_head"], "llm_int8_threshold": 6.0,
        "llm_int8_has_fp16_weight": False, "llm_int8_enable_fp32_cpu_offload": False,
    }


def quantized_tensors(name: str, weight: torch.Tensor, device: torch.device) -> dict[str, torch.Tensor]:
    """`name` ([out, in]) in NF4 as a bitsandbytes Linear4bit saves itself: the packed bytes under `name`,
    its statistics under `name.absmax` and the rest."""
    import bitsandbytes.functional as bnb_functional

    packed, state = bnb_functional.quantize_4bit(weight.to(device).contiguous(), blocksize=64, quant_type="nf4",
                                                 compress_statistics=True, quant_storage=torch.uint8)
    tensors = {name: packed}
    tensors.update({f"{name}.{key}": value for key, value in state.as_dict(packed=True).items()})
    return {key: value.detach().to("cpu").contiguous() for key, value in tensors.items()}


def converted_tensors(name: str, tensor: torch.Tensor, device: torch.device) -> Iterator[tuple[str, torch.Tensor]]:
    """One tensor of a fused GPT-OSS checkpoint as the split layout's tensors."""
    experts = _EXPERTS.match(name)
    if experts is not None:
        prefix, which = experts["prefix"], experts["which"] + "s"
        for expert in range(tensor.shape[0]):
            if experts["bias"]:
                yield f"{prefix}{which}.{expert}.bias", tensor[expert].contiguous()
            else:  # transformers keeps x @ W ([in, out]); a Linear keeps W^T ([out, in])
                yield from quantized_tensors(f"{prefix}{which}.{expert}.weight", tensor[expert].t(), device).items()
        return
    router = _ROUTER.match(name)
    if router is not None:
        yield f"{router['prefix']}linear.{router['what']}", tensor
    elif _ATTENTION_WEIGHT.match(name):
        yield from quantized_tensors(name, tensor, device).items()
    else:
        yield name, tensor


def _source_tensors(source: Path) -> Iterator[tuple[str, torch.Tensor]]:
    from safetensors import safe_open

    shards = sorted(source.glob("*.safetensors"))
    if not shards:
        raise FileNotFoundError(f"{source}: no safetensors weights to convert")
    for shard in shards:
        with safe_open(str(shard), framework="pt", device="cpu") as handle:
            for name in handle.keys():
                yield name, handle.get_tensor(name)


def write_unsloth_bnb4bit(source: Path, out: Path, device: str | None = None) -> Path:
    """Write `source` (a fused GPT-OSS checkpoint in 16 or 32 bits) to `out` in Unsloth's bnb-4bit layout,
    one tensor at a time (a 20B fits in memory a layer at a time). Quantises on `device` (default: cuda
    where there is one). `out` must not exist or be empty; the caller writes into a staging folder."""
    config = json.loads((source / "config.json").read_text())
    if config.get("model_type") != "gpt_oss":
        raise ValueError(f"{source}: not a GPT-OSS checkpoint (model_type {config.get('model_type')!r})")
    if "quantization_config" in config:
        raise ValueError(f"{source}: already quantized; give a 16- or 32-bit checkpoint")
    if checkpoint_experts_layout(source) != "fused":
        raise ValueError(f"{source}: its experts are not in transformers' fused layout")
    target = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    out.mkdir(parents=True, exist_ok=True)
    dtypes: set[torch.dtype] = set()
    shard_files: list[list[str]] = []
    pending: dict[str, torch.Tensor] = {}
    pending_bytes = 0
    for name, tensor in _source_tensors(source):
        if tensor.is_floating_point():
            dtypes.add(tensor.dtype)
        for new_name, new_tensor in converted_tensors(name, tensor, target):
            pending[new_name] = new_tensor.contiguous()
            pending_bytes += new_tensor.numel() * new_tensor.element_size()
        if pending_bytes >= SHARD_BYTES:
            shard_files.append(_save_shard(out, len(shard_files), pending))
            pending, pending_bytes = {}, 0
    if pending:
        shard_files.append(_save_shard(out, len(shard_files), pending))
    _write_index(out, shard_files)
    compute_dtype = torch.bfloat16 if torch.bfloat16 in dtypes else torch.float32
    config["quantization_config"] = quantization_config(compute_dtype)
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    for name in TOKENIZER_FILES:
        if (source / name).is_file():
            shutil.copy2(source / name, out / name)
    marker = source / "arc_console_model.json"
    described = json.loads(marker.read_text()) if marker.is_file() else {}
    (out / "arc_console_model.json").write_text(json.dumps({**described, "layout": LAYOUT_NAME}))
    return out


def _save_shard(out: Path, number: int, tensors: dict[str, torch.Tensor]) -> list[str]:
    from safetensors.torch import save_file

    name = f"model-{number + 1:05d}.safetensors"
    save_file(tensors, str(out / name), metadata={"format": "pt"})
    return [name, *tensors]


def _write_index(out: Path, shards: list[list[str]]) -> None:
    """Shards renamed model-0000K-of-0000N (transformers' naming) and the index that maps tensors to them."""
    total = len(shards)
    weight_map: dict[str, str] = {}
    size = 0
    for number, (name, *names) in enumerate(shards, start=1):
        final = f"model-{number:05d}-of-{total:05d}.safetensors"
        (out / name).rename(out / final)
        size += (out / final).stat().st_size
        weight_map.update(dict.fromkeys(names, final))
    index = {"metadata": {"total_size": size}, "weight_map": dict(sorted(weight_map.items()))}
    (out / "model.safetensors.index.json").write_text(json.dumps(index, indent=2) + "\n")
