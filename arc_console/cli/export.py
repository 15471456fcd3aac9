"""`arc-console export`: a run's adapter (PEFT) or its model merged into the base (plain transformers)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from arc_console.cli.errors import UsageError
from arc_console.engine.export import DTYPES


def add_export_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("export", help="write a run's adapter, or its merged model, for inference servers",
                                   description="Export a checkpoint (or a run directory's latest): the LoRA "
                                               "adapter in PEFT format, or with --merged the base with the adapter "
                                               "merged in, as a plain transformers checkpoint (vLLM, transformers).")
    parser.add_argument("source", type=Path, metavar="RUN_DIR|CHECKPOINT")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="a new (or empty) folder")
    parser.add_argument("--merged", action="store_true", help="merge the adapter into the base model")
    parser.add_argument("--dtype", choices=DTYPES, help="weights' dtype (default: the base model's)")
    parser.set_defaults(handler=run_export)


def run_export(args: argparse.Namespace) -> int:
    from arc_console.engine.export import export_checkpoint

    if not args.source.exists():
        raise UsageError(f"{args.source}: no such run directory or checkpoint")
    if args.out.exists() and (not args.out.is_dir() or any(args.out.iterdir())):
        raise UsageError(f"{args.out}: exists and is not an empty folder")
    try:
        result = export_checkpoint(args.source, args.out, args.merged, args.dtype)
    except OSError as exc:
        print(f"arc-console: error: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}", file=sys.stderr)
        return 1
    what = "merged model (transformers)" if result.kind == "merged" else "adapter (PEFT)"
    print(f"wrote the {what} of step {result.step}, base {result.base_model!r}, to {result.out}")
    for note in result.notes:
        print(f"note: {note}")
    return 0
