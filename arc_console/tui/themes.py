"""Theme files (TOML) from the top-level themes/ folder, turned into Textual Themes.

A theme changes the console's chrome only; ARC colours are fixed (grid_render.ARC_PALETTE).
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING

from arc_console.terminal.textsafe import has_unsafe, one_line

COLOUR_KEYS = ("primary", "secondary", "accent", "foreground", "background", "surface", "panel", "success", "warning",
               "error", "boost")
DEFAULT_THEME = "arc-dark"

if TYPE_CHECKING:
    from textual.theme import Theme  # imported where a Theme is built: the CLI checks --theme without Textual


class ThemeError(ValueError):
    pass


def theme_dirs() -> list[Path]:
    """The repository's themes/ (editable installs) and the installed copy under sys.prefix."""
    here = Path(__file__).resolve().parents[2] / "themes"
    installed = Path(sys.prefix) / "share" / "arc-console" / "themes"
    return [d for d in (here, installed) if d.is_dir()]


def load_theme_file(path: Path) -> Theme:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ThemeError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ThemeError(f"{path}: not valid TOML ({exc})") from None
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ThemeError(f"{path}: needs a name")
    if has_unsafe(name) or any(c in name for c in "[]"):
        # The name is shown in the command palette and notifications, and selects the theme.
        raise ThemeError(f"{path}: the name {one_line(name, 40)!r} holds control characters or brackets")
    if not isinstance(data.get("primary"), str):
        raise ThemeError(f"{path}: needs a primary colour")
    unknown = set(data) - {"name", "dark", *COLOUR_KEYS}
    if unknown:
        raise ThemeError(f"{path}: unknown key(s) {', '.join(sorted(unknown))}")
    colours = {}
    for key in COLOUR_KEYS:
        if key in data:
            value = data[key]
            if not isinstance(value, str):
                raise ThemeError(f"{path}: {key} must be a colour string")
            colours[key] = value
    dark = data.get("dark", True)
    if not isinstance(dark, bool):
        raise ThemeError(f"{path}: dark must be true or false")
    from textual.color import Color
    from textual.theme import Theme

    try:
        for key, value in colours.items():
            Color.parse(value)
    except Exception:
        raise ThemeError(f"{path}: {key} is not a colour: {value!r}") from None
    return Theme(name=name.strip(), dark=dark, **colours)


def load_themes(extra: list[Path] | None = None) -> tuple[list[Theme], list[str]]:
    """Every theme file found; broken ones are reported, never fatal."""
    themes, problems = [], []
    files = [f for d in theme_dirs() for f in sorted(d.glob("*.toml"))] + list(extra or [])
    seen = set()
    for file in files:
        try:
            theme = load_theme_file(file)
        except ThemeError as exc:
            problems.append(str(exc))
            continue
        if theme.name not in seen:
            seen.add(theme.name)
            themes.append(theme)
    return themes, problems


def bundled_theme_names() -> list[str]:
    """The names the theme files in themes/ give themselves, read without Textual (a broken file has none)."""
    names = []
    for file in (f for d in theme_dirs() for f in sorted(d.glob("*.toml"))):
        try:
            name = tomllib.loads(file.read_text(encoding="utf-8")).get("name")
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
            continue
        if isinstance(name, str) and name.strip() and name.strip() not in names:
            names.append(name.strip())
    return names


def theme_problem(requested: str) -> str | None:
    """Why `requested` (a name, or a path ending in .toml) cannot be used as a theme; None if it can.
    A name is one of themes/' or one of Textual's own; Textual is imported only to look a name up there."""
    if Path(requested).suffix == ".toml":  # as the apps tell a file from a name
        try:
            load_theme_file(Path(requested))
        except ThemeError as exc:
            return str(exc)
        return None
    bundled = bundled_theme_names()
    if requested in bundled:
        return None
    from textual.theme import BUILTIN_THEMES

    if requested in BUILTIN_THEMES:
        return None
    return f"no theme named {requested!r}: choose {', '.join(bundled)}, or give a theme FILE.toml"
