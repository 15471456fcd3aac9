"""Hypothesis: random responses through parse and score; random corrupt step files through replay
(--print's code path and the app); random theme files through the theme loader."""

import io
import json
import string
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from rich.console import Console

from arc_console.arc import parse_response, score_grid
from arc_console.tui.replay_print import print_step
from arc_console.rundir.files import RunFileError, list_step_files, load_step_file
from arc_console.tui.replay_app import ReplayApp
from arc_console.tui.themes import ThemeError, load_theme_file

from seed_step import SEED_FILE

cells = st.integers(0, 9)
grids = st.integers(1, 6).flatmap(lambda h: st.integers(1, 6).flatmap(
    lambda w: st.lists(st.lists(cells, min_size=w, max_size=w), min_size=h, max_size=h)))


@given(st.text(), grids)
def test_parse_then_score_never_fails(text: str, target) -> None:
    score = score_grid(parse_response(text), target)
    assert 0.0 <= score.accuracy <= 1.0 and (score.accuracy == 1.0) == score.perfect_match


json_values = st.recursive(st.none() | st.booleans() | st.integers(-20, 40) | st.floats(allow_nan=False) | st.text(max_size=8),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                           max_leaves=20)


def mutations():
    keys = list(SEED_FILE)
    return st.one_of(
        st.builds(lambda k, v: {**SEED_FILE, k: v}, st.sampled_from(keys), json_values),
        st.builds(lambda k, v: {**SEED_FILE, "candidates": [{**SEED_FILE["candidates"][0], k: v}]},
                  st.sampled_from(list(SEED_FILE["candidates"][0])), json_values),
        json_values,
    )


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mutations(), st.integers(0, 400))
def test_corrupt_step_files_through_replay_print(tmp_path: Path, data, cut: int) -> None:
    path = tmp_path / "step_001.json"
    text = json.dumps(data)
    path.write_text(text[:cut] if cut < len(text) and cut % 3 == 0 else text)
    try:
        record = load_step_file(path)
    except RunFileError as exc:
        assert str(path) in str(exc) and "\n" not in str(exc)
        return
    print_step(record, str(path), Console(file=io.StringIO(), width=120))


@pytest.mark.slow
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mutations())
async def test_corrupt_step_files_in_the_app(tmp_path: Path, data) -> None:
    # tmp_path is shared by every example hypothesis draws (and it may draw the same one twice)
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    (folder / "step_001.json").write_text(json.dumps(data))
    app = ReplayApp(list_step_files(folder), 0, None)
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        await pilot.press("right", "right_square_bracket", "d", "g")
        assert app.replay.record is not None or app.replay.error


theme_text = st.one_of(
    st.text(alphabet=string.printable, max_size=200),
    st.dictionaries(st.sampled_from(["name", "primary", "dark", "background", "panel", "bogus"]),
                    st.one_of(st.text(max_size=10), st.booleans(), st.integers(), st.sampled_from(["#ff0000", "red", "#12"])),
                    max_size=6).map(lambda d: "\n".join(f"{k} = {json.dumps(v)}" for k, v in d.items())),
)


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(theme_text)
def test_random_theme_files(tmp_path: Path, text: str) -> None:
    path = tmp_path / "theme.toml"
    path.write_text(text)
    try:
        theme = load_theme_file(path)
    except ThemeError as exc:
        assert str(path) in str(exc)
    else:
        assert theme.name and theme.primary
