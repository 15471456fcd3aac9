"""`arc-console replay --print`: one step rendered with rich for pipes and logs.

Grids in the ARC palette; model text printed literally (escapes made visible, never markup).
"""

from __future__ import annotations

import os
from typing import Any

from rich.console import Console, Group
from rich.columns import Columns
from rich.panel import Panel
from rich.text import Text

from arc_console.arc.candidates import best_candidate_id
from arc_console.arc.parse import split_channels
from arc_console.terminal.textsafe import visible
from arc_console.tui.grid_render import FULL, render_grid
from arc_console.tui.run_view import view_description
from arc_console.tui.widgets.candidates import candidate_badges


def _card(grid: list[list[int]] | None, title: str, subtitle: str = "", digits: bool = False) -> Panel:
    body = render_grid(grid, FULL, digits) if grid else Text("no grid", style="italic")
    return Panel(body, title=Text(title), subtitle=Text(subtitle), expand=False, border_style="dim")


def render_step(record: dict[str, Any], source: str, digits: bool = False) -> Group:
    candidates = record["candidates"]
    best_id = best_candidate_id(candidates)
    header = Text.assemble(
        ("step ", "bold"), str(record["step"]), "  ", ("problem ", "bold"), visible(record["problem_id"]), "  ",
        visible(str(record.get("timestamp", ""))), "  ", (visible(source), "dim"))
    seen_as = view_description(record)
    if seen_as:
        header.append_text(Text.assemble("  ", ("as the model saw it: ", "bold"), visible(seen_as),
                                         (" (every grid below is under this view)", "dim")))
    cards = [_card(record.get("test_input"), "input", digits=digits) if record.get("test_input") else
             Panel(Text("not recorded", style="italic"), title="input", expand=False, border_style="dim"),
             _card(record["target_grid"], "target", digits=digits)]
    for candidate in candidates:
        temperature = candidate.get("temperature")
        title = f"#{candidate['candidate_id']}" + (f" T{temperature:.2f}" if temperature is not None else "")
        cards.append(_card(candidate["predicted_grid"], title, candidate_badges(candidate, best_id), digits))
    texts: list[Any] = []
    for candidate in candidates:
        label = f"#{candidate['candidate_id']}" + (" ★" if candidate["candidate_id"] == best_id else "")
        parts = split_channels(candidate["response_text"]) or [("final", "")]
        body = Text()
        for channel, content in parts:
            body.append(f"[{channel}]\n", style="dim")
            body.append(visible(content) + "\n")
        texts.append(Panel(body, title=Text(label), title_align="left", border_style="dim"))
    return Group(header, Columns(cards), *texts)


def print_step(record: dict[str, Any], source: str, console: Console | None = None, digits: bool = False) -> None:
    # Colour even into a pipe (the grids are colour), unless NO_COLOR asks otherwise: then the cells show
    # their numbers, or the grids would be blank.
    colour = not os.environ.get("NO_COLOR")
    console = console or Console(highlight=False, force_terminal=colour, color_system="truecolor" if colour else None)
    console.print(render_step(record, source, digits or not colour), markup=False, highlight=False)
