"""What an evaluation runs with: views, samples, ranking, sampling and length limits."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from arc_console.arc.augment import AUGMENTATIONS
from arc_console.train_config import EVAL_RANKINGS as RANKINGS  # one list for eval --rank and train --eval-rank


@dataclass(frozen=True)
class EvalSettings:
    augment: str = "dihedral"  # none | dihedral | dihedral+colors
    samples: int = 2  # candidates sampled per view
    rank: str = "votes"  # votes | logprob (product of experts)
    seed: int = 0
    temperature: float = 0.7
    top_p: float = 1.0
    max_new_tokens: int = 0  # 0: enough for the largest grid of the task (see answer_budget)
    max_seq_length: int = 2048  # 0: the model's own limit
    logprob_chunk_tokens: int = 256

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class SettingsError(ValueError):
    """An evaluation setting that cannot be used; one line naming it."""


def validate_settings(settings: EvalSettings) -> None:
    def require(condition: bool, message: str) -> None:
        if not condition:
            raise SettingsError(message)

    require(settings.augment in AUGMENTATIONS,
            f"--augment must be one of {', '.join(AUGMENTATIONS)}, got {settings.augment!r}")
    require(settings.rank in RANKINGS, f"--rank must be one of {', '.join(RANKINGS)}, got {settings.rank!r}")
    require(1 <= settings.samples <= 64, f"--samples must be 1..64, got {settings.samples}")
    require(settings.temperature > 0, f"--temperature must be positive, got {settings.temperature}")
    require(0 < settings.top_p <= 1, f"--top-p must be in (0, 1], got {settings.top_p}")
    require(settings.max_new_tokens >= 0, "--max-new-tokens must be 0 (automatic) or more")
    require(settings.max_seq_length >= 0, "--max-seq-length must be 0 (the model's) or more")
