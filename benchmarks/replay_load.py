"""Replay speed: first frame of a step with 8 candidates of 30x30, and a 2,000-step run's history.

    python benchmarks/replay_load.py

Builds both inputs in a temporary folder, then times (median of 5) from starting ReplayApp to its
first complete frame (Textual's headless driver at 160x50), and reading + thinning the history.
Writes benchmarks/results/replay_load_DATE.json.
"""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from arc_console.arc import score_grid
from arc_console.rundir.runlog import dump_step_json
from arc_console.rundir.files import list_step_files, read_metrics
from arc_console.tui.replay_app import ReplayApp, thin


def build_run(root: Path, steps: int) -> Path:
    rng = random.Random(0)
    responses = root / "logs" / "responses"
    responses.mkdir(parents=True)
    target = [[rng.randrange(10) for _ in range(30)] for _ in range(30)]
    candidates = []
    for number in range(1, 9):
        grid = [[cell if rng.random() < 0.8 else rng.randrange(10) for cell in row] for row in target]
        text = "\n".join(" ".join(map(str, row)) for row in grid)
        candidates.append({"candidate_id": number, "response_text": text, "predicted_grid": grid,
                           **score_grid(grid, target).as_dict(), "temperature": 0.6 + 0.1 * number})
    record = {"step": steps, "problem_id": "bench", "prompt": "", "target_grid": target, "test_input": target,
              "candidates": candidates, "best_candidate_id": 1, "best_accuracy": 0.8, "timestamp": "2026-11-30T00:00:00"}
    (responses / f"step_{steps:03d}.json").write_text(dump_step_json(record))
    lines = [json.dumps({"step": s, "problem_id": f"p{s % 5}", "best_accuracy": rng.random(), "mean_accuracy": 0.3,
                         "reward_mean": 0.2, "perfect": s % 400 == 0, "step_time_s": 40.0}) for s in range(1, steps + 1)]
    (root / "logs" / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    return root


async def first_frame_s(run: Path) -> float:
    files = list_step_files(run / "logs" / "responses")
    started = time.perf_counter()
    app = ReplayApp(files, len(files) - 1, run)
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        elapsed = time.perf_counter() - started
        assert "step 2000" in app.query_one("#header").render().plain
    return elapsed


def main() -> None:
    run = build_run(Path(tempfile.mkdtemp()) / "run", 2000)
    history_s = []
    for _ in range(5):
        started = time.perf_counter()
        thin(read_metrics(run))
        history_s.append(time.perf_counter() - started)
    frames = [asyncio.run(first_frame_s(run)) for _ in range(5)]
    result = {
        "date": date.today().isoformat(),
        "command": "python benchmarks/replay_load.py " + " ".join(sys.argv[1:]),
        "step": "8 candidates of 30x30 (plus input and target), 2,000-step history in the same run",
        "first_frame_s": frames,
        "first_frame_s_median": statistics.median(frames),
        "history_2000_steps_load_s": history_s,
        "history_2000_steps_load_s_median": statistics.median(history_s),
    }
    out = Path(__file__).parent / "results" / f"replay_load_{result['date']}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
