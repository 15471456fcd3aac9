"""Find the grid a model answered in its response text.

The rules (issue #2): look only in the final channel when there is one; a row is a line of single
digits separated by spaces and/or commas (optionally in `[ ]`, optionally followed by a comma), or
a line made only of digits; the answer is the last block of consecutive rows, or the last JSON list
of lists, whichever ends later; a ragged last block is no answer at all.
"""

from __future__ import annotations

import json
import re

from arc_console.arc.grids import Grid

_SPECIAL_TOKEN = re.compile(r"<\|[^|<>\s]{1,32}\|>")
_FINAL_MARKER = "<|channel|>final"
_FINAL_OPENERS = ("<|message|>", "<|return|>")
_SEPARATED_ROW = re.compile(r"\d(?:[ \t,]+\d)*")
_DIGITS_ONLY = re.compile(r"\d+")
_JSON_START = re.compile(r"\[\s*\[")


def final_channel(text: str) -> str | None:
    """The text of the last final channel, up to the next special token; None when there is none."""
    start = text.rfind(_FINAL_MARKER)
    if start < 0:
        return None
    rest = text[start + len(_FINAL_MARKER) :]
    for opener in _FINAL_OPENERS:
        if rest.startswith(opener):
            rest = rest[len(opener) :]
            break
    following = _SPECIAL_TOKEN.search(rest)
    return rest[: following.start()] if following else rest


_CHANNEL_MARKER = re.compile(r"<\|channel\|>([A-Za-z_]{1,32})(?:<\|message\|>|<\|return\|>)?")


def split_channels(text: str) -> list[tuple[str, str]]:
    """The response cut into (channel, content) parts; other special tokens stay, literally.

    Text before any channel marker belongs to the final channel: the seed's prompt already opened it.
    """
    parts: list[tuple[str, str]] = []
    position, channel = 0, "final"
    for match in _CHANNEL_MARKER.finditer(text):
        parts.append((channel, text[position : match.start()]))
        channel, position = match.group(1), match.end()
    parts.append((channel, text[position:]))
    return [(name, body.strip("\n")) for name, body in parts if body.strip()]


def parse_row(line: str) -> list[int] | None:
    """The cells of one grid row, or None when the line is not a row."""
    s = line.strip()
    if s.endswith(","):
        s = s[:-1].rstrip()
    if s.startswith("[") and s.endswith("]"):
        s = s[1:-1].strip()
    if _DIGITS_ONLY.fullmatch(s):
        return [int(ch) for ch in s]
    if _SEPARATED_ROW.fullmatch(s):
        return [int(token) for token in re.split(r"[ \t,]+", s)]
    return None


def _row_blocks(text: str) -> list[tuple[int, list[list[int]]]]:
    """Blocks of consecutive row lines, each with the offset where it ends."""
    blocks: list[tuple[int, list[list[int]]]] = []
    current: list[list[int]] = []
    offset = 0
    end = 0
    for line in text.splitlines(keepends=True):
        row = parse_row(line)
        offset += len(line)
        if row is not None:
            current.append(row)
            end = offset
        elif current:
            blocks.append((end, current))
            current = []
    if current:
        blocks.append((end, current))
    return blocks


def _json_grids(text: str) -> list[tuple[int, list[list[int]] | None]]:
    """JSON lists of lists of digits, each with the offset where it ends (None: ragged)."""
    found: list[tuple[int, list[list[int]] | None]] = []
    decoder = json.JSONDecoder()
    position = 0
    while (match := _JSON_START.search(text, position)) is not None:
        try:
            value, end = decoder.raw_decode(text, match.start())
        except (ValueError, RecursionError):
            position = match.start() + 1
            continue
        position = end
        if _is_digit_matrix(value):
            found.append((end, value if len({len(row) for row in value}) == 1 else None))
    return found


def _is_digit_matrix(value: object) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(row, list) and row for row in value)
        and all(type(cell) is int and 0 <= cell <= 9 for row in value for cell in row)
    )


def parse_response(text: str) -> Grid | None:
    """The grid a model answered, or None. Never raises on any string."""
    if not isinstance(text, str):
        return None
    region = final_channel(text)
    if region is None:
        # No final channel: the whole text, with special tokens acting as line breaks.
        region = _SPECIAL_TOKEN.sub("\n", text)
    candidates: list[tuple[int, Grid | None]] = []
    for end, rows in _row_blocks(region):
        candidates.append((end, rows if len({len(row) for row in rows}) == 1 else None))
    candidates.extend(_json_grids(region))
    if not candidates:
        return None
    return max(candidates, key=lambda item: item[0])[1]
