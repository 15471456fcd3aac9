"""Build GPT-OSS checkpoints locally: random weights at any shape plus a harmony tokenizer.

No hub access is needed anywhere: the tiny model and the GPU benchmarks start from here.
"""

from __future__ import annotations

import json
import string
from dataclasses import dataclass
from pathlib import Path

HARMONY_SPECIAL_TOKENS = [
    "<|endoftext|>",
    "<|startoftext|>",
    "<|start|>",
    "<|end|>",
    "<|message|>",
    "<|channel|>",
    "<|return|>",
    "<|constrain|>",
    "<|call|>",
]
UNKNOWN_TOKEN = "<|unk|>"


@dataclass(frozen=True)
class ModelShape:
    num_hidden_layers: int
    hidden_size: int
    intermediate_size: int
    num_attention_heads: int
    num_key_value_heads: int
    head_dim: int
    num_local_experts: int
    num_experts_per_tok: int
    vocab_size: int | None  # None: exactly the local tokenizer's size
    sliding_window: int = 128


SHAPES: dict[str, ModelShape] = {
    # About 0.3 M parameters: fast enough to train on a laptop CPU.
    "tiny": ModelShape(2, 64, 64, 4, 2, 16, 4, 2, None),
    "small": ModelShape(4, 256, 256, 8, 2, 32, 8, 2, None),
    # The warm-started built-in model (about 1.8 M parameters, 7 MB in float32).
    "tiny-arc": ModelShape(4, 128, 256, 4, 2, 32, 4, 2, None),
    # The real gpt-oss-20b shape (20.9 B parameters).
    "gpt-oss-20b": ModelShape(24, 2880, 2880, 64, 8, 64, 32, 4, 201088),
}


def build_tokenizer():  # -> transformers.PreTrainedTokenizerFast
    """A character-level tokenizer with the harmony special tokens: one token per digit, space, letter.

    Only printable ASCII gets a token (prompts are ASCII); anything else becomes <|unk|>.
    """
    from tokenizers import Tokenizer, decoders, models
    from transformers import PreTrainedTokenizerFast

    characters = [ch for ch in string.printable if ch not in "\r\x0b\x0c"]
    vocab = {token: index for index, token in enumerate(HARMONY_SPECIAL_TOKENS + [UNKNOWN_TOKEN] + characters)}
    core = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token=UNKNOWN_TOKEN))
    core.decoder = decoders.Fuse()
    core.add_special_tokens(HARMONY_SPECIAL_TOKENS + [UNKNOWN_TOKEN])
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token="<|startoftext|>",
        eos_token="<|return|>",
        pad_token="<|endoftext|>",
        unk_token=UNKNOWN_TOKEN,
        clean_up_tokenization_spaces=False,
    )


def build_config(shape: ModelShape, vocab_size: int):  # -> GptOssConfig
    from transformers import GptOssConfig

    return GptOssConfig(
        num_hidden_layers=shape.num_hidden_layers,
        hidden_size=shape.hidden_size,
        intermediate_size=shape.intermediate_size,
        num_attention_heads=shape.num_attention_heads,
        num_key_value_heads=shape.num_key_value_heads,
        head_dim=shape.head_dim,
        num_local_experts=shape.num_local_experts,
        num_experts_per_tok=shape.num_experts_per_tok,
        vocab_size=shape.vocab_size or vocab_size,
        sliding_window=shape.sliding_window,
        layer_types=["sliding_attention" if i % 2 == 0 else "full_attention" for i in range(shape.num_hidden_layers)],
        max_position_embeddings=4096 if shape.vocab_size is None else 131072,
        tie_word_embeddings=False,
    )


def make_model(shape_name: str, out: Path, seed: int = 0, dtype: str = "float32", device: str | None = None) -> Path:
    """Write a GPT-OSS checkpoint with random weights and the local tokenizer to `out`.

    The 20B shape is built on the GPU when there is one (about 15 s there, minutes on a CPU).
    """
    import torch
    from transformers import GptOssForCausalLM
    from transformers.utils import logging as hf_logging

    from arc_console.rundir.atomic import apply_umask_modes

    hf_logging.disable_progress_bar()

    if shape_name not in SHAPES:
        raise ValueError(f"unknown shape {shape_name!r} (known: {', '.join(SHAPES)})")
    tokenizer = build_tokenizer()
    config = build_config(SHAPES[shape_name], len(tokenizer))
    config.pad_token_id = tokenizer.pad_token_id
    config.eos_token_id = [tokenizer.convert_tokens_to_ids(t) for t in ("<|return|>", "<|end|>", "<|call|>")]
    torch.manual_seed(seed)
    device = device or ("cuda" if torch.cuda.is_available() and shape_name == "gpt-oss-20b" else "cpu")
    previous = torch.get_default_dtype()
    torch.set_default_dtype(getattr(torch, dtype))
    try:
        with torch.device(device):
            model = GptOssForCausalLM(config)
    finally:
        torch.set_default_dtype(previous)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    (out / "arc_console_model.json").write_text(json.dumps({"shape": shape_name, "seed": seed, "dtype": dtype}))
    apply_umask_modes(out, itself=False)  # save_pretrained leaves its weights 0600
    return out
