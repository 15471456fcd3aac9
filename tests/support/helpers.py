"""Shared helpers for tests that run the real trainer on the tiny model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from arc_console.cli.session import training_hooks
from arc_console.config import build_config
from arc_console.engine import events as ev
from arc_console.engine.control import RunControl
from arc_console.engine.trainer import Trainer

FAST = {"model": "tiny-random", "max_new_tokens": 12, "overlong_buffer": 4, "num_candidates": 4}


def make_trainer(run_dir: Path, control: RunControl | None = None, resume: Path | None = None,
                 **settings: Any) -> tuple[Trainer, list[ev.Event]]:
    config = build_config("tiny", None, {**FAST, **settings})
    events: list[ev.Event] = []
    trainer = Trainer(config, run_dir, events.append, control, resume_from=resume, hooks=training_hooks(config))
    trainer.setup()
    return trainer, events


def without_timing(record: dict[str, Any]) -> dict[str, Any]:
    """A step record without its wall-clock stamps (the refill draws in extra_groups carry their own)."""
    kept = {k: v for k, v in record.items() if k != "timestamp"}
    if "extra_groups" in kept:
        kept["extra_groups"] = [without_timing(group) for group in kept["extra_groups"]]
    return kept
