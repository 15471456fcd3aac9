"""Test-time RL (`arc-console eval --test-time-steps N`, mode rl) with the real tiny model on real held-out tasks."""

import asyncio
import json
from pathlib import Path

import pytest
import torch

from arc_console.arc import load_tasks
from arc_console.engine.control import RunControl
from arc_console.evaluation.adapter_reset import attach_test_time_adapter
from arc_console.evaluation.model import load_eval_model
from arc_console.evaluation.runner import run_evaluation
from arc_console.evaluation.settings import EvalSettings
from arc_console.evaluation.solver import answer_task
from arc_console.evaluation.test_time import TestTimeSettings, TestTimeTrainer, leave_one_out_tasks
from arc_console.evaluation.test_time_modes import plan_trainer
from arc_console.evaluation.test_time_settings import TestTimePlan
from arc_console.tui.eval_app import EvalApp
from arc_console.tui.widgets.candidates import CandidatesPanel
from arc_console.tui.widgets.history import AccuracyHistory
from arc_console.tui.widgets.test_time_panel import TestTimePanel
from cli_in_process import usage_error

EVAL = EvalSettings(augment="none", samples=2, seed=3)
TEST_TIME = TestTimeSettings(steps=2, augment="none", candidates=4, learning_rate=5e-3)


@pytest.fixture(scope="module")
def adapting():
    engine, _ = load_eval_model("tiny")
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # the attempts are compared exactly: one thread's sums, in one order
    try:
        yield plan_trainer(attach_test_time_adapter(engine, 8, 16), TestTimePlan("rl", "lora", rl=TEST_TIME), EVAL)
    finally:
        torch.set_num_threads(before)  # the module's tests done, the process's setting is back


@pytest.fixture(scope="module")
def trainer(adapting: TestTimeTrainer) -> TestTimeTrainer:
    assert [phase.label for phase in adapting.phases] == ["RL"]
    return adapting


def attempts(answer) -> list:
    return [(t.attempts, [c.grid for c in t.candidates]) for t in answer.tests]


def test_leave_one_out_holds_each_train_pair_out_in_every_view():
    task = load_tasks("synthetic-heldout")[0]
    problems = leave_one_out_tasks(task, "dihedral", 0)
    assert len(problems) == 8 * len(task.train)
    identity = [p for p in problems if p.id.endswith(":identity")]
    for held, problem in enumerate(identity):
        assert problem.test[0].output == task.train[held].output
        assert problem.train == [p for i, p in enumerate(task.train) if i != held]
        assert all(p.output != task.test_output for p in problem.train + problem.test)  # the real test never leaks


@pytest.mark.slow
def test_a_task_answered_alone_and_after_others_gives_the_same_attempts(adapting: TestTimeTrainer):
    tasks = load_tasks("synthetic-heldout")[:3]
    adapter = adapting.adapter
    adapter.reset(EVAL.seed, tasks[2].id)
    start = {name: p.detach().clone() for name, p in adapter.parameters().items()}
    alone = adapting.answer(tasks[2], RunControl(), None, lambda event: None)
    for task in tasks[:2]:
        adapting.answer(task, RunControl(), None, lambda event: None)
    after_others = adapting.answer(tasks[2], RunControl(), None, lambda event: None)
    assert attempts(after_others) == attempts(alone)
    strip = lambda record: {**record, "seconds": 0, "rl": {**record["rl"], "seconds": 0}}  # noqa: E731
    assert strip(after_others.test_time) == strip(alone.test_time)
    assert alone.test_time["rl"]["updates"] >= 1  # the adapter was really trained ...
    adapter.reset(EVAL.seed, tasks[2].id)
    assert all(torch.equal(p, start[name]) for name, p in adapter.parameters().items())  # ... and put back bit for bit


@pytest.mark.slow
def test_training_moves_the_adapter_and_a_fresh_adapter_answers_as_plain_eval(trainer: TestTimeTrainer):
    task = load_tasks("synthetic-heldout")[1]
    trainer.adapter.reset(EVAL.seed, task.id)
    plain = answer_task(task, trainer.engine, EVAL)  # B = 0: the adapter changes nothing
    moved = []
    trainer.train(task, RunControl(), None, lambda event: None,
                  after_step=lambda step: moved.append(any(float(p.detach().abs().max()) > 0 for name, p in
                                                           trainer.adapter.parameters().items() if "lora_B" in name)))
    assert moved[-1]
    trainer.adapter.reset(EVAL.seed, task.id)
    base_engine, _ = load_eval_model("tiny")
    assert attempts(answer_task(task, base_engine, EVAL)) == attempts(plain)


