"""Which code a benchmark measured: a checkout's commit, and whether its package has uncommitted changes."""

from __future__ import annotations

import subprocess
from pathlib import Path


def tree_version(tree: Path) -> str:
    try:
        commit = subprocess.run(["git", "-C", str(tree), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(tree), "status", "--porcelain", "--", "arc_console"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except OSError:
        return str(tree)
    return f"{tree} at {commit}" + (" with uncommitted changes" if dirty else "")
