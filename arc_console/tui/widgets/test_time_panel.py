"""Test-time RL on the task at hand, drawn with the train console's panels: the accuracy history of
its steps and the candidates of the latest step (the leave-one-out problem, its target, K cards)."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal

from arc_console.arc.candidates import best_candidate_id
from arc_console.tui.widgets.candidates import CandidatesPanel
from arc_console.tui.widgets.history import AccuracyHistory


class TestTimePanel(Horizontal):
    DEFAULT_CSS = """
    TestTimePanel { height: 16; display: none; }
    TestTimePanel > AccuracyHistory { width: 2fr; }
    TestTimePanel > CandidatesPanel { width: 3fr; height: 100%; }
    """

    def compose(self) -> ComposeResult:
        yield AccuracyHistory(id="test-time-history")
        yield CandidatesPanel(id="test-time-candidates")

    def show_step(self, step: int, steps: int, problem_id: str, test_input: list, target: list,
                  temperatures: list[float], candidates: list[dict[str, Any]], history: list[dict[str, Any]]) -> None:
        self.display = True
        self.query_one(AccuracyHistory).show(history)
        panel = self.query_one(CandidatesPanel)
        panel.show_step(step, problem_id, test_input, target, temperatures, candidates, best_candidate_id(candidates))
        panel.border_title = f"test-time RL step {step}/{steps} · leave-one-out candidates"

    def clear(self) -> None:
        self.query_one(AccuracyHistory).show([])
