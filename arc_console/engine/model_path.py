"""Which folder (or hub id) a model name means, without importing torch: the CLI checks --model with
it before a run starts, and the built-in tiny model's cache lives here. backends.py re-exports these."""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

from arc_console import UserError
from arc_console.engine.model_factory import make_model
from arc_console.rundir.atomic import make_temp_folder

TINY_MODEL_VERSION = "tiny-v1"


class BackendError(UserError, RuntimeError):
    """The model or backend cannot be used; the message says why in one line."""


def cache_dir() -> Path:
    root = os.environ.get("ARC_CONSOLE_CACHE") or Path.home() / ".cache" / "arc-console"
    return Path(root)


def tiny_model_path() -> Path:
    """The built-in tiny GPT-OSS, built (atomically) on first use."""
    path = cache_dir() / "models" / TINY_MODEL_VERSION
    if (path / "arc_console_model.json").exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = make_temp_folder(path.parent, ".building-")
    try:
        make_model("tiny", staging, seed=0)
        if not (staging / "config.json").exists():
            # transformers' save_pretrained writes only on rank 0 of an initialised torch.distributed group:
            # another rank waits for rank 0's model rather than installing an incomplete one
            return _built_by_another_process(path)
        try:
            staging.rename(path)
        except OSError:
            if not (path / "arc_console_model.json").exists():  # lost a race to another process: fine
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return path


def _built_by_another_process(path: Path, timeout_s: float = 600.0) -> Path:
    deadline = time.monotonic() + timeout_s
    while not (path / "arc_console_model.json").exists():
        if time.monotonic() > deadline:
            raise BackendError(f"{path}: the built-in tiny model was not built by rank 0 within {timeout_s:.0f} s")
        time.sleep(0.2)
    return path


def builtin_tiny_path() -> Path:
    """The warm-started model shipped in the package (scripts/warm_start.py made it), or, in a
    checkout without it, the random tiny model."""
    shipped = Path(__file__).resolve().parent.parent / "builtin" / "tiny-arc"
    return shipped if (shipped / "config.json").exists() else tiny_model_path()


def resolve_model_path(model: str) -> str:
    """The folder (or hub id) `model` names; a BackendError when it names neither."""
    if model == "tiny":
        return str(builtin_tiny_path())
    if model == "tiny-random":
        return str(tiny_model_path())
    path = Path(model).expanduser()
    if path.exists():
        if not (path / "config.json").exists():
            raise BackendError(f"{model}: not a model folder (no config.json)")
        return str(path)
    if re.fullmatch(r"[\w-][\w.-]*/[\w.-]+", model):
        return model  # a hub id such as unsloth/gpt-oss-20b-BF16
    raise BackendError(f"{model}: no such model folder (nor a hub id such as owner/name)")
