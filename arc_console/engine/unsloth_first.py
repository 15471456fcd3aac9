"""Import unsloth before anything imports transformers, as unsloth asks: it patches transformers,
peft and trl at import time, and warns ("Your code may run slower or encounter memory issues") when
they were loaded first. The trainer module imports transformers (rollout.py), so every entry point
that trains on the unsloth backend calls this before importing the trainer."""

from __future__ import annotations

import importlib
import sys

import torch

from arc_console.engine.backends import resolve_backend


def import_unsloth_first(backend: str) -> bool:
    """Import unsloth when `backend` resolves to it on a CUDA machine. True when unsloth is loaded
    before transformers; False otherwise (another backend, no GPU, unsloth missing: load_policy then
    says what is wrong, or transformers already imported, which this cannot undo)."""
    if resolve_backend(backend) != "unsloth" or not torch.cuda.is_available():
        return False
    if "unsloth" in sys.modules:
        return True
    if "transformers" in sys.modules:
        return False
    try:
        importlib.import_module("unsloth")
    except Exception:  # noqa: BLE001 - a broken or missing unsloth is reported by load_policy, in one line
        return False
    return True
