"""Issue 32's benchmarks at smoke-test scale, as the real scripts in real processes: the test-time modes
(benchmarks/test_time_modes.py) and DAPO on the training split with --eval-every (benchmarks/generalise.py);
and what the modes benchmark's nesting relies on: a budget answered inside a longer run is a run of that budget."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from arc_console.arc import load_tasks
from arc_console.config import DEMO_PROBLEMS
from arc_console.engine.control import RunControl
from arc_console.evaluation.adapter_reset import attach_trainable_weights
from arc_console.evaluation.model import load_eval_model
from arc_console.evaluation.settings import EvalSettings
from arc_console.evaluation.solver import answer_task
from arc_console.evaluation.test_time_settings import SftSettings
from arc_console.evaluation.test_time_sft import SupervisedPhase

from paths import REPO

EVAL = EvalSettings(augment="none", samples=2, seed=1)


def attempts(answer) -> list:
    return [(t.attempts, [c.grid for c in t.candidates]) for t in answer.tests]


@pytest.mark.slow
def test_sft_answered_after_step_2_of_a_3_step_run_is_a_2_step_run():
    engine, _ = load_eval_model("tiny")
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # the attempts are compared exactly: one thread's sums, in one order
    try:
        nested_equals_direct(engine)
    finally:
        torch.set_num_threads(before)


def nested_equals_direct(engine) -> None:
    weights = attach_trainable_weights(engine, "full", 4, 8)
    task = load_tasks("synthetic-heldout")[7]
    nested = []

    def after_step(step: int) -> None:
        if step == 2:
            nested.append(answer_task(task, weights.engine, EVAL))

    weights.reset(EVAL.seed, task.id)
    SupervisedPhase(weights, SftSettings(steps=3, batch=2), EVAL).train(task, RunControl(), lambda e: None, after_step)
    weights.reset(EVAL.seed, task.id)
    SupervisedPhase(weights, SftSettings(steps=2, batch=2), EVAL).train(task, RunControl(), lambda e: None)
    assert attempts(answer_task(task, weights.engine, EVAL)) == attempts(nested[0])
    weights.reset(EVAL.seed, task.id)


def run_script(*args: str, timeout: int = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=timeout, cwd=REPO)


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_the_modes_benchmark_runs_every_mode_and_writes_the_records_keys(tmp_path: Path):
    out = tmp_path / "modes.json"
    result = run_script("benchmarks/test_time_modes.py", "--tasks", "1", "--skip-tasks", "2", "--seeds", "0",
                        "--sft-steps", "1", "2", "--rl-steps", "1", "1", "--sft-batch", "2", "--eval-augment", "none",
                        "--jobs", "1", "--job-out", str(tmp_path / "slices"), "--out", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["tasks"] == 1 and report["task_ids"][0] not in DEMO_PROBLEMS
    assert report["task_ids"] == [modes_module().held_out_tasks(3, "tiny")[2].id] and report["skip_tasks"] == 2
    assert list(report)[:3] == ["tasks", "pass_at_2_before", "pass_at_2_after"]
    assert {"rows", "per_task", "selection", "per_family", "pools"} <= set(report)
    arms = [(row["mode"], row["budget"]) for row in report["rows"]]
    assert arms == [("plain", 0), ("sft", 1), ("sft", 2), ("rl", 1), ("rl", 2), ("sft+rl", 1), ("sft+rl", 2),
                    ("sft pooled", 1), ("sft pooled", 2)]
    by_arm = {(row["mode"], row["budget"]): row for row in report["rows"]}
    assert by_arm[("sft+rl", 2)]["sft_steps"] == 2 and by_arm[("sft+rl", 2)]["rl_steps"] == 1
    assert report["pass_at_2_before"] == by_arm[("plain", 0)]["pass_at_2_mean"]
    assert report["pass_at_2_after"] == by_arm[("sft pooled", 2)]["pass_at_2_mean"]  # the default mode, budget 2
    # the pool holds both models' candidates: its oracle is at least either model's
    for budget in (1, 2):
        pooled, alone = by_arm[("sft pooled", budget)], by_arm[("sft", budget)]
        assert pooled["oracle_mean"] >= max(alone["oracle_mean"], by_arm[("plain", 0)]["oracle_mean"])
        pool = next(p for p in report["pools"] if p["budget"] == budget)
        assert sum(c["votes"]["base"] for c in pool["tests"][0]) <= 2 and pool["sft_steps"] == budget
        for c in (c for test in pool["tests"] for c in test):  # one view (--eval-augment none): its score is the sum
            assert c["cells"] > 0 and len(c["view_scores"]["base"]) == len(c["view_scores"]["tuned"]) == 1
            assert all(c["view_scores"][m][0] == pytest.approx(c["score"][m], abs=2e-4) for m in ("base", "tuned"))
    rules = {row["rule"] for row in report["selection"]}
    assert {"plain votes", "pool logprob base+tuned", "oracle"} <= rules
    assert all(0 <= row["pass_at_2_mean"] <= row["oracle_mean"] + 1e-9 <= 1 + 1e-9 for row in report["rows"])
    assert by_arm[("sft", 2)]["seconds_per_task"] > by_arm[("plain", 0)]["seconds_per_task"]
    assert report["tasks_left_out_unfinished"] == [] and set(report["load_average"]) == {"slice 1"}
    pytest.importorskip("matplotlib")
    assert (tmp_path / report["plot"]).is_file()


def test_the_selection_rules_pick_from_the_candidates_they_are_given():
    sys.path.insert(0, str(REPO / "benchmarks"))
    from test_time_selection import picks_right, task_score

    def candidate(right: bool, base: int, tuned: int, base_score: float, tuned_score: float) -> dict:
        return {"right": right, "votes": {"base": base, "tuned": tuned}, "score": {"base": base_score,
                "tuned": tuned_score}, "mean_sample_logprob": -1.0}

    # the base model's two wrong favourites; the tuned model alone found the right grid, and scores it best
    pool = [candidate(False, 5, 0, -1.0, -9.0), candidate(False, 3, 1, -2.0, -8.0), candidate(True, 0, 4, -6.0, -0.5)]
    assert not picks_right(pool, "plain votes") and not picks_right(pool, "plain logprob")
    assert picks_right(pool, "sft votes") and picks_right(pool, "pool logprob tuned")
    assert not picks_right(pool, "pool votes")  # 5 and 4 votes beat 4
    assert picks_right(pool, "pool logprob base+tuned")  # -6.5 beats -10 and -10
    assert picks_right(pool, "pool logprob tuned", tries=1) and not picks_right(pool, "plain votes", tries=1)
    assert picks_right(pool, "oracle") and not picks_right(pool[:2], "oracle")
    assert task_score([pool, pool[:2]], "pool logprob tuned") == 0.5


def modes_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("test_time_modes", REPO / "benchmarks" / "test_time_modes.py")
    modes = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(modes)
    return modes


def test_dev_tasks_follow_the_test_tasks_without_overlap():
    held_out = modes_module().held_out_tasks
    first, after = held_out(40, "tiny"), held_out(30, "tiny", skip=40)
    everything = held_out(70, "tiny")
    assert [t.id for t in first + after] == [t.id for t in everything] and len(after) == 30
    assert not {t.id for t in first} & {t.id for t in after}
    assert not {t.id for t in everything} & set(DEMO_PROBLEMS)


def test_a_modes_run_stopped_early_is_merged_over_the_tasks_every_seed_answered():
    modes = modes_module()
    rows = [{"task_id": task, "seed": seed} for task, seeds in (("a", (0, 1, 2)), ("b", (0, 1)), ("c", (2, 1, 0)))
            for seed in seeds]
    kept, left_out = modes.whole_tasks(rows, [0, 1, 2])
    assert left_out == ["b"] and [r["task_id"] for r in kept] == ["a"] * 3 + ["c"] * 3


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_training_benchmark_trains_on_the_whole_training_split_and_records_held_out_pass_at_2(tmp_path: Path):
    out = tmp_path / "generalise.json"
    result = run_script("benchmarks/generalise.py", "--steps", "1", "--eval-every", "1", "--eval-limit", "1",
                        "--seeds", "0", "--variants", "pixel", "--eval-augment", "none", "--set", "num_candidates=2",
                        "--work", str(tmp_path / "jobs"), "--out", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(out.read_text())
    job = report["jobs"][0]
    assert job["settings"]["tasks"] == "synthetic" and job["settings"]["problems"] == []
    assert job["settings"]["num_candidates"] == 2 and [row["step"] for row in job["curve"]] == [0, 1]
    assert report["pass_at_2_before"] == job["curve"][0]["pass_at_2"]
    assert report["pass_at_2_after"] == job["curve"][-1]["pass_at_2"]
    assert report["summary"]["pixel"]["seeds"] == [0]
    # Rewritten after every step and evaluation; what the step trained on and how far the weights moved.
    assert job["finished"] is True and len(job["train_problems"]) == 1
    assert job["train_problems"][0].startswith("syn-train-")
    assert job["weights_relative_change"][0][0] == 1 and job["weights_relative_change"][0][1] > 0
    families = report["summary"]["pixel"]["held_out_per_family"]
    assert sum(row["tasks"] for row in families.values()) == 1
    assert sum(row["training_steps"] for row in families.values()) == 1
    assert report["summary"]["pixel"]["train_mean_accuracy_change_same_family_per_seed"] == [None]  # one step: no halves
    # What the update was made of, read back from the run directory's step file and metrics.
    signal = report["summary"]["pixel"]["training_signal"]
    step = json.loads(next((tmp_path / "jobs/job_pixel_0/logs/responses").glob("step_*.json")).read_text())
    groups = [step, *step.get("extra_groups", [])]
    assert signal["first_half"]["steps"] == 0 and signal["second_half"]["steps"] == 1
    assert signal["second_half"]["groups_drawn"] == len(groups) == step["groups_drawn"]
    assert signal["second_half"]["groups_kept"] == step["groups_kept"]
    assert signal["second_half"]["candidates"] == 2 * len(groups)
    assert signal["second_half"]["perfect_candidates"] == sum(c["perfect_match"] for g in groups for c in g["candidates"])
    assert signal["revisits"]["tasks_drawn"] == len({g["problem_id"] for g in groups})
    # The trained model against the one it started from, by `arc-console eval` on the held-out tasks.
    compared = tmp_path / "heldout.json"
    result = run_script("benchmarks/heldout_after_training.py", str(tmp_path / "jobs"), "--eval-seeds", "0",
                        "--limit", "2", "--work", str(tmp_path / "evals"), "--out", str(compared))
    assert result.returncode == 0, result.stderr[-3000:]
    heldout = json.loads(compared.read_text())
    assert set(heldout["models"]) == {"start", "pixel_0"}
    assert heldout["models"]["pixel_0"]["model"] == str(tmp_path / "jobs/job_pixel_0")
    trained = json.loads((tmp_path / "evals/pixel_0_e0/eval.json").read_text())
    assert trained["totals"]["tasks_scored"] == 2 and trained["tasks"][0]["task_id"].startswith("syn-heldout-")
    start = json.loads((tmp_path / "evals/start_e0/eval.json").read_text())["totals"]["pass_at_2"]
    assert heldout["variants"]["pixel"]["pass_at_2_change_per_training_seed"] == [
        round(trained["totals"]["pass_at_2"] - start, 4)]
    # A run cut after its first evaluation: --merge keeps what its job file holds.
    cut = tmp_path / "cut"
    cut.mkdir()
    (cut / "job_pixel_0.json").write_text(json.dumps({**job, "finished": False, "stopped": None,
                                                       "curve": job["curve"][:1]}))
    merged = run_script("benchmarks/generalise.py", "--merge", str(cut), "--ran", "the original command",
                        "--out", str(tmp_path / "cut.json"))
    assert merged.returncode == 0, merged.stderr[-3000:]
    cut_report = json.loads((tmp_path / "cut.json").read_text())
    assert cut_report["command"] == "the original command" and "--merge" in cut_report["merge_command"]
    assert cut_report["summary"]["pixel"]["finished_per_seed"] == [False]
    assert cut_report["summary"]["pixel"]["last_evaluated_step_per_seed"] == [0]


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_fresh_variant_trains_on_tasks_it_never_draws_twice(tmp_path: Path):
    out = tmp_path / "generalise.json"
    result = run_script("benchmarks/generalise.py", "--steps", "3", "--eval-every", "3", "--eval-limit", "1",
                        "--seeds", "0", "--variants", "exact+fresh", "--eval-augment", "none",
                        "--set", "num_candidates=2", "--work", str(tmp_path / "jobs"), "--out", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    job = json.loads(out.read_text())["jobs"][0]
    assert job["settings"]["tasks"] == "synthetic:200" and job["settings"]["reward"] == "exact"
    run = json.loads((tmp_path / "jobs/job_exact+fresh_0/logs/run.json").read_text())
    assert run["problems"] == [t.id for t in load_tasks("synthetic:200")] and len(run["problems"]) == 2400
    steps = sorted((tmp_path / "jobs/job_exact+fresh_0/logs/responses").glob("step_*.json"))
    drawn = [g["problem_id"] for path in steps for step in [json.loads(path.read_text())]
             for g in [step, *step.get("extra_groups", [])]]
    assert drawn == run["problems"][: len(drawn)] and len(drawn) >= 3  # in order, none twice
    assert job["training_signal"]["revisits"]["tasks_drawn_again"] == 0


def test_the_transfer_check_compares_trained_fresh_and_held_out_instances_of_the_same_families():
    import importlib.util

    spec = importlib.util.spec_from_file_location("transfer_check", REPO / "benchmarks" / "transfer_check.py")
    check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(check)
    sets = check.task_sets(["rotate90", "colour_map"], 10)
    assert {t.id for t in sets["trained"]} == {t.id for t in load_tasks("synthetic")
                                             if t.id.split("-")[2] in ("rotate90", "colour_map")}
    assert sets["trained"] == [t for t in load_tasks("synthetic") if t.id.split("-")[2] in ("rotate90", "colour_map")]
    assert sets["heldout"] == [t for t in load_tasks("synthetic-heldout")
                               if t.id.split("-")[2] in ("rotate90", "colour_map")]
    never = {t.id for t in load_tasks(f"synthetic:{check.FRESH_START}")}  # no run of generalise.py draws past these
    assert all(t.id.startswith("syn-train-") and t.id not in never for t in sets["fresh"]) and len(sets["fresh"]) == 20


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_transfer_check_counts_exact_samples_of_the_real_model(tmp_path: Path):
    out = tmp_path / "transfer.json"
    result = run_script("benchmarks/transfer_check.py", "tiny", "--families", "recolour", "--per-family", "2",
                        "--samples", "3", "--out", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    row = json.loads(out.read_text())["models"]["tiny"]
    for name in ("trained", "fresh", "heldout"):
        family = row[name]["per_family"]["recolour"]
        assert family["samples"] == 6 and 0 <= family["tasks_any_right"] <= 2 and family["right"] <= 6
        assert row[name]["exact_share"] == round(family["right"] / 6, 4)
    # recolour is the family the built-in model answers best: an answer is found somewhere
    assert sum(row[name]["per_family"]["recolour"]["right"] for name in row if name != "model") > 0


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_gpu_host_script_runs_the_variants_side_by_side_and_brings_back_merged_results(tmp_path: Path):
    out = tmp_path / "out"
    env = {**os.environ, "OUT": str(out), "PYTHON": sys.executable, "GENERALISE_JOBS": "1"}  # one run at a time here
    result = subprocess.run(["bash", "benchmarks/generalise_gpu_host.sh", "2", "600", "0", "exact exact+fresh", "--",
                             "num_candidates=2", "--eval-limit", "1"], cwd=REPO, env=env, capture_output=True,
                            text=True, timeout=800)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    report = json.loads((out / "generalise_gpuhost.json").read_text())
    assert sorted(report["summary"]) == ["exact", "exact+fresh"] and "CUDA hidden" in report["machine"]
    assert "--variants exact exact+fresh" in report["command"] and "num_candidates=2" in report["command"]
    jobs = {job["variant"]: job for job in report["jobs"]}
    assert jobs["exact"]["settings"]["tasks"] == "synthetic"
    assert jobs["exact+fresh"]["settings"]["tasks"] == "synthetic:200"
    assert all(job["finished"] and [row["step"] for row in job["curve"]] == [0, 1, 2] for job in jobs.values())
    # the job files come back with their training signal, and merge again without their run directories
    again = tmp_path / "again.json"
    merged = run_script("benchmarks/generalise.py", "--merge", str(out / "jobs"), "--out", str(again))
    assert merged.returncode == 0, merged.stderr[-3000:]
    assert json.loads(again.read_text())["summary"] == report["summary"]
    assert report["summary"]["exact+fresh"]["training_signal"]["revisits"]["tasks_drawn_again"] == 0
