"""torch.compile's and Triton's on-disk caches kept across launches, one folder per model, settings and versions.

A run's first step compiles: the rollout engine's decode step (torch.compile), a backend's compiled training
code, Triton kernels. torch already caches the results on disk (inductor's FX graph and AOTAutograd caches,
Triton's kernel cache) but by default in /tmp, shared by whatever ran before and lost with the machine. Here
they live under ~/.cache/arc-console/compile/KEY/ (ARC_CONSOLE_CACHE moves the root), KEY a hash of what
decides the compiled code: the model's config, the settings that shape the compiled functions, the versions
of every package that compiles or is compiled (torch, triton, transformers, peft, unsloth, unsloth_zoo,
bitsandbytes, arc-console and a hash of its source) and the device. A second launch or a resume of the same
shape finds its folder warm; a folder made for anything else is never read (its key differs), and the line
this returns says which cached folder came closest and what differs.

Compiled artifacts are executable: the root must be this user's and writable by nobody else (as Unsloth
Zoo's own cache requires), else it is not used and the line says why. ARC_CONSOLE_COMPILE_CACHE=0 turns the
cache off; a TORCHINDUCTOR_CACHE_DIR that the user set is left as it is.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as md
import json
import os
import platform
import shutil
import stat
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from arc_console.engine.model_path import cache_dir

FORMAT = 1
MANIFEST = "manifest.json"
KEEP_CACHES = 8  # folders kept under the root, the most recently used first
PRUNE_AFTER_S = 3600  # a folder is removed only when unused this long (another process may be using it)
VERSIONED_PACKAGES = ("torch", "triton", "transformers", "peft", "unsloth", "unsloth_zoo", "bitsandbytes", "arc-console")
ACTIVE_VARIABLE = "ARC_CONSOLE_ACTIVE_INDUCTOR_DIR"  # which TORCHINDUCTOR_CACHE_DIR an activation set
# config.json fields that do not change the compiled code
VOLATILE_CONFIG_KEYS = ("_name_or_path", "transformers_version", "architectures", "auto_map")


# The training settings that shape what compiles: the backend's compiled code, the decode step's rows and lengths.
TRAINING_SETTINGS = ("backend", "load_in_4bit", "lora_r", "rollout_engine", "rollout_experts", "num_candidates",
                     "problems_per_step", "max_new_tokens", "max_seq_length", "augment")


@dataclass(frozen=True)
class CompileCache:
    """state: warm (a folder for this key was found), cold (a new folder), user (the user's own
    TORCHINDUCTOR_CACHE_DIR), off (turned off or not usable). message: one line for the run's log."""

    state: str
    message: str
    directory: Path | None = None


def compile_cache_root() -> Path:
    return cache_dir() / "compile"


