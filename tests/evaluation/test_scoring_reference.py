"""pass@2 against the ARC Prize's rule written here from its statement, and every view's answer mapped back.

The answers come from a stand-in engine (support/scripted_engine.py) plugged in where evaluation chooses its
rollout engine, so what is checked is evaluation's own path from answers to figures: the views' inverses,
pooling and ranking, TaskAnswer.score, eval.json's totals, the headless printer and submission.json.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from arc_console.arc import load_tasks
from arc_console.arc.augment import View, task_views
from arc_console.cli import main
from arc_console.engine.control import RunControl
from arc_console.evaluation.settings import EvalSettings
from arc_console.evaluation.solver import answer_task

from scripted_engine import ScriptedEngine, plug_in, view_prompt

# Three test inputs whose outputs are all different and change under every dihedral transform and colour
# permutation (3x2 and 2x3 grids of distinct colours), so a wrong inverse or a swapped test shows.
T0 = [[1, 2, 3], [4, 5, 6]]
T1 = [[7, 8], [9, 1], [2, 3]]
T2 = [[3, 1, 4], [6, 5, 9]]
WRONG = [[1, 1], [1, 1]]
TASK = {
    "train": [{"input": [[1, 2], [3, 4]], "output": [[4, 3], [2, 1]]},
              {"input": [[5, 6, 7], [8, 9, 1]], "output": [[1, 9, 8], [7, 6, 5]]}],
    "test": [{"input": [[6, 5, 4], [3, 2, 1]], "output": T0},
             {"input": [[3, 2], [1, 9], [8, 7]], "output": T1},
             {"input": [[9, 5, 6], [4, 1, 3]], "output": T2}],
}


def arc_prize_score(submission: dict, tasks: dict[str, dict]) -> float:
    """The ARC Prize's rule from its statement: each test output is solved when attempt_1 or attempt_2 equals it
    exactly; a task scores the fraction of its test outputs solved, in the task's test order; the total is the
    mean over tasks. Written from the task files' JSON, apart from arc_console's own scoring."""
    per_task = []
    for task_id, task in tasks.items():
        outputs = [pair["output"] for pair in task["test"]]
        entries = submission.get(task_id, [])
        solved = 0
        for index, output in enumerate(outputs):
            entry = entries[index] if index < len(entries) else {}
            solved += entry.get("attempt_1") == output or entry.get("attempt_2") == output
        per_task.append(solved / len(outputs))
    return sum(per_task) / len(per_task)


@pytest.fixture(scope="module")
def tiny_policy():
    from arc_console.engine.backends import load_policy

    return load_policy("tiny", "hf", lora_r=0, lora_alpha=32, max_seq_length=2048)


@pytest.fixture
def task_file(tmp_path: Path) -> Path:
    path = tmp_path / "tasks" / "three-tests.json"
    path.parent.mkdir()
    path.write_text(json.dumps(TASK))
    return path


def attempt_2_only_on_the_second_input(task) -> dict[str, list]:
    """Three candidates per test input (--augment none): two votes decide attempt_1, the third is attempt_2.
    Input 0 gets T1 twice and T2 (both wrong there); input 1 gets WRONG twice and T1 (right, attempt_2 only);
    input 2 gets T0 twice and WRONG. Every answer given is some input's output: scored against the wrong
    input, the figure would change."""
    (view,) = task_views("none")
    plan = [[T1, T1, T2], [WRONG, WRONG, T1], [T0, T0, WRONG]]
    return {view_prompt(task, view, index): grids for index, grids in enumerate(plan)}


def test_attempt_2_on_one_of_three_inputs_scores_a_third_everywhere(tmp_path: Path, task_file: Path, monkeypatch,
                                                                     capsys, tiny_policy) -> None:
    (task,) = load_tasks(task_file.parent)
    answers = attempt_2_only_on_the_second_input(task)
    out = tmp_path / "eval"
    plug_in(monkeypatch, answers)
    code = main(["eval", "--headless", "--model", "tiny", "--tasks", str(task_file.parent), "--augment", "none",
                 "--samples", "3", "--rank", "votes", "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0

    submission = json.loads((out / "submission.json").read_text())
    report = json.loads((out / "eval.json").read_text())
    # submission.json: one entry per test input, in the task's order; the right answer is attempt_2 of input 1.
    assert [entry["attempt_1"] for entry in submission[task.id]] == [T1, WRONG, T0]
    assert [entry["attempt_2"] for entry in submission[task.id]] == [T2, T1, WRONG]
    assert arc_prize_score(submission, {task.id: TASK}) == pytest.approx(1 / 3)
    # eval.json: the task's figure and the totals.
    (reported,) = report["tasks"]
    assert reported["pass_at_2"] == pytest.approx(1 / 3) and reported["pass_at_1"] == 0
    assert [t["right"] for t in reported["tests"]] == [[False, False], [False, True], [False, False]]
    assert report["totals"]["pass_at_2"] == pytest.approx(1 / 3) and report["totals"]["pass_at_1"] == 0
    assert report["totals"]["tasks_scored"] == 1
    # The headless printer: the task's line and the final table.
    assert "✗ 0.33 pass@2 0.333" in printed, printed
    table_row = next(line for line in printed.splitlines() if "pass@2 (the ARC Prize score)" in line)
    assert "0.333" in table_row

    # TaskAnswer.score, from the solver itself over the same answers.
    answer = answer_task(task, ScriptedEngine(tiny_policy, answers),
                         EvalSettings(augment="none", samples=3, rank="votes"), RunControl())
    assert answer.score(2) == pytest.approx(1 / 3) and answer.score(1) == 0


def test_the_reference_scores_a_swapped_submission_differently() -> None:
    """The independent rule keeps test order: the same attempts against the wrong inputs score otherwise."""
    kept = {"t": [{"attempt_1": T1, "attempt_2": T2}, {"attempt_1": WRONG, "attempt_2": T1},
                  {"attempt_1": T0, "attempt_2": WRONG}]}
    assert arc_prize_score(kept, {"t": TASK}) == pytest.approx(1 / 3)
    assert arc_prize_score({"t": kept["t"][::-1]}, {"t": TASK}) == 1.0  # each attempt is some input's output
    assert arc_prize_score({"t": kept["t"][:1]}, {"t": TASK}) == 0  # missing entries solve nothing


def every_view_answers_its_target(task, augment: str, samples: int) -> dict[str, list]:
    """Under each view, every candidate is the view's own image of the right output: the answer is right
    exactly when evaluation maps it back through that view's inverse."""
    answers = {}
    for view in task_views(augment, 0, task.id):
        for index, pair in enumerate(task.test):
            answers[view_prompt(task, view, index)] = [view.apply(pair.output)] * samples
    return answers


