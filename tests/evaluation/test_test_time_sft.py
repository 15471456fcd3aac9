"""Test-time SFT and the test-time modes (`eval --test-time-mode sft|rl|sft+rl`) on the real built-in tiny
model and real held-out tasks."""

import json
from pathlib import Path

import pytest
import torch

from arc_console.arc import build_prompt, grid_to_text, load_tasks
from arc_console.engine.control import RunControl
from arc_console.evaluation.adapter_reset import attach_trainable_weights
from arc_console.evaluation.model import load_eval_model
from arc_console.evaluation.settings import EvalSettings
from arc_console.evaluation.solver import answer_task
from arc_console.evaluation.test_time import TestTimeTrainer
from arc_console.evaluation.test_time_modes import plan_trainer
from arc_console.evaluation.test_time_settings import SftSettings, TestTimePlan, TestTimeSettings
from arc_console.evaluation.test_time_sft import (SupervisedPhase, answer_loss, encode_problem,
                                                  teacher_forcing_batch)
from cli_in_process import usage_error

EVAL = EvalSettings(augment="none", samples=2, seed=3)
SFT = SftSettings(steps=3, batch=4, learning_rate=1e-3)
RL = TestTimeSettings(steps=1, augment="none", candidates=2, learning_rate=5e-3)


def answerer(weights: str, mode: str = "sft") -> TestTimeTrainer:
    engine, _ = load_eval_model("tiny")
    return plan_trainer(attach_trainable_weights(engine, weights, 4, 8), TestTimePlan(mode, weights, SFT, RL), EVAL)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # the attempts are compared exactly: one thread's sums, in one order
    try:
        yield
    finally:
        torch.set_num_threads(before)


@pytest.fixture(scope="module")
def full() -> TestTimeTrainer:
    return answerer("full")


@pytest.fixture(scope="module")
def lora() -> TestTimeTrainer:
    return answerer("lora")


def attempts(answer) -> list:
    return [(t.attempts, [c.grid for c in t.candidates]) for t in answer.tests]


def snapshot(weights) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in weights.parameters().items()}


def test_the_loss_is_on_the_answer_tokens_and_equals_transformers_own_loss(full: TestTimeTrainer):
    policy = full.adapter.policy
    task = load_tasks("synthetic-heldout")[0]
    example = encode_problem(full.adapter, task)
    prompt_text = build_prompt(task.train, task.test_input)
    assert policy.tokenizer.decode(example.prompt_ids) == prompt_text
    assert policy.tokenizer.decode(example.answer_ids) == grid_to_text(task.test_output) + "<|return|>"
    full.adapter.reset(EVAL.seed, task.id)
    ids = torch.tensor([example.prompt_ids + example.answer_ids])
    labels = torch.tensor([[-100] * len(example.prompt_ids) + example.answer_ids])
    with torch.no_grad():
        reference = policy.base_causal_lm()(input_ids=ids, labels=labels).loss  # mean CE over the answer tokens
        ours = answer_loss(full.adapter, teacher_forcing_batch(full.adapter, [example]), 256, with_grad=False)
    assert float(ours) == pytest.approx(float(reference), rel=1e-5)
    # the step trains that loss through the training update ("sft" objective); lr 0 leaves the weights as they are
    phase = SupervisedPhase(full.adapter, SFT, EVAL)
    frozen = torch.optim.AdamW(list(full.adapter.parameters().values()), lr=0.0)
    assert phase.step([example], frozen) == pytest.approx(float(reference), rel=1e-5)
    full.adapter.reset(EVAL.seed, task.id)


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize("which", ["full", "lora"])
def test_a_task_answered_alone_and_after_others_gives_the_same_attempts_bit_for_bit(which: str, request):
    adapting: TestTimeTrainer = request.getfixturevalue(which)
    tasks = load_tasks("synthetic-heldout")[:3]
    adapting.adapter.reset(EVAL.seed, tasks[2].id)
    start = snapshot(adapting.adapter)
    alone = adapting.answer(tasks[2], RunControl(), None, lambda event: None)
    for task in tasks[:2]:
        adapting.answer(task, RunControl(), None, lambda event: None)
    after_others = adapting.answer(tasks[2], RunControl(), None, lambda event: None)
    assert attempts(after_others) == attempts(alone)
    strip = lambda record: {**record, "seconds": 0, "sft": {**record["sft"], "seconds": 0}}  # noqa: E731
    assert strip(after_others.test_time) == strip(alone.test_time)
    sft = alone.test_time["sft"]
    assert sft["steps"] == SFT.steps and sft["loss_after"] != sft["loss_before"]  # it really trained ...
    adapting.adapter.reset(EVAL.seed, tasks[2].id)
    assert all(torch.equal(p, start[name]) for name, p in adapting.adapter.parameters().items())  # ... and is back


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_sft_moves_every_weight_and_the_reset_model_answers_as_the_plain_model(full: TestTimeTrainer):
    task = load_tasks("synthetic-heldout")[1]
    full.adapter.reset(EVAL.seed, task.id)
    before = snapshot(full.adapter)
    phase = SupervisedPhase(full.adapter, SFT, EVAL)
    moved = []
    phase.train(task, RunControl(), lambda event: None,
                after_step=lambda step: moved.append(sum(not torch.equal(p, before[n])
                                                         for n, p in full.adapter.parameters().items())))
    assert moved[-1] == len(before)  # every weight trains (the experts and embeddings too)
    full.adapter.reset(EVAL.seed, task.id)
    plain_engine, _ = load_eval_model("tiny")
    plain = attempts(answer_task(task, plain_engine, EVAL))
    assert attempts(answer_task(task, full.engine, EVAL)) == plain
    SupervisedPhase(full.adapter, SftSettings(steps=3, batch=4, learning_rate=3e-2), EVAL).train(
        task, RunControl(), lambda event: None)
    assert attempts(answer_task(task, full.engine, EVAL)) != plain  # the engine samples the trained weights
    full.adapter.reset(EVAL.seed, task.id)