def source_hash() -> str:
    """A hash of arc-console's own source: a changed decoder is new code to compile."""
    package = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(str(path.relative_to(package)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def package_versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in VERSIONED_PACKAGES:
        try:
            found[name] = md.version(name)
        except md.PackageNotFoundError:
            continue
    found["arc-console source"] = source_hash()
    return found


def device_description() -> dict[str, str]:
    import torch

    if torch.cuda.is_available():
        index = torch.cuda.current_device()
        major, minor = torch.cuda.get_device_capability(index)
        return {"device": torch.cuda.get_device_name(index), "capability": f"sm_{major}{minor}",
                "cuda": str(torch.version.cuda)}
    return {"device": "cpu", "machine": platform.machine(), "cpu_capability": torch.backends.cpu.get_cpu_capability()}


def model_description(model_path: str) -> dict[str, Any]:
    """The model's config.json without its volatile fields (a hub id: its name), and its experts' layout."""
    from arc_console.engine.prequantized import checkpoint_experts_layout

    config_file = Path(model_path) / "config.json"
    if not config_file.is_file():
        return {"name": model_path}
    try:
        config = json.loads(config_file.read_text())
    except (OSError, ValueError):
        return {"name": model_path, "config": "unreadable"}
    described = {k: v for k, v in config.items() if k not in VOLATILE_CONFIG_KEYS}
    described["experts_layout"] = checkpoint_experts_layout(Path(model_path))
    return described


def cache_manifest(model_path: str, settings: dict[str, Any]) -> dict[str, Any]:
    """Everything the folder's key is made of."""
    return {"format": FORMAT, "versions": package_versions(), "device": device_description(),
            "model": model_description(model_path), "settings": settings}


def manifest_key(manifest: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(manifest, sort_keys=True, default=str).encode()).hexdigest()[:20]


def activate_compile_cache(model_path: str, settings: dict[str, Any], root: Path | None = None) -> CompileCache:
    """Point torch's inductor and Triton caches at this key's folder (made if missing) before anything
    compiles. Never raises for a cache problem: it reports it and leaves torch's defaults."""
    if os.environ.get("ARC_CONSOLE_COMPILE_CACHE", "1").strip().lower() in ("0", "off", "false", "no"):
        return CompileCache("off", "compile cache: off (ARC_CONSOLE_COMPILE_CACHE=0); torch's default caches apply")
    root = root or compile_cache_root()
    user_dir = _users_inductor_dir(root)
    if user_dir is not None:
        return CompileCache("user", f"compile cache: TORCHINDUCTOR_CACHE_DIR={user_dir} is set: using it as it is")
    try:
        problem = _make_private(root)
        if problem:
            return CompileCache("off", f"compile cache: {root} {problem}: not used (torch's default caches apply)")
        manifest = cache_manifest(model_path, settings)
        folder = root / manifest_key(manifest)
        state, detail = _open_folder(folder, manifest, root)
        removed = _prune(root, keep=folder)
    except OSError as exc:
        return CompileCache("off", f"compile cache: cannot use {root} ({exc.strerror or exc}): torch's default caches apply")
    _point_torch_at(folder)
    if removed:
        detail += f"; removed {removed} older cache folder{'s' if removed > 1 else ''}"
    return CompileCache(state, f"compile cache: {detail}", folder)


def activate_for_training(config: Any, ranks: Any) -> str:
    """Activate the cache for a training run (a TrainConfig, this process's Ranks) before its model loads;
    returns the line for the run's log."""
    from arc_console.engine.backends import resolve_backend
    from arc_console.engine.model_path import BackendError, resolve_model_path

    settings = {name: getattr(config, name) for name in TRAINING_SETTINGS}
    settings.update(backend=resolve_backend(config.backend), world_size=ranks.world_size)
    try:
        path = resolve_model_path(config.model)
    except BackendError:  # load_policy, next, says what is wrong with it
        path = config.model
    return activate_compile_cache(path, settings).message


def _users_inductor_dir(root: Path) -> str | None:
    """The TORCHINDUCTOR_CACHE_DIR the user set, or None where it is unset, torch's default (torch writes
    the variable itself once it compiles) or a folder of ours from an earlier activation, in this process or
    in the one that started it (the variables are inherited; ACTIVE_VARIABLE says which folder was ours)."""
    current = os.environ.get("TORCHINDUCTOR_CACHE_DIR")
    if not current or current == os.environ.get(ACTIVE_VARIABLE):
        return None
    from torch._inductor.runtime.cache_dir_utils import default_cache_dir

    resolved = Path(current).resolve()
    if resolved == Path(default_cache_dir()).resolve() or resolved.is_relative_to(root.resolve()):
        return None
    return current


def _make_private(root: Path) -> str | None:
    """Create the root owner-only; a reason it cannot be trusted, or None."""
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    info = os.lstat(root)
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        return "is not a plain folder"
    if os.name == "posix":
        if info.st_uid != os.geteuid():
            return "belongs to another user"
        if info.st_mode & 0o022:
            return "is writable by other users"
    return None


def _read_manifest(folder: Path) -> dict[str, Any] | None:
    try:
        return json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return None


def _open_folder(folder: Path, manifest: dict[str, Any], root: Path) -> tuple[str, str]:
    """(warm | cold, what the log line says) for this key's folder, made (or made again) if needed."""
    if folder.is_dir():
        found = _read_manifest(folder)
        if found == json.loads(json.dumps(manifest, default=str)):
            files = sum(1 for path in folder.rglob("*") if path.is_file()) - 1
            os.utime(folder / MANIFEST)  # most recently used: kept longest
            return "warm", f"reusing {folder} ({files} compiled files)"
        shutil.rmtree(folder, ignore_errors=True)  # not what its name says: never read it
        detail = f"{folder} did not hold what its key says (not trusted, emptied); compiling into it from scratch"
    else:
        detail = f"compiling from scratch into {folder}"
        closest = _closest_other(root, manifest)
        if closest is not None:
            detail = f"no cache yet for this model, settings and versions ({closest}); {detail}"
    folder.mkdir(mode=0o700, exist_ok=True)
    staging = folder / f".{MANIFEST}.{os.getpid()}"
    staging.write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n")
    os.replace(staging, folder / MANIFEST)
    return "cold", detail


def _closest_other(root: Path, manifest: dict[str, Any]) -> str | None:
    """A phrase naming what differs from the most recently used cached folder, or None when there is none."""
    others = sorted((p for p in root.iterdir() if p.is_dir() and (p / MANIFEST).is_file()),
                    key=lambda p: (p / MANIFEST).stat().st_mtime, reverse=True)
    for other in others:
        found = _read_manifest(other)
        if found is None:
            continue
        differences = describe_differences(found, json.loads(json.dumps(manifest, default=str)))
        return f"the newest cached one, {other.name}, is ignored: it differs in {differences}"
    return None


def describe_differences(old: dict[str, Any], new: dict[str, Any], limit: int = 4) -> str:
    """'torch 2.10.0 -> 2.11.0, model hidden_size 64 -> 2880, ...' (the first `limit` differences)."""
    changes: list[str] = []

    def walk(a: Any, b: Any, path: list[str]) -> None:
        if isinstance(a, dict) and isinstance(b, dict):
            for key in sorted(set(a) | set(b), key=str):
                walk(a.get(key), b.get(key), path + [str(key)])
        elif a != b:
            name = " ".join(p for p in path if p not in ("versions", "device"))
            changes.append(f"{name} {_short(a)} -> {_short(b)}")

    walk(old, new, [])
    shown = ", ".join(changes[:limit])
    return shown + (f" and {len(changes) - limit} more" if len(changes) > limit else "") if changes else "nothing"


def _short(value: Any) -> str:
    text = "none" if value is None else json.dumps(value, default=str) if isinstance(value, (dict, list)) else str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _prune(root: Path, keep: Path) -> int:
    """Remove the least recently used folders beyond KEEP_CACHES that no one used for an hour."""
    folders = sorted((p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")),
                     key=_last_used, reverse=True)
    removed = 0
    for folder in folders[KEEP_CACHES:]:
        if folder != keep and time.time() - _last_used(folder) > PRUNE_AFTER_S:
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed


def _last_used(folder: Path) -> float:
    try:
        return (folder / MANIFEST).stat().st_mtime
    except OSError:
        return folder.stat().st_mtime


def _point_torch_at(folder: Path) -> None:
    inductor, triton = folder / "inductor", folder / "triton"
    for path in (inductor, triton):
        path.mkdir(mode=0o700, exist_ok=True)
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = os.environ[ACTIVE_VARIABLE] = str(inductor)
    os.environ["TRITON_CACHE_DIR"] = str(triton)
    if "torch" in sys.modules:  # the on-disk caches this relies on (on by default; said here, not assumed)
        try:
            import torch._functorch.config as functorch_config
            import torch._inductor.config as inductor_config

            inductor_config.fx_graph_cache = True
            functorch_config.enable_autograd_cache = True
        except (ImportError, AttributeError):
            pass


def cache_counters() -> dict[str, int]:
    """torch's own hit and miss counts for its on-disk caches in this process (the figures a benchmark
    reads to tell a warm start from a cold one)."""
    from torch._dynamo.utils import counters

    found = {}
    for group, name in (("inductor", "fxgraph_cache_hit"), ("inductor", "fxgraph_cache_miss"),
                        ("inductor", "fxgraph_cache_bypass"), ("aot_autograd", "autograd_cache_hit"),
                        ("aot_autograd", "autograd_cache_miss"), ("aot_autograd", "autograd_cache_bypass")):
        found[name] = int(counters[group][name])
    return found