def test_the_adapt_phases_are_the_seam_and_without_one_nothing_moves(trainer: TestTimeTrainer):
    # The probes before and after adapting reseed alike: with no phase they see the same adapter and agree.
    task = load_tasks("synthetic-heldout")[1]
    bare = TestTimeTrainer(trainer.adapter, TEST_TIME, EVAL, phases=[])
    bare.adapter.reset(EVAL.seed, task.id)
    report = bare.train(task, RunControl(), None, lambda event: None)
    assert report.steps == report.updates == 0 and report.problems == len(task.train)
    assert report.reward_after == report.reward_before
    assert [phase.label for phase in trainer.phases] == ["RL"]


def write_tasks(folder: Path) -> list[str]:
    folder.mkdir()
    task = load_tasks("synthetic-heldout")[4]
    pairs = {"train": [{"input": p.input, "output": p.output} for p in task.train],
             "test": [{"input": p.input, "output": p.output} for p in task.test]}
    (folder / "two-pairs.json").write_text(json.dumps(pairs))
    (folder / "one-pair.json").write_text(json.dumps({**pairs, "train": pairs["train"][:1]}))
    return ["one-pair", "two-pairs"]


@pytest.mark.slow
def test_cli_headless_records_test_time_per_task_and_counts_single_pair_fallbacks(tmp_path: Path, warm_cli):
    write_tasks(tmp_path / "tasks")
    out = tmp_path / "eval"
    # A fresh `arc-console eval` process from the warm launcher (tests/support/warm_cli.py).
    result = warm_cli.run(["eval", "--headless", "--tasks", str(tmp_path / "tasks"), "--augment", "none",
                           "--test-time-steps", "2", "--test-time-augment", "none", "--test-time-weights", "lora",
                           "--out", str(out)], timeout=120)
    assert result.returncode == 0, result.stderr
    assert "test-time 2/2" in result.stdout and "plain (single pair)" in result.stdout
    report = json.loads((out / "eval.json").read_text())
    header = report["test_time"]
    assert header["mode"] == "rl" and header["rl"]["steps"] == 2 and header["trained"] == "fresh LoRA per task"
    assert report["totals"]["test_time_trained"] == 1 and report["totals"]["test_time_plain_fallbacks"] == 1
    by_id = {t["task_id"]: t["test_time"] for t in report["tasks"]}
    assert by_id["one-pair"]["fallback"] and "rl" not in by_id["one-pair"]
    trained = by_id["two-pairs"]
    assert trained["mode"] == "rl" and trained["rl"] == {"steps": 2, "updates": trained["updates"]}
    assert trained["steps"] == 2 and trained["fallback"] is None and trained["seconds"] > 0
    assert isinstance(trained["reward_before"], float) and isinstance(trained["reward_after"], float)


@pytest.mark.parametrize(("flags", "message"), [
    (["--test-time-steps", "-1"], "--test-time-steps must be 0..10000"),
    (["--test-time-lr", "0"], "--test-time-lr must be positive"),
    (["--test-time-augment", "spin"], "--test-time-augment must be one of"),
    (["--test-time-candidates", "1"], "--test-time-candidates must be 2..64"),
])
def test_bad_test_time_flags_are_one_line_exit_2_and_create_nothing(tmp_path: Path, flags: list[str], message: str,
                                                                     capsys):
    out = tmp_path / "eval"
    assert message in usage_error(["eval", "--headless", "--out", str(out), *flags], capsys)
    assert not out.exists()


@pytest.mark.slow
async def test_console_draws_each_tasks_test_time_training_with_the_train_panels(adapting: TestTimeTrainer,
                                                                                 tmp_path: Path):
    tasks = load_tasks("synthetic-heldout")[:2]
    control = RunControl()
    app = EvalApp(lambda sink: run_evaluation(tasks, adapting.engine, EVAL, tmp_path / "eval", sink, control,
                                              model_name="tiny", device="cpu", answerer=adapting.answer),
                  control.request_stop)
    async with app.run_test(size=(160, 50)) as pilot:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 300
        while app.finished is None:
            assert app.is_running and loop.time() < deadline
            await pilot.pause(0.1)
        await pilot.pause()
        panel = app.query_one(TestTimePanel)
        assert panel.display
        history = app.query_one(AccuracyHistory).history
        assert [m["step"] for m in history] == [1, 2]  # the task at hand only: reset when the next task started
        assert all(m["problem_id"].startswith(tasks[1].id) for m in history)
        candidates = app.query_one(CandidatesPanel)
        assert "test-time RL step 2/2" in str(candidates.border_title)
        assert app.query_one("#task-row #card-target").grid_data == tasks[1].test_output
        assert app.finished.totals["test_time_trained"] == 2
        await pilot.press("q")
    assert app.return_code == 0
