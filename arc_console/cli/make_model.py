"""`arc-console make-model`: write a GPT-OSS checkpoint with random weights and the local tokenizer."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from arc_console.cli.errors import UsageError


def add_make_model_parser(subparsers: Any) -> None:
    from arc_console.engine.model_factory import SHAPES

    parser = subparsers.add_parser("make-model", help="write a random-weight GPT-OSS checkpoint (no hub needed)",
                                   description="Write a GPT-OSS model with random weights plus the local harmony "
                                               "tokenizer, for GPU tests and benchmarks without the hub.")
    parser.add_argument("--shape", default="tiny", choices=sorted(SHAPES), help="model shape (default tiny)")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR")
    parser.add_argument("--dtype", default=None, choices=["float32", "bfloat16"],
                        help="weights' dtype (default: bfloat16 for gpt-oss-20b, float32 otherwise)")
    parser.add_argument("--device", default=None, help="build on this device (default: cuda when present)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quantize", choices=["4bit"], help="store it quantized with bitsandbytes (NF4), as "
                        "pre-quantized checkpoints are: the Linear layers only, GPT-OSS's experts stay in --dtype")
    parser.set_defaults(handler=run_make_model)


def run_make_model(args: argparse.Namespace) -> int:
    from arc_console.engine.model_factory import make_model

    if args.out.exists() and any(args.out.iterdir()):
        raise UsageError(f"{args.out}: exists and is not empty")
    dtype = args.dtype or ("bfloat16" if args.shape == "gpt-oss-20b" else "float32")
    if args.quantize is None:
        path = make_model(args.shape, args.out, seed=args.seed, dtype=dtype, device=args.device)
        print(f"wrote {args.shape} GPT-OSS ({dtype}) to {path}")
        return 0
    import tempfile

    from arc_console.rundir.atomic import staged_folder
    from arc_console.engine.quantize import quantize_4bit

    args.out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".unquantized-", dir=args.out.parent) as unquantized:
        make_model(args.shape, Path(unquantized), seed=args.seed, dtype=dtype, device=args.device)
        with staged_folder(args.out) as staging:
            quantize_4bit(Path(unquantized), staging)
    print(f"wrote {args.shape} GPT-OSS ({dtype}, Linear layers in 4-bit NF4) to {args.out}")
    return 0
