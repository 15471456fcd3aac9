"""An ARC task (train and test pairs of grids) and the validation that turns untrusted JSON into one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from arc_console import UserError
from arc_console.arc.grids import Grid, GridError, validate_grid


class TaskError(UserError, ValueError):
    """Task data that cannot be used; the message names the file, the task and the problem."""


@dataclass(frozen=True)
class Pair:
    input: Grid
    output: Grid | None


@dataclass(frozen=True)
class Task:
    id: str
    train: list[Pair]
    test: list[Pair]
    source: str = ""

    @property
    def test_input(self) -> Grid:
        return self.test[0].input

    @property
    def test_output(self) -> Grid:
        output = self.test[0].output
        assert output is not None  # validate_task guarantees it
        return output


def validate_task(task_id: str, data: Any, where: str = "", require_test_output: bool = True) -> Task:
    """Build a Task from ARC JSON data, or raise TaskError saying exactly what is wrong.

    Training needs the first test output to score against; evaluation accepts hidden test outputs
    (a Kaggle test set) with require_test_output=False."""
    prefix = f"{where}: task {task_id}" if where else f"task {task_id}"
    if not isinstance(data, dict):
        raise TaskError(f"{prefix}: expected an object with 'train' and 'test', got {type(data).__name__}")
    pairs: dict[str, list[Pair]] = {}
    for split in ("train", "test"):
        items = data.get(split)
        if not isinstance(items, list) or not items:
            raise TaskError(f"{prefix}: needs at least one {split} pair")
        pairs[split] = []
        for index, item in enumerate(items):
            if not isinstance(item, dict) or "input" not in item:
                raise TaskError(f"{prefix}: {split} pair {index} has no input grid")
            try:
                grid_in = validate_grid(item["input"])
            except GridError as exc:
                raise TaskError(f"{prefix}: {split} pair {index} input: {exc}") from None
            if "output" not in item:
                if split == "train":
                    raise TaskError(f"{prefix}: train pair {index} has no output grid")
                pairs[split].append(Pair(grid_in, None))
                continue
            try:
                grid_out = validate_grid(item["output"])
            except GridError as exc:
                raise TaskError(f"{prefix}: {split} pair {index} output: {exc}") from None
            pairs[split].append(Pair(grid_in, grid_out))
    if require_test_output and pairs["test"][0].output is None:
        raise TaskError(f"{prefix}: the first test pair needs an output to score against")
    return Task(task_id, pairs["train"], pairs["test"], source=where)
