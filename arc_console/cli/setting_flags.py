"""Setting flags made from dataclass fields' metadata (train_config.setting): `train`'s from TrainConfig,
one flag per field, its help, its argument name and its default under each preset; `eval`'s from
EvalInputs, EvalSettings, TestTimePlan, SftSettings and TestTimeSettings, one flag per field that has help. The settings tables in
docs/settings.md use the same words."""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any, TypeVar

from arc_console.config import PRESETS, ConfigError
from arc_console.train_config import flag_name, setting_fields

SETTINGS_GROUP = "settings (each also a TOML key, with _ for -)"


def metavar(spec: dataclasses.Field) -> str:
    """The flag's argument name: the choices as argparse writes them, else the field's own or its last word."""
    if spec.metadata["choices"]:
        return "{" + ",".join(spec.metadata["choices"]) + "}"
    return spec.metadata["metavar"] or spec.name.split("_")[-1].upper()


def format_value(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        if value and abs(value) < 1e-3:  # 1e-5, not 1e-05 or 0.00001
            mantissa, exponent = f"{value:e}".split("e")
            return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"
        return f"{value:g}"
    if isinstance(value, list):
        return ",".join(value) if value else "none"
    return str(value)


def preset_defaults(spec: dataclasses.Field) -> list[tuple[str, Any]]:
    """(preset, the value it starts a run with) for every preset, in PRESETS' order."""
    own = spec.default_factory() if spec.default is dataclasses.MISSING else spec.default  # type: ignore[misc]
    return [(name, preset.get(spec.name, own)) for name, preset in PRESETS.items()]


def default_text(spec: dataclasses.Field, quote: str = "") -> str:
    """One value when every preset starts with it, else one per preset joined by " / " (PRESETS' order)."""
    values = [value for _, value in preset_defaults(spec)]
    shown = [format_value(value) for value in values]
    if isinstance(values[0], str) or (isinstance(values[0], list) and values[0]):
        shown = [f"{quote}{text}{quote}" for text in shown]
    return shown[0] if all(value == values[0] for value in values) else " / ".join(shown)


def flag_help(spec: dataclasses.Field) -> str:
    names = " / ".join(PRESETS)
    values = {format_value(value) for _, value in preset_defaults(spec)}
    where = "" if len(values) == 1 else f" with {names}"
    return f"{spec.metadata['help']} (default{where}: {default_text(spec)})".replace("%", "%%")


def add_setting_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per TrainConfig field, in a group of its own; each stores None unless given."""
    group = parser.add_argument_group(SETTINGS_GROUP)
    for spec in setting_fields():
        if spec.type == "bool":
            group.add_argument(flag_name(spec), dest=f"set_{spec.name}", action=argparse.BooleanOptionalAction,
                               default=None, help=flag_help(spec))
        else:
            group.add_argument(flag_name(spec), dest=f"set_{spec.name}", default=None, metavar=metavar(spec),
                               help=flag_help(spec))


def flag_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The settings given as flags, numbers parsed; a flag's bad number is a ConfigError naming the flag."""
    overrides = {}
    for spec in setting_fields():
        value = getattr(args, f"set_{spec.name}")
        if value is None:
            continue
        if spec.type == "int":
            try:
                value = int(value)
            except ValueError:
                raise ConfigError(f"{flag_name(spec)}: expected an integer, got {value!r}") from None
        elif spec.type == "float":
            try:
                value = float(value)
            except ValueError:
                raise ConfigError(f"{flag_name(spec)}: expected a number, got {value!r}") from None
        overrides[spec.name] = value
    return overrides


# eval's flags: fields of a frozen settings dataclass, each with help in its metadata, given or left out.

Settings = TypeVar("Settings")


def flag_fields(settings_class: type) -> list[dataclasses.Field]:
    """The fields of `settings_class` that are flags (those with help in their metadata), in declared order."""
    return [spec for spec in dataclasses.fields(settings_class) if spec.metadata.get("help")]


def field_default_text(spec: dataclasses.Field, quote: str = "") -> str:
    """The field's default as --help and the docs say it."""
    if spec.metadata["shown_default"]:
        return spec.metadata["shown_default"]
    shown = format_value(spec.default)
    return f"{quote}{shown}{quote}" if isinstance(spec.default, str) and shown else shown


def _dest(spec: dataclasses.Field) -> str:
    return flag_name(spec)[2:].replace("-", "_")


_PARSE = {"int": int, "float": float}


def add_field_flags(group: Any, settings_class: type) -> None:
    """One flag per flag field of `settings_class` on `group` (a parser or an argument group); each stores None
    unless given, so the dataclass's own default applies (settings_from_flags)."""
    for spec in flag_fields(settings_class):
        help_text = f"{spec.metadata['help']} (default: {field_default_text(spec)})".replace("%", "%%")
        if spec.type == "bool":
            group.add_argument(flag_name(spec), dest=_dest(spec), action=argparse.BooleanOptionalAction,
                               default=None, help=help_text)
        else:
            group.add_argument(flag_name(spec), dest=_dest(spec), default=None, metavar=metavar(spec),
                               type=_PARSE.get(str(spec.type).removesuffix(" | None"), str), help=help_text)


def given_flags(args: argparse.Namespace, settings_class: type) -> list[str]:
    """The flags of `settings_class` that were given in `args`, as typed (--sft-lr), in declared order."""
    return [flag_name(spec) for spec in flag_fields(settings_class) if getattr(args, _dest(spec)) is not None]


def settings_from_flags(args: argparse.Namespace, settings_class: type[Settings]) -> Settings:
    """`settings_class` with the flags given in `args`; every other field keeps its default."""
    given = {spec.name: getattr(args, _dest(spec)) for spec in flag_fields(settings_class)
             if getattr(args, _dest(spec)) is not None}
    return settings_class(**given)
