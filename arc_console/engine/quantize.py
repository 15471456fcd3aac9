"""Write a bitsandbytes 4-bit (NF4) copy of a local model, as pre-quantized hub checkpoints are stored.

transformers' bitsandbytes path quantizes every nn.Linear (GPT-OSS: the attention projections) and
leaves GPT-OSS's experts, which are 3-D tensors rather than Linear layers, in their dtype. Unsloth's
gpt-oss bnb-4bit checkpoints split the experts into one Linear4bit each; this does not do that.
"""

from __future__ import annotations

from pathlib import Path


def quantize_4bit(source: Path, out: Path) -> Path:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    settings = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.bfloat16)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = AutoModelForCausalLM.from_pretrained(source, quantization_config=settings, device_map=device)
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(source).save_pretrained(out)
    return out
