"""Runs that several test files read the same way, trained once per session (tests/conftest.py's fixtures)."""

from __future__ import annotations

import json
from pathlib import Path

from arc_console.engine import events as ev

from helpers import make_trainer

TOY_COLOURS = {"toy3": 3, "toy5": 5, "toy7": 7}


def write_toy_tasks(folder: Path) -> Path:
    """Three 1x1 problems the tiny model can represent: answer [[c]] to [[c]]."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, colour in TOY_COLOURS.items():
        task = {"train": [{"input": [[colour]], "output": [[colour]]}], "test": [{"input": [[colour]], "output": [[colour]]}]}
        (folder / f"{name}.json").write_text(json.dumps(task))
    return folder


def train_early_stopped_run(root: Path) -> tuple[Path, ev.Stopped]:
    """A real tiny run on the three toy tasks (up to 200 steps) that stops early after perfect answers on two
    of them; its run directory and how it stopped."""
    toys = write_toy_tasks(root / "toys")
    trainer, _ = make_trainer(root / "run", tasks=str(toys), problems=[], max_steps=200, max_new_tokens=1,
                              overlong_buffer=0, num_candidates=16, early_stop_perfect=2, seed=2, learning_rate=2e-3)
    stopped = trainer.run()
    return root / "run", stopped
