"""Settings of a run: the presets, TOML loading, the one layering rule, and validation.

TrainConfig and its fields' help live in train_config.py (re-exported here). Where a setting comes from:
  a new run:  TrainConfig's defaults < the preset < the --config TOML < flags
  a resume:   the run's saved settings (its checkpoint's, else logs/run.json's) < the --config TOML < flags
Both go through layer_settings, so both check the same way and name where each bad value came from.
"""

from __future__ import annotations

import dataclasses
import difflib
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from arc_console import UserError
from arc_console.engine.objective_registry import get_objective
from arc_console.train_config import (  # re-exported (__all__): where TrainConfig's users import it from
    BACKENDS,
    DEMO_PROBLEMS,
    EVAL_RANKINGS,
    OBJECTIVES,
    REPORT_TARGETS,
    REWARDS,
    ROLLOUT_ENGINES,
    ROLLOUT_EXPERTS,
    SCALE_REWARDS,
    SEED_PROBLEMS,
    TrainConfig,
    setting_fields,
)

__all__ = [
    "BACKENDS", "DEMO_PROBLEMS", "EVAL_RANKINGS", "OBJECTIVES", "PRESETS", "REPORT_TARGETS", "REWARDS",
    "ROLLOUT_ENGINES", "ROLLOUT_EXPERTS", "SCALE_REWARDS", "SEED_PROBLEMS", "ConfigError", "SettingsLayer",
    "TrainConfig", "apply_settings", "build_config", "layer_settings", "load_toml", "resolve_preset",
    "resumed_config", "validate",
]


class ConfigError(UserError, ValueError):
    """An invalid setting; the message is one line naming the setting."""


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


@dataclass(frozen=True)
class SettingsLayer:
    """Settings from one place, laid over the ones before."""

    origin: str  # named in errors: "preset tiny", a TOML file, "option" (a flag), a checkpoint, a run.json
    settings: dict[str, Any]
    given: bool  # given now by the user (TOML, flags), as opposed to inherited (a preset, a run's saved settings)


def layer_settings(layers: Sequence[SettingsLayer]) -> TrainConfig:
    """TrainConfig's defaults, then each layer over the ones before, validated. Every unknown, mistyped
    and out-of-range setting is reported at once in one ConfigError, each naming the layer it came from.

    The inherited problem ids belong to the inherited task source: when the user gives other --tasks
    without --problems, the ids are dropped and every task of the new source is trained on."""
    origins: dict[str, str] = {}
    problems: list[str] = []
    config = TrainConfig()
    inherited_tasks = config.tasks
    given: set[str] = set()
    for layer in layers:
        config = apply_settings(config, layer.settings, layer.origin, origins, problems)
        if layer.given:
            given |= {str(name).replace("-", "_") for name in layer.settings}
        else:
            inherited_tasks = config.tasks
    if "tasks" in given and "problems" not in given and config.tasks != inherited_tasks:
        config = dataclasses.replace(config, problems=[])
    try:
        validate(config, origins)
    except ConfigError as exc:
        problems.append(str(exc))
    if problems:
        raise ConfigError("; ".join(problems))
    return config


def given_now(toml_path: Path | None, flags: dict[str, Any]) -> list[SettingsLayer]:
    """The layers a user gives on this command line: the --config TOML, then the flags (None: not given)."""
    layers = [SettingsLayer(str(toml_path), load_toml(toml_path), given=True)] if toml_path is not None else []
    layers.append(SettingsLayer("option", {k: v for k, v in flags.items() if v is not None}, given=True))
    return layers


def build_config(preset: str, toml_path: Path | None, overrides: dict[str, Any]) -> TrainConfig:
    """A new run's settings: the preset, then the TOML file, then command-line flags; validated."""
    return layer_settings([SettingsLayer(f"preset {preset}", PRESETS[preset], given=False),
                           *given_now(toml_path, overrides)])


def resumed_config(saved: dict[str, Any], saved_origin: str, toml_path: Path | None,
                   overrides: dict[str, Any]) -> TrainConfig:
    """A resumed run's settings: those it saved (`saved_origin` names where), then the TOML file, then
    command-line flags; validated as a new run's are."""
    return layer_settings([SettingsLayer(saved_origin, saved, given=False), *given_now(toml_path, overrides)])


Require = Callable[[str, bool, str], None]


def validate(config: TrainConfig, origins: dict[str, str] | None = None) -> None:
    """Every range check at once: one ConfigError listing each failure, prefixed with where the
    setting came from (a TOML file, the flag, a preset, a checkpoint) when `origins` says."""
    failures: list[str] = []

    def require(name: str, condition: bool, message: str) -> None:
        if condition:
            return
        where = (origins or {}).get(name)
        failures.append(f"--{name.replace('_', '-')}: {message}" if where == "option" else
                        f"{where}: {message}" if where else message)

    for spec in setting_fields():
        choices = spec.metadata["choices"]
        value = getattr(config, spec.name)
        require(spec.name, not choices or value in choices,
                f"{spec.name} must be one of {', '.join(choices)}, got {value!r}")
    _validate_ranges(config, require)
    _validate_held_out(config, require)
    if failures:
        raise ConfigError("; ".join(failures))


