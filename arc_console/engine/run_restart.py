"""Starting again a run that died before its first checkpoint: its saved settings, and its partial
logs moved aside (never deleted) so the restarted run writes from step 1 into a clean logs/."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from arc_console.engine.checkpoint_files import latest_checkpoint

ABANDONED_PREFIX = "abandoned-"


def is_run_without_checkpoint(path: Path) -> bool:
    """A run directory (it has logs/ or checkpoints/) holding no complete checkpoint."""
    if not path.is_dir() or not ((path / "logs").is_dir() or (path / "checkpoints").is_dir()):
        return False
    return not (path / "checkpoints").is_dir() or latest_checkpoint(path / "checkpoints") is None


def saved_settings(run_dir: Path) -> dict[str, Any] | None:
    """The settings logs/run.json recorded when the run started, or None where it was never written
    (or is unreadable: a run killed while loading the model)."""
    try:
        info = json.loads((run_dir / "logs" / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    config = info.get("config") if isinstance(info, dict) else None
    return config if isinstance(config, dict) else None


def abandon_partial_logs(run_dir: Path) -> Path | None:
    """Move everything in logs/ (but earlier abandoned folders) into logs/abandoned-<time>/.
    Returns that folder, or None when logs/ held nothing to move."""
    logs = run_dir / "logs"
    entries = [p for p in logs.iterdir() if not p.name.startswith(ABANDONED_PREFIX)] if logs.is_dir() else []
    if not entries:
        return None
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    target = logs / f"{ABANDONED_PREFIX}{stamp}"
    suffix = 1
    while target.exists():
        suffix += 1
        target = logs / f"{ABANDONED_PREFIX}{stamp}-{suffix}"
    target.mkdir()
    for entry in entries:
        entry.rename(target / entry.name)
    return target
