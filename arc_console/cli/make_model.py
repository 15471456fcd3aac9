"""`arc-console make-model`: write a GPT-OSS checkpoint with random weights and the local tokenizer, or a
quantized copy of one (`--quantize 4bit`, in transformers' layout or Unsloth's pre-quantized one)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from arc_console.cli.errors import UsageError

LAYOUTS = ("transformers", "unsloth-bnb-4bit")


def add_make_model_parser(subparsers: Any) -> None:
    from arc_console.engine.model_factory import SHAPES

    parser = subparsers.add_parser("make-model", help="write a random-weight GPT-OSS checkpoint (no hub needed)",
                                   description="Write a GPT-OSS model with random weights plus the local harmony "
                                               "tokenizer, for GPU tests and benchmarks without the hub; or, with "
                                               "--from, a 4-bit copy of a local GPT-OSS checkpoint.")
    parser.add_argument("--shape", default=None, choices=sorted(SHAPES), help="model shape (default tiny)")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR")
    parser.add_argument("--dtype", default=None, choices=["float32", "bfloat16"],
                        help="weights' dtype (default: bfloat16 for gpt-oss-20b, float32 otherwise)")
    parser.add_argument("--device", default=None, help="build (and quantize) on this device (default: cuda when present)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quantize", choices=["4bit"], help="store it quantized with bitsandbytes (NF4), as "
                        "pre-quantized checkpoints are (see --layout)")
    parser.add_argument("--layout", choices=LAYOUTS, default=None,
                        help="with --quantize 4bit: transformers (default: the Linear layers in 4 bits, GPT-OSS's "
                             "experts left in --dtype) or unsloth-bnb-4bit (every expert its own 4-bit Linear, the "
                             "layout of unsloth/gpt-oss-20b-unsloth-bnb-4bit, which the unsloth and hf backends load)")
    parser.add_argument("--from", dest="source", type=Path, metavar="DIR",
                        help="with --quantize 4bit --layout unsloth-bnb-4bit: quantize this local 16- or 32-bit "
                             "GPT-OSS checkpoint instead of building a random one")
    parser.set_defaults(handler=run_make_model)


def _check(args: argparse.Namespace) -> None:
    """Every usage problem, before anything is written."""
    if args.out.exists() and (not args.out.is_dir() or any(args.out.iterdir())):
        raise UsageError(f"{args.out}: exists and is not empty")
    if args.layout is not None and args.quantize is None:
        raise UsageError("--layout needs --quantize 4bit")
    if args.source is None:
        return
    if args.quantize is None or args.layout != "unsloth-bnb-4bit":
        raise UsageError("--from needs --quantize 4bit --layout unsloth-bnb-4bit")
    if args.shape is not None or args.dtype is not None or args.seed != 0:
        raise UsageError("--from converts an existing checkpoint: --shape, --dtype and --seed do not apply")
    config_file = args.source / "config.json"
    if not config_file.is_file():
        raise UsageError(f"--from {args.source}: not a model folder (no config.json)")
    try:
        config = json.loads(config_file.read_text())
    except (OSError, ValueError) as exc:
        raise UsageError(f"--from {args.source}: cannot read config.json ({exc})") from None
    if config.get("model_type") != "gpt_oss":
        raise UsageError(f"--from {args.source}: not a GPT-OSS model (model_type {config.get('model_type')!r})")
    if "quantization_config" in config:
        raise UsageError(f"--from {args.source}: already quantized; give a 16- or 32-bit checkpoint")
    from arc_console.engine.prequantized import checkpoint_experts_layout

    if checkpoint_experts_layout(args.source) != "fused":
        raise UsageError(f"--from {args.source}: no safetensors weights with transformers' fused GPT-OSS experts")
    if args.out.resolve() == args.source.resolve():
        raise UsageError("--out must differ from --from")


def run_make_model(args: argparse.Namespace) -> int:
    _check(args)
    from arc_console.engine.model_factory import make_model

    shape = args.shape or "tiny"
    dtype = args.dtype or ("bfloat16" if shape == "gpt-oss-20b" else "float32")
    if args.quantize is None:
        path = make_model(shape, args.out, seed=args.seed, dtype=dtype, device=args.device)
        print(f"wrote {shape} GPT-OSS ({dtype}) to {path}")
        return 0
    import tempfile

    from arc_console.rundir.atomic import staged_folder

    args.out.parent.mkdir(parents=True, exist_ok=True)
    if args.layout == "unsloth-bnb-4bit":
        from arc_console.engine.prequantized import write_unsloth_bnb4bit

        with tempfile.TemporaryDirectory(prefix=".unquantized-", dir=args.out.parent) as unquantized:
            source = args.source
            if source is None:
                source = make_model(shape, Path(unquantized), seed=args.seed, dtype=dtype, device=args.device)
            with staged_folder(args.out) as staging:
                write_unsloth_bnb4bit(source, staging, device=args.device)
        what = f"{args.source}" if args.source else f"{shape} GPT-OSS ({dtype})"
        print(f"wrote {what} in Unsloth's bnb-4bit layout (every expert and attention projection a 4-bit NF4 "
              f"Linear) to {args.out}")
        return 0
    from arc_console.engine.quantize import quantize_4bit

    with tempfile.TemporaryDirectory(prefix=".unquantized-", dir=args.out.parent) as unquantized:
        make_model(shape, Path(unquantized), seed=args.seed, dtype=dtype, device=args.device)
        with staged_folder(args.out) as staging:
            quantize_4bit(Path(unquantized), staging)
    print(f"wrote {shape} GPT-OSS ({dtype}, Linear layers in 4-bit NF4) to {args.out}")
    return 0
