"""The accuracy chart's y-axis is accuracy's, 0 to 1: the reward, which runs past 1 with its bonuses (and
below 0 with its penalties), is drawn against its own axis on the right (it shared the left one, which
then ran to 1.18). The real dashboard at 120x40, fed steps whose rewards exceed 1."""

from __future__ import annotations

import re

from arc_console.engine import events as ev
from arc_console.tui.app import ConsoleApp
from tui_fixtures import FixedSampler, replay_source, until_painted

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def steps_with_rewards_above_one() -> list[ev.Event]:
    events: list[ev.Event] = [ev.RunStarted("runs/demo", "tiny", "hf", "cpu", "dapo", 1, 50, 8, ["a", "b"])]
    for step in range(1, 13):
        reward = -0.2 + 0.15 * step  # -0.05 .. 1.6: a perfect answer's bonus takes it past 1
        metrics = {"step": step, "problem_id": "a", "best_accuracy": min(1.0, 0.3 + 0.07 * step),
                   "mean_accuracy": 0.2 + 0.05 * step, "reward_mean": reward, "perfect": step >= 10,
                   "step_time_s": 2.0, "tokens_per_s": 900.0, "loss": 0.1}
        events.append(ev.StepFinished(step, "a", metrics, {"candidates": [], "target_grid": [[1]]}))
    return events


def axis_labels(chart: str) -> tuple[list[float], list[float]]:
    """The numbers on the left axis (before ┤) and on the right axis (after ├)."""
    left = [float(m) for m in re.findall(r"^\s*(-?\d+\.\d+)┤", chart, re.M)]
    right = [float(m) for m in re.findall(r"├(-?\d+\.\d+)\s*$", chart, re.M)]
    return left, right


async def test_the_reward_has_its_own_axis_and_accuracy_stays_0_to_1() -> None:
    app = ConsoleApp(replay_source(steps_with_rewards_above_one()), sampler_factory=FixedSampler)
    async with app.run_test(size=(120, 40)) as pilot:
        await until_painted(pilot, app)
        plot = app.dashboard.history_plot
        assert len(plot.history) == 12
        chart = ANSI.sub("", plot.chart_text())
        left, right = axis_labels(chart)
        assert left and max(left) == 1.0 and min(left) == 0.0, chart
        assert right and max(right) >= 1.5 and min(right) <= 0.0, chart
        assert "reward (right axis)" in str(plot.border_title)
