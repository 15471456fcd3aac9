"""A fixed, deterministic event sequence and hardware sample for dashboard snapshots; helpers to wait
on a running app and read its screen."""

from __future__ import annotations

import re
import threading

from arc_console.arc import load_tasks, select_tasks
from arc_console.engine import events as ev
from arc_console.monitor.hardware import GpuSample, HardwareSample, HostSample

GB = 1024**3


class FixedSampler:
    """A hardware sampler that always reads the same H200, so snapshots do not depend on this machine."""

    def sample(self) -> HardwareSample:
        gpu = GpuSample(0, "NVIDIA H200", int(17.2 * GB), int(141 * GB), int(16.8 * GB), 97, 64, 512.0)
        return HardwareSample([gpu], HostSample(35.0, 6 * GB, 24 * GB, int(1.5 * GB)))


def _candidate(number: int, grid, target, temperature: float, text: str) -> dict:
    from arc_console.arc import score_grid

    score = score_grid(grid, target)
    return {"candidate_id": number, "response_text": text, "predicted_grid": grid, **score.as_dict(),
            "temperature": temperature, "reward": score.accuracy, "tokens": 40, "truncated": False}


def step_events(step: int = 3, hostile_text: str | None = None, problem: str = "af902bf9") -> list[ev.Event]:
    """Steps 1..step-1 as metrics, then `step` on `problem` (an ARC-AGI-1 training task) with 8 candidates:
    right, two cells wrong, too small, no grid, ..."""
    (task,) = select_tasks(load_tasks("arc1-training"), [problem])
    target = task.test_output
    wrong = [row[:] for row in target]
    wrong[0][0] = 5
    wrong[min(4, len(target) - 1)][min(4, len(target[0]) - 1)] = 6
    half = (len(target) + 1) // 2
    small = [row[:half] for row in target[:half]]
    temps = [0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3]
    grids = [target, wrong, small, None, wrong, target, small, wrong]
    candidates = [
        _candidate(i + 1, g, target, temps[i], hostile_text if hostile_text and i == 0 else f"answer {i + 1}")
        for i, g in enumerate(grids)
    ]
    events: list[ev.Event] = [
        ev.RunStarted("runs/demo", "tiny", "hf", "cpu", "dapo", 1, 50, 8, ["af902bf9", "6150a2bd"]),
    ]
    for s in range(1, step):
        metrics = {"step": s, "problem_id": "af902bf9" if s % 2 else "6150a2bd", "best_accuracy": 0.2 * s,
                   "mean_accuracy": 0.1 * s, "reward_mean": 0.1 * s - 0.1, "perfect": False, "step_time_s": 2.0,
                   "tokens_per_s": 900.0, "loss": 0.1}
        events.append(ev.StepFinished(s, metrics["problem_id"], metrics, {"candidates": [], "target_grid": target}))
    events.append(ev.StepStarted(step, task.id, task.test_input, target, temps))
    events += [ev.CandidateScored(step, task.id, c) for c in candidates]
    metrics = {"step": step, "problem_id": task.id, "best_accuracy": 1.0, "mean_accuracy": 0.7, "reward_mean": 0.8,
               "perfect": True, "step_time_s": 2.5, "tokens_per_s": 950.0, "loss": 0.05}
    record = {"step": step, "problem_id": task.id, "target_grid": target, "test_input": task.test_input,
              "candidates": candidates, "best_candidate_id": 1, "best_accuracy": 1.0}
    events.append(ev.StepFinished(step, task.id, metrics, record))
    events.append(ev.LogLine("2026-11-30 08:00:00 INFO    step 3 problem af902bf9 best 1.00 mean 0.70"))
    return events


def replay_source(events: list[ev.Event]):
    """A source that sends fixed events and then waits until the app closes."""

    def source(sink, closing: threading.Event) -> None:
        for event in events:
            sink(event)
        closing.wait()

    return source


async def until(pilot, condition, timeout: float = 10.0) -> None:
    """Wait until condition() holds on a live dashboard (where events keep arriving, so `painted` may never settle)."""
    for _ in range(int(timeout / 0.05)):
        if condition():
            return
        await pilot.pause(0.05)
    assert condition(), "the dashboard did not reach the expected state"


async def until_painted(pilot, app, timeout: float = 10.0) -> None:
    """Wait until every event the app has received is on screen (panels are painted band by band)."""
    await pilot.pause(0.05)  # let the source's events arrive first
    await until(pilot, lambda: app.painted, timeout)
    await pilot.pause()


def screen_lines(app) -> list[str]:
    """The terminal's rows as text, spaces and all (as export_screenshot renders them, without the SVG)."""
    import io

    from rich.console import Console

    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True, color_system="truecolor",
                      record=True, legacy_windows=False, safe_box=False)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text().splitlines()


def footer_line(app) -> str:
    """The terminal's last row: the keys."""
    return screen_lines(app)[-1]


def screen_text(app) -> str:
    """What the terminal shows, as text (the screenshot's SVG with its markup taken out)."""
    svg = app.export_screenshot()
    return re.sub(r"<[^>]+>", "", svg).replace("&#160;", " ").replace("&amp;", "&")
