"""The eval console's cards at 160x50 over small 2x2 grids: every title reads whole (attempt 1 from attempt 2)."""

import asyncio
import json
import re
from pathlib import Path

from arc_console.arc import load_tasks
from arc_console.engine.control import RunControl
from arc_console.evaluation.model import load_eval_model
from arc_console.evaluation.runner import run_evaluation
from arc_console.evaluation.settings import EvalSettings
from arc_console.tui.eval_app import EvalApp
from arc_console.tui.widgets.grid_card import GridCard

SMALL_TASK = {"train": [{"input": [[1, 2], [3, 4]], "output": [[4, 3], [2, 1]]}],
              "test": [{"input": [[5, 6], [7, 8]], "output": [[8, 7], [6, 5]]}]}


def screen_text(app: EvalApp) -> str:
    """What the terminal shows, as text (the screenshot's SVG with its markup taken out)."""
    svg = app.export_screenshot()
    return re.sub(r"<[^>]+>", "", svg).replace("&#160;", " ").replace("&amp;", "&")


async def test_small_grids_keep_their_card_titles_whole(tmp_path: Path) -> None:
    task_file = tmp_path / "small2x2.json"
    task_file.write_text(json.dumps(SMALL_TASK))
    tasks = load_tasks(str(task_file))
    engine, _ = load_eval_model("tiny")
    control = RunControl()
    app = EvalApp(lambda sink: run_evaluation(tasks, engine, EvalSettings(augment="dihedral"), tmp_path / "eval", sink,
                                              control, model_name="tiny", device="cpu"), control.request_stop)
    async with app.run_test(size=(160, 50)) as pilot:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 300
        while app.finished is None:
            assert app.is_running and loop.time() < deadline
            await pilot.pause(0.1)
        await pilot.pause()
        cards = [app.query_one(f"#card-{name}", GridCard) for name in ("input", "target", "attempt1", "attempt2")]
        views_row = app.query_one("#views-row").scrollable_content_region
        in_view = [card for card in app.query(".view-candidate").results(GridCard)
                   if card.region and views_row.contains_region(card.region)]  # the rest lie past the row's edge
        assert len(in_view) >= 4
        cards += in_view
        assert [len(card.grid_data) for card in cards[:2]] == [2, 2]
        shown = screen_text(app)
        assert not re.search(r"(attempt|input|target|view|\d disti)[^│\n]{0,30}…", shown)  # what QA saw: "attempt…", "0 disti…"
        for card in cards:
            for title in (str(card.border_title), str(card.border_subtitle)):
                assert title.strip() in shown, title
        assert re.search(r"attempt 1 [✓✗]", shown) and re.search(r"attempt 2 [✓✗]", shown)
        assert "distinct" in str(cards[2].border_subtitle) and f"input {tasks[0].id}" in shown
        await pilot.press("q")
    assert app.return_code == 0