@pytest.mark.slow
def test_more_steps_lower_the_loss_on_the_tasks_own_examples(full: TestTimeTrainer):
    """The update fits what it is given: trained on the leave-one-out problems as the probe shows them (no
    views), their loss falls. (Under views the probe is a problem the steps may never draw as such.)"""
    task = load_tasks("synthetic-heldout")[5]
    full.adapter.reset(EVAL.seed, task.id)
    phase = SupervisedPhase(full.adapter, SftSettings(steps=12, batch=4, learning_rate=1e-3, augment="none"), EVAL)
    report = phase.train(task, RunControl(), lambda event: None)
    full.adapter.reset(EVAL.seed, task.id)
    assert report.loss_after < 0.8 * report.loss_before


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_sft_then_rl_trains_the_same_weights_in_turn():
    adapting = answerer("lora", "sft+rl")
    task = load_tasks("synthetic-heldout")[2]
    answer = adapting.answer(task, RunControl(), None, lambda event: None)
    record = answer.test_time
    assert record["mode"] == "sft+rl" and record["fallback"] is None
    assert record["sft"]["steps"] == SFT.steps and record["rl"]["steps"] == RL.steps
    assert record["steps"] == SFT.steps + RL.steps and record["seconds"] >= record["sft"]["seconds"]


def write_tasks(folder: Path) -> None:
    folder.mkdir()
    task = load_tasks("synthetic-heldout")[4]
    pairs = {"train": [{"input": p.input, "output": p.output} for p in task.train],
             "test": [{"input": p.input, "output": p.output} for p in task.test]}
    (folder / "two-pairs.json").write_text(json.dumps(pairs))
    (folder / "one-pair.json").write_text(json.dumps({**pairs, "train": pairs["train"][:1]}))


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_cli_sft_mode_records_the_mode_its_settings_and_each_tasks_losses(tmp_path: Path, warm_cli):
    write_tasks(tmp_path / "tasks")
    out = tmp_path / "eval"
    # A fresh `arc-console eval` process from the warm launcher (tests/support/warm_cli.py).
    result = warm_cli.run(["eval", "--headless", "--tasks", str(tmp_path / "tasks"), "--augment", "none",
                           "--test-time-mode", "sft", "--sft-steps", "2", "--sft-batch", "2", "--out", str(out)],
                          timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "sft loss" in result.stdout and "plain (single pair)" in result.stdout
    report = json.loads((out / "eval.json").read_text())
    header = report["test_time"]
    assert header["mode"] == "sft" and header["weights"] == "auto" and header["trained"].startswith("every weight")
    assert header["sft"]["steps"] == 2 and header["sft"]["batch"] == 2 and "rl" not in header
    assert header["pool"] == "both"  # the base model's candidates are kept beside the tuned model's
    assert report["settings"]["rank"] == "logprob"  # --rank not given: the product of experts, with a mode
    assert report["totals"]["test_time_trained"] == 1 and report["totals"]["test_time_plain_fallbacks"] == 1
    by_id = {t["task_id"]: t["test_time"] for t in report["tasks"]}
    assert by_id["one-pair"]["fallback"] and "sft" not in by_id["one-pair"]
    assert by_id["two-pairs"]["pool"] == "both" and len(by_id["two-pairs"]["attempts_found_by"]) == 1
    candidates = next(t for t in report["tasks"] if t["task_id"] == "two-pairs")["tests"][0]["candidates"]
    assert all(set(c["found_by"]) <= {"base", "tuned"} for c in candidates)
    sft = by_id["two-pairs"]["sft"]
    assert sft["steps"] == 2 and sft["problems"] == 2 and sft["seconds"] > 0
    assert isinstance(sft["loss_before"], float) and isinstance(sft["loss_after"], float)


@pytest.mark.parametrize(("flags", "message"), [
    (["--test-time-mode", "sft", "--sft-steps", "0"], "--sft-steps must be 1..100000"),
    (["--test-time-mode", "sft", "--sft-lr", "-1"], "--sft-lr must be positive"),
    (["--test-time-mode", "sft", "--sft-augment", "spin"], "--sft-augment must be one of"),
    (["--test-time-mode", "sft", "--test-time-weights", "half"], "--test-time-weights must be one of"),
    (["--test-time-mode", "learn"], "--test-time-mode must be one of"),
    (["--sft-steps", "4"], "--sft-steps sets test-time SFT: use --test-time-mode sft or sft+rl"),
    (["--test-time-mode", "rl", "--no-sft-repeat-examples"], "--sft-repeat-examples sets test-time SFT"),
    (["--test-time-mode", "sft", "--test-time-steps", "2"], "--test-time-steps sets test-time RL's steps"),
    (["--test-time-pool", "both"], "--test-time-pool chooses among test-time training's candidates"),
    (["--test-time-mode", "sft", "--test-time-pool", "all"], "--test-time-pool must be one of tuned, both"),
])
def test_bad_test_time_mode_flags_are_one_line_exit_2_and_create_nothing(tmp_path: Path, flags: list[str],
                                                                          message: str, capsys):
    out = tmp_path / "eval"
    assert message in usage_error(["eval", "--headless", "--out", str(out), *flags], capsys)
    assert not out.exists()
