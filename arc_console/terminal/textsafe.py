"""Untrusted text (model output, task ids from files) made safe to show in a terminal.

Control characters, ANSI/OSC escapes included, become visible escapes such as \\x1b, so nothing
the model wrote can move the cursor, change colours or retitle the terminal. Rich markup is never
parsed from it either: callers put the result in a rich Text, never in a markup string.
"""

from __future__ import annotations

import re

from rich.text import Text

# C0 controls but newline and tab, DEL, C1 controls, and the Unicode line/paragraph separators
# and bidi overrides that can disguise text.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def visible(text: str) -> str:
    """`text` with every control character replaced by a visible \\xNN or \\uNNNN escape."""
    return _UNSAFE.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}", text)


def one_line(text: str, limit: int = 200) -> str:
    """A visible single line, cut at `limit` characters."""
    flat = visible(text).replace("\n", "⏎").replace("\t", " ")
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def safe_text(text: object, limit: int = 200, style: str = "") -> Text:
    """A rich Text of `one_line(str(text))`: what every title, border title, status line and
    notification built from a file, task, model or command-line string should hold. Being a Text,
    Rich and Textual never read markup from it (a str title or notification would be parsed)."""
    return Text(one_line(str(text), limit), style=style, no_wrap=True, end="")


def has_unsafe(text: str) -> bool:
    """Whether `text` holds a control character that `visible` would replace."""
    return _UNSAFE.search(text) is not None


def one_line_tail(text: str, limit: int = 200) -> str:
    """Like one_line, but a long text keeps its end (a path's last folders name it best)."""
    flat = one_line(text, len(text) * 6 + 1)  # every character's escape fits
    return flat if len(flat) <= limit else "…" + flat[-(limit - 1):]
