"""What an evaluation writes: DIR/submission.json (the ARC Prize's Kaggle format) and DIR/eval.json."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from arc_console.rundir.atomic import atomic_write_text
from arc_console.rundir.runlog import dump_step_json
from arc_console.evaluation.solver_types import TaskAnswer

SUBMISSION = "submission.json"
REPORT = "eval.json"


@dataclass
class EvalTotals:
    """Running totals over the tasks answered so far; scores over the tasks with known outputs."""

    tasks_total: int
    answered: list[TaskAnswer] = field(default_factory=list)

    def add(self, answer: TaskAnswer) -> None:
        self.answered.append(answer)

    def _mean(self, values: list[float]) -> float | None:
        return sum(values) / len(values) if values else None

    @property
    def scored(self) -> list[TaskAnswer]:
        return [a for a in self.answered if a.scored]

    @property
    def pass_at_2(self) -> float | None:
        return self._mean([a.score(2) for a in self.scored])

    @property
    def pass_at_1(self) -> float | None:
        return self._mean([a.score(1) for a in self.scored])

    @property
    def oracle(self) -> float | None:
        return self._mean([a.oracle_score() for a in self.scored])

    @property
    def tokens(self) -> int:
        return sum(a.tokens for a in self.answered)

    @property
    def seconds(self) -> float:
        return sum(a.seconds for a in self.answered)

    def as_dict(self) -> dict[str, Any]:
        trained = [a.test_time for a in self.answered if a.test_time is not None]
        test_time = ({"test_time_trained": sum(1 for t in trained if t["fallback"] is None),
                      "test_time_plain_fallbacks": sum(1 for t in trained if t["fallback"] is not None)}
                     if trained else {})
        return {**test_time, "pass_at_2": self.pass_at_2, "pass_at_1": self.pass_at_1, "oracle": self.oracle,
                "tasks_answered": len(self.answered), "tasks_scored": len(self.scored), "tasks_total": self.tasks_total,
                "tokens": self.tokens, "seconds": round(self.seconds, 3)}


def submission(answers: list[TaskAnswer]) -> dict[str, list[dict[str, Any]]]:
    return {a.task_id: [{"attempt_1": t.attempts[0], "attempt_2": t.attempts[1]} for t in a.tests] for a in answers}


def write_results(out_dir: Path, totals: EvalTotals, header: dict[str, Any], stopped: bool) -> None:
    """Both files, each replaced atomically, so an interrupted evaluation leaves the tasks it finished."""
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out_dir / SUBMISSION, json.dumps(submission(totals.answered)) + "\n")
    report = {**header, "totals": totals.as_dict(), "stopped": stopped,
              "hidden_outputs": len(totals.answered) - len(totals.scored),
              "tasks": [a.to_dict() for a in totals.answered]}
    atomic_write_text(out_dir / REPORT, dump_step_json(report))  # grid rows one a line
