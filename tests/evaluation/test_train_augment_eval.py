"""Issue 16 in training, on the real built-in tiny GPT-OSS: --augment (problems under random views, exact
resume, the view in the step file) and --eval-every (held-out pass@2 in logs/eval.jsonl, its event, the
dashboard's series and status, watch)."""

import json
from pathlib import Path

import pytest

from arc_console.arc import build_prompt, load_tasks, parse_response, score_grid, select_tasks
from arc_console.arc.augment import View
from arc_console.config import DEMO_PROBLEMS
from arc_console.engine import events as ev
from arc_console.evaluation.during_training import eval_settings, held_out_subset
from arc_console.evaluation.model import load_eval_model
from arc_console.evaluation.runner import run_evaluation
from arc_console.monitor.follow import RunDirFollower
from arc_console.reporting.scalars import eval_scalars
from arc_console.rundir.index import best_pass_at_2
from arc_console.tui.app import ConsoleApp
from arc_console.tui.replay_print import render_step
from arc_console.tui.run_view import RunView
from arc_console.tui.widgets.status_bar import status_text

from arc_console.cli import main
from helpers import make_trainer, without_timing
from tui_fixtures import until

REAL = {"model": "tiny"}  # the built-in warm-started model, not the random one


def steps(run: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((run / "logs/responses").glob("step_*.json"))]


