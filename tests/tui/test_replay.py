"""Replay: step files from a real tiny run, navigation, --print, the seed's own files, bad input."""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from arc_console.rundir.files import list_step_files
from arc_console.tui.replay_app import ReplayApp
from arc_console.tui.widgets.candidates import CandidatesPanel

from helpers import make_trainer
from seed_step import SEED_FILE

CLI = [sys.executable, "-m", "arc_console"]
SIZE = (160, 50)



@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("replay") / "run"
    trainer, _ = make_trainer(run, max_steps=4)
    trainer.run()
    return run


def tree_digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        stat = path.stat()
        digest.update(f"{path}:{stat.st_mtime_ns}:{stat.st_size}".encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def header(app) -> str:
    return app.query_one("#header").render().plain


async def test_navigation_over_a_real_run(run_dir: Path) -> None:
    before = tree_digest(run_dir)
    files = list_step_files(run_dir / "logs/responses")
    app = ReplayApp(files, 1, run_dir)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        # which problem step 2 drew depends on dynamic sampling's extra draws: the header shows the file's
        step_two = json.loads((run_dir / "logs/responses/step_002.json").read_text())["problem_id"]
        assert "step 2 " in header(app) and step_two in header(app)
        panel = app.query_one(CandidatesPanel)
        assert len(panel.candidate_cards) == 4
        start = app.replay.selected
        await pilot.press("right")
        assert app.replay.selected == (start + 1) % 4
        assert f"#{app.replay.selected + 1}" in str(app.query_one("#response-scroll").border_title)
        await pilot.press("left", "left")
        assert app.replay.selected == (start - 1) % 4
        await pilot.press("right_square_bracket")
        assert "step 3 " in header(app)
        await pilot.press("left_square_bracket", "left_square_bracket")
        assert "step 1 " in header(app)
        await pilot.press("left_square_bracket")  # no step 0: stays, says so
        assert "step 1 " in header(app)
        await pilot.press("b")
        assert app.replay.selected == app.replay._best_index()
        await pilot.press("d")
        assert panel.diff
        assert app.query_one("#history").marked_step == 1
        await pilot.press("q")
    assert app.return_code == 0
    assert tree_digest(run_dir) == before  # replay never writes


def test_replay_run_dir_opens_at_its_last_step(run_dir: Path) -> None:
    from arc_console.cli.view import _locate

    files, index, located = _locate(run_dir)
    assert files[index].step == 4 and located == run_dir


def test_print_renders_grids_in_colour_and_text_literally(run_dir: Path, tmp_path: Path) -> None:
    record = json.loads((run_dir / "logs/responses/step_002.json").read_text())
    record["candidates"][0]["response_text"] = "[bold red]boom[/] \x1b[31mred \x1b]0;pwned\x07 \x9b2J"
    hostile = tmp_path / "step_002.json"
    hostile.write_text(json.dumps(record))
    out = subprocess.run([*CLI, "replay", "--print", str(hostile)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "[bold red]boom[/]" in out.stdout
    assert "\\x1b[31mred" in out.stdout and "\\x1b]0;pwned\\x07" in out.stdout and "\\x9b2J" in out.stdout
    assert "\x1b]0;" not in out.stdout and "\x07" not in out.stdout and "\x9b" not in out.stdout
    from arc_console.tui.grid_render import ARC_PALETTE

    backgrounds = {"48;2;%d;%d;%d" % tuple(int(c[i : i + 2], 16) for i in (1, 3, 5)) for c in ARC_PALETTE}
    assert any(b in out.stdout for b in backgrounds)  # cells are drawn in the ARC palette


def test_seed_schema_file_opens(tmp_path: Path) -> None:
    path = tmp_path / "step_001.json"
    path.write_text(json.dumps(SEED_FILE))
    out = subprocess.run([*CLI, "replay", "--print", str(path)], capture_output=True, text=True,
                         env={**os.environ, "NO_COLOR": "1"}, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "af902bf9" in out.stdout and "Model response..." in out.stdout and "not recorded" in out.stdout
    # Without colour the cells show their numbers (the target's rows 0 1 2 and 1 0 1), not blanks.
    assert "\x1b[" not in out.stdout
    assert any(line.count("0") and "1" in line and "2" in line for line in out.stdout.splitlines()
               if "│" in line), out.stdout


async def test_seed_schema_file_in_the_app(tmp_path: Path) -> None:
    path = tmp_path / "step_001.json"
    path.write_text(json.dumps(SEED_FILE))
    app = ReplayApp(list_step_files(tmp_path), 0, None)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert "af902bf9" in header(app)
        assert "Model response..." in app.query_one("#response-text").render().plain


BAD = [
    ("not-json", "this is not json", "not valid JSON"),
    ("truncated", json.dumps(SEED_FILE)[:60], "not valid JSON (truncated?"),
    ("other-shape", json.dumps([1, 2, 3]), "expected a step object"),
    ("no-candidates", json.dumps({"step": 1, "problem_id": "x"}), "no 'candidates'"),
    ("ragged", json.dumps({**SEED_FILE, "candidates": [{**SEED_FILE["candidates"][0], "predicted_grid": [[1, 2], [3]]}]}),
     "candidate 1 predicted_grid: rows differ"),
    ("out-of-range", json.dumps({**SEED_FILE, "target_grid": [[1, 10]]}), "target_grid: cell (0, 1) is 10"),
    ("oversized", json.dumps({**SEED_FILE, "target_grid": [[1] * 31]}), "at most 30 columns"),
    ("binary", "\udcff", "not UTF-8"),
]


@pytest.mark.parametrize(("name", "content", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_step_files_are_one_line_and_exit_2(tmp_path: Path, name: str, content: str, message: str) -> None:
    path = tmp_path / "step_001.json"
    path.write_bytes(content.encode("utf-8", "surrogateescape"))
    out = subprocess.run([*CLI, "replay", "--print", str(path)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and out.stderr.startswith("arc-console: error: ") and message in out.stderr
    assert "Traceback" not in out.stderr


def test_missing_path_and_empty_folder(tmp_path: Path) -> None:
    out = subprocess.run([*CLI, "replay", "--print", str(tmp_path / "nope.json")], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 2 and "no such file" in out.stderr
    out = subprocess.run([*CLI, "replay", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "no step_NNN.json files" in out.stderr


async def test_bad_sibling_file_shows_a_message_in_the_app(run_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "responses"
    folder.mkdir()
    (folder / "step_001.json").write_text((run_dir / "logs/responses/step_001.json").read_text())
    (folder / "step_002.json").write_text("{truncated")
    app = ReplayApp(list_step_files(folder), 0, None)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("right_square_bracket")
        await pilot.pause()
        assert "not valid JSON" in app.query_one("#response-text").render().plain
        assert any("not valid JSON" in str(n.message) for n in app._notifications)
        await pilot.press("left_square_bracket")
        assert "step 1 " in header(app)


async def test_ten_thousand_step_run_directory(tmp_path: Path) -> None:
    run = tmp_path / "big"
    responses = run / "logs/responses"
    responses.mkdir(parents=True)
    text = json.dumps(SEED_FILE)
    lines = []
    for step in range(1, 10_001):
        (responses / f"step_{step:03d}.json").write_text(text.replace('"step": 1', f'"step": {step}', 1))
        lines.append(json.dumps({"step": step, "problem_id": "af902bf9", "best_accuracy": (step % 10) / 10,
                                 "mean_accuracy": 0.1, "reward_mean": 0.0, "perfect": step % 997 == 0}))
    (run / "logs/metrics.jsonl").write_text("\n".join(lines) + "\n")
    from arc_console.cli.view import _locate

    files, index, run_dir = _locate(run)
    assert len(files) == 10_000 and files[index].step == 10_000
    app = ReplayApp(files, index, run_dir)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert "step 10000 " in header(app) and "10000/10000" in header(app)
        charted = app.query_one("#history").history  # the chart is given every step, and draws a thinned 2,000
        assert len(app.replay.recorded.metrics) == 10_000
        assert len(charted) <= 2_100 and any(m.get("perfect") for m in charted)
