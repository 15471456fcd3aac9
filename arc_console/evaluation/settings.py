"""What an evaluation answers (EvalInputs: the model, the tasks) and how (EvalSettings: views, samples,
ranking, sampling and length limits). Each field with help in its metadata is an `eval` flag, with its help
and default in --help and docs/settings.md (cli/setting_flags.py, cli/settings_table.py); one new field is
one new flag. Torch-free."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from arc_console import UserError
from arc_console.arc.augment import AUGMENTATIONS
from arc_console.train_config import BACKENDS, DEFAULT_CONTEXT, setting
from arc_console.train_config import EVAL_RANKINGS as RANKINGS  # one list for eval --rank and train --eval-rank


@dataclass(frozen=True)
class EvalInputs:
    model: str = setting(
        "tiny", "'tiny', a model folder, a hub id, a run directory (its final model, else its latest "
        "checkpoint) or a checkpoint",
        doc="Anything train accepts; a checkpoint folder is rebuilt as the run built it: an adapter on its base, "
            "or its full weights")
    tasks: str = setting(
        "synthetic-heldout", "arc1-evaluation | arc2-evaluation | synthetic-heldout | ... | a folder or file of "
        "ARC JSON", doc="Any task source (synthetic-heldout:N: N tasks per family instead of 10); test outputs "
                        "may be missing", metavar="SOURCE")
    problems: str = setting("", "comma-separated task ids", metavar="IDS", shown_default="every task")
    limit: int = setting(0, "the first N tasks only, after a run's training problems are left out (0: all)",
                         metavar="N")
    include_trained: bool = setting(
        False, "with a run directory or checkpoint as --model, keep the tasks that run trained on",
        doc="By default they are left out (views of them under --augment are the same tasks), eval says how many "
            "and eval.json lists them; nothing left is refused")
    backend: str | None = setting(None, "hf, unsloth or auto", choices=BACKENDS,
                                  shown_default="the run's, else auto")


@dataclass(frozen=True)
class EvalSettings:
    augment: str = setting(
        "dihedral", "each task's views: none (the task itself), dihedral (the 8 rotations, flips and transposes "
        "of every grid), dihedral+colors (the same 8, all but the first also permuting colours 1-9, 0 kept)",
        doc="The colour permutations come from --seed and the task id", choices=AUGMENTATIONS)
    samples: int = setting(2, "candidates sampled per view", metavar="K")
    rank: str = setting(
        "votes", "how the pooled candidates are ranked: votes or logprob (the product of experts)",
        doc="votes: how many samples over all views gave the grid, ties by their mean log-probability; "
            "logprob: each distinct grid scored by the model's log-probability of answering it under every "
            "view, summed (the product of experts of Franzen et al. 2025); with --test-time-pool both, under the "
            "trained and the base weights", choices=RANKINGS, shown_default="votes; logprob with --test-time-mode")
    seed: int = setting(0, "sampling and colour-permutation seed",
                        doc="Every test input is seeded from (seed, task id, test index), so results do not "
                            "depend on task order")
    temperature: float = setting(0.7, "sampling temperature")
    top_p: float = 1.0
    max_new_tokens: int = setting(0, "answer length limit (0: room for the task's largest grid)",
                                  doc="As text: 2 x cells + 16 (evaluation/solver.py's answer_budget)", metavar="N")
    max_seq_length: int = setting(
        DEFAULT_CONTEXT, "context limit; examples are dropped to fit (train's default; 0: the model's own)",
        doc="Never beyond the model's own context; 0 on GPT-OSS (131,072 tokens) lets a long ARC task's prefill "
            "exceed an H200's memory", metavar="N")
    logprob_chunk_tokens: int = 256

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class SettingsError(UserError, ValueError):
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