def eval_rows(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "logs/eval.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_augmented_steps_are_the_views_and_resume_exactly(tmp_path: Path) -> None:
    straight, _ = make_trainer(tmp_path / "straight", max_steps=4, augment="dihedral+colors", max_extra_draws=0, **REAL)
    straight.run()
    first, _ = make_trainer(tmp_path / "split", max_steps=2, augment="dihedral+colors", max_extra_draws=0, **REAL)
    first.run()
    resumed, _ = make_trainer(tmp_path / "split", resume=tmp_path / "split", max_steps=4, augment="dihedral+colors",
                              max_extra_draws=0, **REAL)
    resumed.run()
    records = steps(tmp_path / "straight")
    for a, b in zip(records[2:], steps(tmp_path / "split")[2:]):
        assert without_timing(a) == without_timing(b)
    views = [View.from_dict(r["view"]) for r in records]
    assert len({(v.dihedral, v.colors) for v in views}) == 4  # a new view every step
    originals = {t.id: t for t in select_tasks(load_tasks("synthetic-heldout"), DEMO_PROBLEMS)}
    for record, view in zip(records, views):
        task = view.apply_task(originals[record["problem_id"]])
        # What the model saw and was scored on is the view's: its prompt, test input and target.
        assert record["target_grid"] == task.test_output and record["test_input"] == task.test_input
        assert record["prompt"] == build_prompt(task.train, task.test_input)
        assert record["view"]["description"] == view.describe()
        for candidate in record["candidates"]:
            expected = score_grid(parse_response(candidate["response_text"]), task.test_output).accuracy
            assert candidate["accuracy"] == expected


def test_no_augmentation_writes_no_view(tmp_path: Path) -> None:
    trainer, _ = make_trainer(tmp_path / "run", max_steps=1, **REAL)
    trainer.run()
    assert "view" not in steps(tmp_path / "run")[0]


@pytest.mark.slow
def test_held_out_evaluation_during_training(tmp_path: Path) -> None:
    run = tmp_path / "run"
    trainer, events = make_trainer(run, max_steps=3, eval_every=2, eval_limit=2, eval_augment="dihedral", **REAL)
    trainer.run()
    rows = eval_rows(run)
    assert [r["step"] for r in rows] == [0, 2, 3] and [r["final"] for r in rows] == [False, False, True]
    for row in rows:
        assert {"pass_at_2", "pass_at_1", "oracle", "tasks", "seconds", "settings", "source"} <= set(row)
        assert row["tasks"] == 2 and row["settings"]["augment"] == "dihedral" and row["source"] == "synthetic-heldout"
        per_task = row["per_task_pass_at_2"]  # which tasks were solved: the per-family view of a change
        assert len(per_task) == 2 and sum(per_task.values()) / 2 == row["pass_at_2"]
    told = [e for e in events if isinstance(e, ev.HeldOutEvaluated)]
    assert [e.row for e in told] == rows
    assert trainer.policy.model.training  # back in training mode
    log = (run / "logs/training.log").read_text()
    assert "5 tasks of synthetic-heldout are trained on and left out" in log
    assert "held-out eval at step 2: pass@2" in log
    # Before the first step the model is the built-in one: the same tasks and settings through
    # `arc-console eval`'s code on a freshly loaded model give the same figures.
    unseen = [t for t in load_tasks("synthetic-heldout") if t.id not in DEMO_PROBLEMS]
    engine, _ = load_eval_model("tiny")
    totals = run_evaluation(held_out_subset(unseen, 2), engine, eval_settings(trainer.config), None, lambda e: None)
    assert (totals.pass_at_2, totals.oracle, totals.tokens) == (rows[0]["pass_at_2"], rows[0]["oracle"],
                                                                 rows[0]["tokens"])
    assert {a.task_id: a.score(2) for a in totals.scored} == rows[0]["per_task_pass_at_2"]
    # What `runs` and the --report-to reporters read from it.
    assert best_pass_at_2(run / "logs/eval.jsonl") == max(r["pass_at_2"] for r in rows)
    assert eval_scalars(rows[-1])["eval/pass_at_2"] == rows[-1]["pass_at_2"]


@pytest.mark.slow
def test_the_first_held_out_evaluation_is_evals_on_tasks_the_model_solves(tmp_path: Path) -> None:
    """Before the first step the trainer's model is the built-in one: on tasks it solves (the product of experts
    over coloured views), the trainer's held-out figures are `arc-console eval`'s code on a freshly loaded model,
    a score above 0 included (on tasks it cannot solve the comparison would be 0 = 0)."""
    solvable = ["syn-heldout-scale2-00007"]
    folder = tmp_path / "tasks"
    folder.mkdir()
    for task in select_tasks(load_tasks("synthetic-heldout"), solvable):
        (folder / f"{task.id}.json").write_text(json.dumps(
            {"train": [{"input": p.input, "output": p.output} for p in task.train],
             "test": [{"input": p.input, "output": p.output} for p in task.test]}))
    run = tmp_path / "run"
    trainer, _ = make_trainer(run, max_steps=1, eval_every=1, eval_tasks=str(folder), eval_limit=0,
                              eval_augment="dihedral+colors", eval_rank="logprob", seed=0, **REAL)
    trainer.run()
    first = eval_rows(run)[0]
    assert first["step"] == 0 and first["tasks"] == 1
    engine, _ = load_eval_model("tiny")
    totals = run_evaluation(load_tasks(folder), engine, eval_settings(trainer.config), None, lambda e: None)
    assert totals.pass_at_2 is not None and totals.pass_at_2 > 0
    assert (totals.pass_at_2, totals.pass_at_1, totals.oracle, totals.tokens) == (
        first["pass_at_2"], first["pass_at_1"], first["oracle"], first["tokens"])


@pytest.mark.slow
def test_a_resume_rewinds_and_redoes_later_evaluations(tmp_path: Path) -> None:
    run = tmp_path / "run"
    settings = dict(eval_every=2, eval_limit=1, eval_augment="none", checkpoint_every=2, **REAL)
    make_trainer(run, max_steps=3, **settings)[0].run()
    assert [r["step"] for r in eval_rows(run)] == [0, 2, 3]
    resumed, _ = make_trainer(run, resume=run / "checkpoints/step_2", max_steps=4, **settings)
    assert [r["step"] for r in eval_rows(run)] == [0, 2]  # step 3's evaluation belonged to the dropped future
    resumed.run()
    assert [r["step"] for r in eval_rows(run)] == [0, 2, 4]


@pytest.mark.slow
async def test_watch_shows_held_out_pass_at_2(tmp_path: Path) -> None:
    run = tmp_path / "run"
    trainer, _ = make_trainer(run, max_steps=2, eval_every=1, eval_limit=1, eval_augment="none",
                              augment="dihedral", **REAL)
    trainer.run()
    rows = eval_rows(run)
    events: list = []
    follower = RunDirFollower(run)
    follower._announce(events.append)
    follower.poll(events.append)
    assert [e.row for e in events if isinstance(e, ev.HeldOutEvaluated)] == rows
    view = RunView()
    for event in events:
        view.apply(event)
    assert view.held_out == rows and view.view_description == steps(run)[-1]["view"]["description"]
    assert f"held-out pass@2 {rows[-1]['pass_at_2']:.3f} @2" in status_text(view, watching=True).plain
    app = ConsoleApp(RunDirFollower(run), mode="watch", sampler_factory=None)
    async with app.run_test(size=(160, 50)) as pilot:
        await until(pilot, lambda: len(app.view.held_out) == 3 and app.view.completed_step == 2, timeout=60)
        await until(pilot, lambda: "held-out pass@2" in str(app.dashboard.history_plot.border_title), timeout=10)
        await until(pilot, lambda: "as the model saw it" in str(app.dashboard.candidates_panel.border_title), timeout=10)
        assert "held-out pass@2" in status_text(app.view, watching=True).plain
        await pilot.press("q")


def test_replay_print_says_the_grids_are_the_views(tmp_path: Path) -> None:
    trainer, _ = make_trainer(tmp_path / "run", max_steps=1, augment="dihedral+colors", **REAL)
    trainer.run()
    record = steps(tmp_path / "run")[0]
    from rich.console import Console

    console = Console(record=True, width=200, color_system=None)
    console.print(render_step(record, "step_001.json"))
    assert f"as the model saw it: {record['view']['description']}" in console.export_text()


@pytest.mark.parametrize("args, message", [
    (["--augment", "mirror"], "--augment: augment must be one of none, dihedral, dihedral+colors"),
    (["--eval-every", "2", "--eval-tasks", "no-such-source"], "no-such-source: no such file or folder"),
    (["--eval-every", "2", "--eval-rank", "best"], "eval_rank must be one of votes, logprob"),
])
def test_bad_settings_are_one_line_and_exit_2(tmp_path: Path, args: list[str], message: str, capsys) -> None:
    try:
        code = main(["train", "--headless", "--preset", "tiny", "--out", str(tmp_path / "run"), *args])
    except SystemExit as exit:
        code = exit.code
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert err.startswith("arc-console: error: ")
    assert not (tmp_path / "run").exists()