def _validate_ranges(config: TrainConfig, require: Require) -> None:
    require("max_steps", config.max_steps >= 1, f"max_steps must be at least 1, got {config.max_steps}")
    require("checkpoint_every", config.checkpoint_every >= 1,
            f"checkpoint_every must be at least 1, got {config.checkpoint_every}")
    require("checkpoint_minutes", config.checkpoint_minutes > 0,
            f"checkpoint_minutes must be positive, got {config.checkpoint_minutes}")
    require("early_stop_perfect", config.early_stop_perfect >= 0, "early_stop_perfect must be 0 (off) or more")
    require("num_candidates", 2 <= config.num_candidates <= 256,
            f"num_candidates must be 2..256, got {config.num_candidates}")
    require("temperature_min", 0 < config.temperature_min <= config.temperature_max,
            "temperature_min must be above 0 and at most temperature_max (temperatures must satisfy 0 < min <= max)")
    require("top_p", 0 < config.top_p <= 1, f"top_p must be in (0, 1], got {config.top_p}")
    require("max_new_tokens", config.max_new_tokens >= 1, "max_new_tokens must be at least 1")
    require("max_seq_length", config.max_seq_length > config.max_new_tokens, "max_seq_length must exceed max_new_tokens")
    require("learning_rate", config.learning_rate > 0, "learning_rate must be positive")
    require("weight_decay", config.weight_decay >= 0, "weight_decay must be 0 or more")
    require("warmup_steps", config.warmup_steps >= 0, "warmup_steps must be 0 or more")
    require("max_grad_norm", config.max_grad_norm > 0, "max_grad_norm must be positive")
    require("eps_low", 0 <= config.eps_low < 1 and config.eps_high >= 0,
            "eps_low must be in [0, 1) and eps_high 0 or more")
    require("grpo_eps", 0 <= config.grpo_eps < 1, "grpo_eps must be in [0, 1)")
    require("overlong_buffer", 0 <= config.overlong_buffer < config.max_new_tokens,
            "overlong_buffer must be 0..max_new_tokens-1")
    require("updates_per_rollout", config.updates_per_rollout >= 1, "updates_per_rollout must be at least 1")
    require("problems_per_step", config.problems_per_step >= 1, "problems_per_step must be at least 1")
    require("max_extra_draws", config.max_extra_draws >= 0, "max_extra_draws must be 0 or more")
    require("lora_r", config.lora_r >= 0 and config.lora_alpha > 0, "lora_r must be 0 or more and lora_alpha positive")
    require("logprob_chunk_tokens", config.logprob_chunk_tokens >= 1, "logprob_chunk_tokens must be at least 1")
    require("update_micro_groups", config.update_micro_groups >= 0,
            f"update_micro_groups must be 0 (all groups at once) or more, got {config.update_micro_groups}")
    require("update_micro_rows", config.update_micro_rows >= 0,
            f"update_micro_rows must be 0 (whole groups) or more, got {config.update_micro_rows}")
    objective = get_objective(config.objective) if config.objective in OBJECTIVES else None
    require("update_micro_rows", config.update_micro_rows == 0 or objective is None or objective.splits_groups,
            f"update_micro_rows must be 0 with objective {config.objective} (it compares the rows of one group)")
    require("cpu_threads", config.cpu_threads >= 0, f"cpu_threads must be 0 (auto) or more, got {config.cpu_threads}")
    require("model", bool(config.model), "model must not be empty")
    unknown_targets = [name for name in config.report_to if name not in REPORT_TARGETS]
    require("report_to", not unknown_targets, f"report_to: unknown target {unknown_targets[0] if unknown_targets else ''!r} "
                                               f"(known: {', '.join(REPORT_TARGETS)})")
    require("report_to", not ("none" in config.report_to and len(config.report_to) > 1),
            "report_to: 'none' cannot be combined with other targets")


def _validate_held_out(config: TrainConfig, require: Require) -> None:
    """The held-out evaluation settings (issue 16); their choices are checked with every other's."""
    require("eval_every", config.eval_every >= 0, f"eval_every must be 0 (off) or more, got {config.eval_every}")
    require("eval_tasks", not (config.eval_every and not config.eval_tasks),
            "eval_tasks must name a task source when eval_every is on")
    require("eval_limit", config.eval_limit >= 0, f"eval_limit must be 0 (every task) or more, got {config.eval_limit}")
    require("eval_samples", 1 <= config.eval_samples <= 64, f"eval_samples must be 1..64, got {config.eval_samples}")
