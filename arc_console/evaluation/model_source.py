"""What `eval --model` names, found without torch: a checkpoint, a run directory's final model or latest
checkpoint, an adapter folder, or anything `train` accepts. A name that is none of these is refused
here, before model.py imports torch to load it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from arc_console.engine.checkpoint_files import STATE, CheckpointError, latest_checkpoint, read_state
from arc_console.engine.model_path import resolve_model_path


@dataclass(frozen=True)
class ModelSource:
    kind: str  # "checkpoint" | "final_model" | "adapter" | "model"
    spec: str  # as given
    folder: Path | None  # the checkpoint, final model or adapter folder; None for a model name
    described: str  # a sentence saying what is loaded
    run_config: dict[str, Any] = field(default_factory=dict)  # the run's settings: logs/run.json's or the checkpoint's

    @property
    def from_a_run(self) -> bool:
        """A run directory's model or a checkpoint: the run's settings say what it trained on."""
        return self.kind in ("checkpoint", "final_model")


class NoModelYet(CheckpointError):
    """A run directory with neither a final model nor a complete checkpoint (`run_dir`): the command line
    says how to get one."""

    def __init__(self, run_dir: Path) -> None:
        super().__init__(f"{run_dir}: the run has neither a final model nor a complete checkpoint")
        self.run_dir = run_dir


def _is_run_dir(path: Path) -> bool:
    return (path / "checkpoints").is_dir() or (path / "final_model").is_dir() or (path / "logs" / "run.json").exists()


def _run_config(run_dir: Path) -> dict[str, Any]:
    try:
        return dict(json.loads((run_dir / "logs" / "run.json").read_text(encoding="utf-8")).get("config") or {})
    except (OSError, ValueError):
        return {}


def locate_eval_model(spec: str) -> ModelSource:
    """Where the model `spec` names lies. Raises BackendError or CheckpointError."""
    path = Path(spec).expanduser()
    if path.is_dir() and (path / STATE).exists():
        return ModelSource("checkpoint", spec, path, f"checkpoint {path}", read_state(path).config)
    if path.is_dir() and _is_run_dir(path):
        final = path / "final_model"
        if (final / "config.json").exists() or (final / "adapter_config.json").exists():
            return ModelSource("final_model", spec, final, f"final model of {path}", _run_config(path))
        checkpoint = latest_checkpoint(path / "checkpoints") if (path / "checkpoints").is_dir() else None
        if checkpoint is None:
            raise NoModelYet(path)
        return ModelSource("checkpoint", spec, checkpoint, f"latest checkpoint of {path} ({checkpoint.name})",
                           read_state(checkpoint).config)
    if path.is_dir() and (path / "adapter_config.json").exists():
        return ModelSource("adapter", spec, path, f"adapter {path}")
    resolve_model_path(spec)  # a BackendError when it names no model folder nor hub id
    return ModelSource("model", spec, None, f"model {spec}")


def saved_backend(source: ModelSource) -> str:
    """The backend the model was trained on, which model.py loads it on unless --backend says otherwise:
    a checkpoint's, a final model's run's, else auto."""
    if source.kind == "checkpoint" and source.folder is not None:
        try:
            return str(read_state(source.folder).config.get("backend", "auto"))
        except CheckpointError:
            return "auto"  # loading it says what is wrong
    return str(source.run_config.get("backend", "auto"))
