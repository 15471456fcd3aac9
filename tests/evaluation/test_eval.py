"""`arc-console eval` with the real tiny model on real tasks: pass@2 as the ARC Prize scores it."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from child_output import ChildOutput
from cli_in_process import usage_error

from arc_console.arc import build_prompt, load_tasks
from arc_console.arc.tasks import Pair, Task
from arc_console.cli import main
from arc_console.evaluation.candidates import Candidate, CandidatePool
from arc_console.evaluation.ranking import rank_by_logprob, rank_by_votes, two_attempts
from arc_console.evaluation.scoring import score_submission, task_score

CLI = [sys.executable, "-m", "arc_console"]
# With the product of experts (seed 0) the built-in model solves syn-heldout-scale2-00007: a non-zero score to check.
SYNTHETIC = ["syn-heldout-scale2-00007", "syn-heldout-transpose-00008"]


def read_results(out: Path) -> tuple[dict, dict]:
    return json.loads((out / "submission.json").read_text()), json.loads((out / "eval.json").read_text())


def assert_scores_match_submission(out: Path, tasks: list[Task]) -> dict:
    submission, report = read_results(out)
    assert set(submission) == {t.id for t in tasks}
    for task in tasks:
        entries = submission[task.id]
        assert len(entries) == len(task.test)  # every test input answered
        assert all(set(e) == {"attempt_1", "attempt_2"} for e in entries)
    recomputed = score_submission(submission, tasks)
    assert report["totals"]["pass_at_2"] == pytest.approx(recomputed["pass_at_2"])
    for entry in report["tasks"]:
        if entry["pass_at_2"] is not None:
            assert entry["pass_at_2"] == pytest.approx(recomputed["per_task"][entry["task_id"]])
    return report


def test_pass_at_2_is_the_mean_over_tasks_of_the_fraction_of_test_outputs_matched():
    a, b = [[1]], [[2]]
    assert task_score([[b, a], [b, b]], [a, a]) == 0.5
    assert task_score([[b, a]], [a], tries=1) == 0.0
    tasks = [Task("t1", [Pair(a, a)], [Pair(a, a), Pair(b, b)]), Task("t2", [Pair(a, a)], [Pair(a, b)]),
             Task("hidden", [Pair(a, a)], [Pair(a, None)])]
    scored = score_submission({"t1": [{"attempt_1": b, "attempt_2": a}, {"attempt_1": a, "attempt_2": a}],
                               "t2": [{"attempt_1": b, "attempt_2": a}], "hidden": [{"attempt_1": a, "attempt_2": a}]},
                              tasks)
    assert scored["tasks_scored"] == 2 and scored["pass_at_2"] == pytest.approx((0.5 + 1.0) / 2)


def test_rankings_votes_with_logprob_ties_and_product_of_experts():
    pool = CandidatePool()
    for grid, view, logprob in (([[1]], 0, -5.0), ([[2]], 1, -1.0), ([[1]], 2, -6.0), ([[3]], 0, -2.0),
                                ([[2]], 3, -9.0)):
        pool.add(grid, view, logprob)
    candidates = pool.candidates
    assert [c.votes for c in candidates] == [2, 2, 1]
    assert [c.grid for c in rank_by_votes(candidates)] == [[[2]], [[1]], [[3]]]  # tie: mean -5.0 beats -5.5
    for candidate, score in zip(candidates, (-3.0, -10.0, -1.0)):
        candidate.add_expert_score("model", score)
    assert [c.grid for c in rank_by_logprob(candidates)] == [[[3]], [[1]], [[2]]]
    assert two_attempts([Candidate([[4]], 1)]) == [[[4]], [[4]]]
    assert two_attempts([]) == [[[0]], [[0]]]


def test_shared_prefix_scores_equal_the_trainers_logprobs():
    from arc_console.evaluation.expert_scores import answer_ids, answers_logprobs, sequence_logprobs
    from arc_console.evaluation.model import load_eval_model

    policy = load_eval_model("tiny")[0].policy
    task = load_tasks("synthetic-heldout")[0]
    prompt = policy.tokenizer(build_prompt(task.train, task.test_input), add_special_tokens=False)["input_ids"]
    answers = [answer_ids(policy, "1 2 3\n4 5 6"), answer_ids(policy, "0 0 0 0\n0 0 0 0")]
    shared = answers_logprobs(policy, prompt, answers)
    direct = sequence_logprobs(policy, [prompt, prompt], answers, [1.0, 1.0], 256)
    assert shared == pytest.approx(direct, abs=1e-3)


@pytest.mark.slow
def test_synthetic_heldout_with_colours_scores_as_its_submission(tmp_path: Path):
    out, rank = tmp_path / "eval", "logprob"
    code = main(["eval", "--headless", "--model", "tiny", "--tasks", "synthetic-heldout", "--problems",
                 ",".join(SYNTHETIC), "--augment", "dihedral+colors", "--rank", rank, "--out", str(out)])
    assert code == 0
    tasks = [t for t in load_tasks("synthetic-heldout") if t.id in SYNTHETIC]
    report = assert_scores_match_submission(out, tasks)
    assert report["totals"]["pass_at_2"] > 0
    assert report["settings"]["rank"] == rank and report["totals"]["tasks_scored"] == 2
    first = report["tasks"][0]["tests"][0]
    assert first["distinct_candidates"] >= 1 and first["top_votes"] >= 1 and first["views_answered"] >= 1
    assert all(c["expert_logprob"] is not None for c in first["candidates"])


def test_arc1_evaluation_task_with_two_test_inputs_on_dihedral(tmp_path: Path):
    out = tmp_path / "eval"
    code = main(["eval", "--headless", "--tasks", "arc1-evaluation", "--problems", "6ea4a07e", "--augment", "dihedral",
                 "--samples", "1", "--rank", "votes", "--out", str(out)])
    assert code == 0
    tasks = [t for t in load_tasks("arc1-evaluation") if t.id == "6ea4a07e"]
    report = assert_scores_match_submission(out, tasks)
    assert len(report["tasks"][0]["tests"]) == 2


def test_a_folder_with_hidden_outputs_is_answered_not_scored(tmp_path: Path):
    folder = tmp_path / "tasks"
    folder.mkdir()
    heldout = load_tasks("synthetic-heldout")[:2]
    for task in heldout:
        data = {"train": [{"input": p.input, "output": p.output} for p in task.train],
                "test": [{"input": p.input, "output": p.output} for p in task.test]}
        (folder / f"{task.id}.json").write_text(json.dumps(data))
    hidden = {"train": [{"input": p.input, "output": p.output} for p in heldout[0].train],
              "test": [{"input": heldout[0].test_input}]}
    (folder / "hidden.json").write_text(json.dumps(hidden))
    out = tmp_path / "eval"
    assert main(["eval", "--headless", "--tasks", str(folder), "--augment", "none", "--out", str(out)]) == 0
    submission, report = read_results(out)
    assert set(submission) == {"hidden", *(t.id for t in heldout)}
    assert report["totals"]["tasks_scored"] == 2 and report["hidden_outputs"] == 1
    assert_scores_match_submission(out, load_tasks(folder, require_test_output=False))


@pytest.mark.parametrize(("flags", "message"), [
    (["--augment", "rotations"], "--augment must be one of"),
    (["--rank", "best"], "--rank must be one of"),
    (["--samples", "0"], "--samples must be 1..64"),
    (["--tasks", "nowhere"], "no such file or folder"),
    (["--problems", "nope"], "unknown problem id(s): nope"),
    (["--limit", "-1"], "--limit must be 0"),
    (["--model", "no/such/folder/x"], "no such model folder"),
])
def test_bad_input_is_one_line_exit_2_and_creates_nothing(tmp_path: Path, flags: list[str], message: str, capsys):
    out = tmp_path / "eval"
    assert message in usage_error(["eval", "--headless", "--out", str(out), *flags], capsys)
    assert not out.exists()


def test_existing_results_are_never_overwritten(tmp_path: Path, capsys):
    out = tmp_path / "eval"
    out.mkdir()
    (out / "eval.json").write_text("{}")
    assert "already exists" in usage_error(["eval", "--headless", "--out", str(out)], capsys)
    assert (out / "eval.json").read_text() == "{}"


@pytest.mark.slow
@pytest.mark.timeout(420)
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGHUP])  # Ctrl+C; the terminal closed
def test_ctrl_c_keeps_the_tasks_scored_so_far(tmp_path: Path, signum: int):
    out = tmp_path / "eval"
    proc = subprocess.Popen([*CLI, "eval", "--headless", "--tasks", "synthetic-heldout", "--augment", "none",
                             "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    with ChildOutput(proc) as child:
        child.wait_for_line(lambda line: "1/120" in line, timeout=240)  # one task is scored and written
        proc.send_signal(signum)
        assert child.finish(timeout=120) == 0, child.transcript()
    assert "stopped" in child.stdout.split("1/120", 1)[1]
    submission, report = read_results(out)
    assert report["stopped"] is True
    answered = report["totals"]["tasks_answered"]
    assert 1 <= answered < 120 and len(submission) == answered
    tasks = [t for t in load_tasks("synthetic-heldout") if t.id in submission]
    assert report["totals"]["pass_at_2"] == pytest.approx(score_submission(submission, tasks)["pass_at_2"])


@pytest.mark.slow
def test_a_stop_while_the_model_loads_ends_cleanly_and_writes_nothing(tmp_path: Path):
    out = tmp_path / "eval"
    proc = subprocess.Popen([*CLI, "eval", "--headless", "--tasks", "synthetic-heldout", "--augment", "none",
                             "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    with ChildOutput(proc) as child:
        # printed once the stop signals are handled, before torch is imported
        child.wait_for_line(lambda line: "loading" in line, timeout=120, stream="stderr")
        proc.send_signal(signal.SIGTERM)
        assert child.finish(timeout=120) == 0, child.transcript()
    err = child.stderr
    assert "stopping once the model has loaded" in err and "stopped before the first task: nothing was written" in err
    assert "Traceback" not in err and not out.exists()


def test_a_run_directory_and_its_checkpoint_load_as_trained(tmp_path: Path):
    from helpers import make_trainer

    from arc_console.evaluation.model import load_eval_model

    trainer, _ = make_trainer(tmp_path / "run", max_steps=1, lora_r=4)
    trainer.run()
    trained = {name: p.detach().clone() for name, p in trainer.policy.trainable_parameters().items()}
    for spec, described in ((tmp_path / "run", "final model"), (tmp_path / "run" / "checkpoints" / "step_1", "checkpoint")):
        engine, said = load_eval_model(str(spec))
        policy = engine.policy
        assert described in said
        loaded = dict(policy.model.named_parameters())
        for name, value in trained.items():
            match = [n for n in loaded if n.endswith(name.split("base_model.model.", 1)[-1].replace(".default", ""))
                     or n == name]
            assert match, name
            assert (loaded[match[0]].detach() == value).all()
