"""Issue 32, part 1: `eval` of a run directory or checkpoint leaves out the problems that run trained on.

A real tiny run (the tiny preset: five tasks of synthetic-heldout, two of them among its first six), then
the real CLI evaluating it in a fresh process from the warm launcher (tests/support/warm_cli.py)."""

import json
import subprocess
from pathlib import Path

import pytest

from arc_console.arc import load_tasks
from arc_console.config import DEMO_PROBLEMS
from arc_console.evaluation.trained_problems import TrainedOn, leave_out_trained

from cli_in_process import usage_error
from helpers import make_trainer

HELD_OUT_SOURCE = [t.id for t in load_tasks("synthetic-heldout")]
FIRST_SIX = HELD_OUT_SOURCE[:6]
TRAINED_IN_FIRST_SIX = [i for i in FIRST_SIX if i in DEMO_PROBLEMS]
QUICK = ["--headless", "--augment", "none", "--samples", "1", "--tasks", "synthetic-heldout"]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One step of the tiny preset, with --augment: views of the same five tasks."""
    run = tmp_path_factory.mktemp("held-out") / "run"
    trainer, _ = make_trainer(run, max_steps=1, checkpoint_every=1, augment="dihedral+colors")
    trainer.run()
    return run


def eval_cli(warm_cli, *args: str) -> subprocess.CompletedProcess[str]:
    """`arc-console eval ARGS`, a fresh process from the warm launcher (tests/support/warm_cli.py)."""
    return warm_cli.run(["eval", *args], timeout=300)


def test_the_tiny_preset_trains_on_two_of_the_first_six_held_out_tasks():
    assert len(TRAINED_IN_FIRST_SIX) == 2  # what the cases below rely on


def test_one_rule_leaves_out_trained_ids_in_order():
    tasks = load_tasks("synthetic-heldout")[:6]
    held_out = leave_out_trained(tasks, set(DEMO_PROBLEMS))
    assert held_out.excluded == TRAINED_IN_FIRST_SIX
    assert [t.id for t in held_out.kept] == [i for i in FIRST_SIX if i not in DEMO_PROBLEMS]
    every = TrainedOn.from_config({"tasks": "synthetic-heldout", "problems": []})
    assert every.task_ids() == {t.id for t in load_tasks("synthetic-heldout")}  # empty --problems: every task


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize("which", ["run", "checkpoint"])
def test_eval_of_a_run_leaves_out_its_training_problems(tiny_run: Path, tmp_path: Path, which: str, warm_cli):
    model = tiny_run if which == "run" else tiny_run / "checkpoints" / "step_1"
    out = tmp_path / "eval"
    result = eval_cli(warm_cli, "--model", str(model), "--limit", "6", "--out", str(out), *QUICK)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = [line for line in result.stderr.splitlines() if "leaving out" in line]
    assert len(lines) == 1 and "leaving out 5 of 120 tasks that this run trained on" in lines[0]
    report = json.loads((out / "eval.json").read_text())
    assert report["excluded_trained"] == [i for i in HELD_OUT_SOURCE if i in DEMO_PROBLEMS]
    assert report["trained_on"] == {"tasks": "synthetic-heldout", "problems": DEMO_PROBLEMS}
    answered = [t["task_id"] for t in report["tasks"]]
    assert len(answered) == 6 and not set(answered) & set(DEMO_PROBLEMS)  # --limit counts held-out tasks
    assert answered == [i for i in HELD_OUT_SOURCE if i not in DEMO_PROBLEMS][:6]


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_include_trained_keeps_them(tiny_run: Path, tmp_path: Path, warm_cli):
    out = tmp_path / "eval"
    result = eval_cli(warm_cli, "--model", str(tiny_run), "--limit", "6", "--include-trained", "--out", str(out), *QUICK)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads((out / "eval.json").read_text())
    assert [t["task_id"] for t in report["tasks"]] == FIRST_SIX
    assert report["excluded_trained"] == [] and set(report["included_trained"]) == set(DEMO_PROBLEMS)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_nothing_left_is_refused_on_one_line_with_exit_2_and_nothing_written(tiny_run: Path, tmp_path: Path, capsys):
    out = tmp_path / "eval"
    line = usage_error(["eval", "--model", str(tiny_run), "--problems", ",".join(TRAINED_IN_FIRST_SIX), "--out",
                        str(out), *QUICK], capsys)
    assert "all 2 tasks were trained on; nothing is held out" in line
    assert not out.exists()


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_plain_model_leaves_nothing_out(tmp_path: Path, warm_cli):
    out = tmp_path / "eval"
    result = eval_cli(warm_cli, "--model", "tiny", "--problems", TRAINED_IN_FIRST_SIX[0], "--out", str(out), *QUICK)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "leaving out" not in result.stderr
    assert json.loads((out / "eval.json").read_text())["excluded_trained"] == []
