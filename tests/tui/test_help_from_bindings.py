"""The help screen is built from the bindings: every binding a screen declares has its row, with the
keys the footer shows, and there is no row without a binding. Driven with Pilot on the real apps."""

from __future__ import annotations

from pathlib import Path

import html
import re

import pytest
from textual.binding import Binding

from arc_console.rundir.files import list_step_files
from arc_console.tui.app import ConsoleApp
from arc_console.tui.replay_app import ReplayApp
from arc_console.tui.screens.help import HelpScreen

from tui_fixtures import FixedSampler, replay_source, step_events, until_painted
from paths import DATA

SIZE = (160, 50)


def screen_text(svg: str) -> str:
    """The characters of an exported screenshot, each screen row on its own line."""
    rows = re.findall(r"<text [^>]*>([^<]*)</text>", svg)
    return "".join(html.unescape(row) for row in rows).replace("\xa0", " ")


def _apps():
    yield "train", lambda: ConsoleApp(replay_source(step_events()), sampler_factory=FixedSampler)
    yield "watch", lambda: ConsoleApp(replay_source(step_events()), mode="watch", sampler_factory=FixedSampler)
    yield "replay", lambda: ReplayApp(list_step_files(DATA), 0, None)


@pytest.mark.parametrize("use, make_app", list(_apps()), ids=[use for use, _ in _apps()])
async def test_every_binding_has_its_help_row_and_nothing_else(use, make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        if isinstance(app, ConsoleApp):
            await until_painted(pilot, app)
        await pilot.pause()
        screen = app.screen
        declared = [b for b in screen.BINDINGS if isinstance(b, Binding)]
        assert len(declared) == len(screen.BINDINGS)
        footer = {binding.key: binding.description for (_, binding, _, _) in screen.active_bindings.values()
                  if binding.show}
        await pilot.press("question_mark")
        await pilot.pause()
        help_screen = app.screen
        assert isinstance(help_screen, HelpScreen)
        rows = help_screen.rows
        listed = [keys for keys, _ in rows]
        assert len(listed) == len(set(listed)), rows  # each key once: q's two meanings share its row
        meanings = [meaning for _, text in rows for meaning in text.split(" · ")]
        assert len(meanings) == len(declared), rows  # nothing else: one meaning a binding
        for binding in declared:
            keys, text = next((keys, text) for keys, text in rows
                              if (binding.tooltip or binding.description) in text.split(" · "))
            for key in binding.key.split(","):
                shown = binding.key_display or app.get_key_display(Binding(key, binding.action))
                assert shown in keys, (binding, keys)
        # Every key the footer offers is explained, under the same key the footer shows.
        for key in footer:
            assert any(app.get_key_display(Binding(key, "x")) in keys for keys, _ in rows), key
        shown_text = screen_text(app.export_screenshot())
        for keys, text in rows:
            # a long row wraps inside the help box: its words are on screen, in order within their lines
            assert keys in shown_text and all(word in shown_text for word in text.split()), (keys, text)
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen


async def test_watch_help_offers_no_key_that_steers_the_run() -> None:
    app = ConsoleApp(replay_source(step_events()), mode="watch", sampler_factory=FixedSampler)
    async with app.run_test(size=SIZE) as pilot:
        await until_painted(pilot, app)
        await pilot.press("question_mark")
        await pilot.pause()
        keys = [keys for keys, _ in app.screen.rows]
        assert "p" not in keys and "s" not in keys
        assert dict(app.screen.rows)["q"].startswith("quit")