@pytest.mark.parametrize("rank", ["votes", "logprob"])
@pytest.mark.parametrize("augment", ["none", "dihedral", "dihedral+colors"])
def test_every_answer_is_mapped_back_by_its_views_inverse(tmp_path: Path, task_file: Path, monkeypatch,
                                                         augment: str, rank: str) -> None:
    (task,) = load_tasks(task_file.parent)
    views = task_views(augment, 0, task.id)
    answers = every_view_answers_its_target(task, augment, samples=2)
    assert len(answers) == len(views) * 3  # a prompt per view and test input, all different
    made = plug_in(monkeypatch, answers)
    out = tmp_path / "eval"
    code = main(["eval", "--headless", "--model", "tiny", "--tasks", str(task_file.parent), "--augment", augment,
                 "--samples", "2", "--rank", rank, "--out", str(out)])
    assert code == 0
    assert sorted(made[0].prompts_seen) == sorted(answers)  # every view of every test input was asked
    report = json.loads((out / "eval.json").read_text())
    assert report["totals"]["pass_at_2"] == 1.0
    for test in report["tasks"][0]["tests"]:
        # All views' answers came back as one grid: each one was mapped back to the task's frame.
        assert test["distinct_candidates"] == 1 and test["top_votes"] == len(views) * 2
        assert test["views_answered"] == len(views)
    submission = json.loads((out / "submission.json").read_text())
    assert [entry["attempt_1"] for entry in submission[task.id]] == [T0, T1, T2]
    assert arc_prize_score(submission, {task.id: TASK}) == 1.0


def test_a_view_mapped_back_without_its_inverse_is_caught(task_file: Path, monkeypatch, tiny_policy) -> None:
    """The check above can fail: with the inverse left out, the views' answers stay in their own frames."""
    (task,) = load_tasks(task_file.parent)
    answers = every_view_answers_its_target(task, "dihedral", samples=1)
    monkeypatch.setattr(View, "invert", lambda self, grid: grid)
    answer = answer_task(task, ScriptedEngine(tiny_policy, answers),
                         EvalSettings(augment="dihedral", samples=1, rank="votes"), RunControl())
    assert all(len(test.candidates) > 1 for test in answer.tests)  # the 8 frames no longer agree
