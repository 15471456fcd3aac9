"""`eval --test-time-pool both`: the base model's candidates kept beside the tuned model's and ranked together,
on the real built-in tiny model and real held-out tasks; and the modes benchmark ranks its `sft pooled` arm the
way eval does."""

import dataclasses
import sys

import pytest
import torch

from arc_console.arc import load_tasks
from arc_console.engine.control import RunControl
from arc_console.evaluation.adapter_reset import attach_trainable_weights
from arc_console.evaluation.candidates import CandidatePool
from arc_console.evaluation.model import load_eval_model
from arc_console.evaluation.settings import EvalSettings
from arc_console.evaluation.solver import answer_task, pooled, sample_task
from arc_console.evaluation.test_time_modes import plan_trainer
from arc_console.evaluation.test_time_settings import SftSettings, TestTimePlan, TestTimeSettings

from paths import REPO

EVAL = EvalSettings(augment="dihedral", samples=1, seed=5, rank="logprob")
SFT = SftSettings(steps=3, batch=4, learning_rate=3e-2)  # a large rate: the tuned model answers differently
RL = TestTimeSettings(steps=1, augment="none", candidates=2)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # answers are compared exactly: one thread's sums, in one order
    try:
        yield
    finally:
        torch.set_num_threads(before)


def by_grid(candidates) -> dict:
    return {str(c.grid): c for c in candidates}


def test_pooling_joins_equal_grids_and_keeps_each_models_votes():
    task = load_tasks("synthetic-heldout")[0]
    a, b, c = task.train[0].input, task.train[0].output, task.test[0].input
    first, second = CandidatePool(), CandidatePool()
    for grid, view in ((a, 0), (b, 1), (a, 2)):
        first.add(grid, view, -1.0, "base")
    for grid, view in ((c, 0), (a, 3)):
        second.add(grid, view, -2.0, "tuned")
    first.absorb(second)
    joined = by_grid(first.candidates)
    assert [x.grid for x in first.candidates] == [a, b, c]  # the first pool's order, then the new grids
    assert joined[str(a)].votes == 3 and joined[str(a)].found_by == {"base": 2, "tuned": 1}
    assert joined[str(a)].views == {0, 2, 3} and joined[str(c)].found_by == {"tuned": 1}


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_pool_both_ranks_every_candidate_of_either_model_by_both_models_scores():
    task = load_tasks("synthetic-heldout")[1]
    base_engine, _ = load_eval_model("tiny")
    plain = answer_task(task, base_engine, EVAL)  # the base model's candidates and scores

    weights = attach_trainable_weights(load_eval_model("tiny")[0], "full", 4, 8)
    weights.reset(EVAL.seed, task.id)
    start = {name: p.detach().clone() for name, p in weights.parameters().items()}
    alone = plan_trainer(weights, TestTimePlan("sft", "full", SFT, RL, pool="tuned"), EVAL)
    tuned = alone.answer(task, RunControl(), None, lambda event: None)
    both = plan_trainer(weights, TestTimePlan("sft", "full", SFT, RL, pool="both"), EVAL)
    answer = both.answer(task, RunControl(), None, lambda event: None)

    assert all(torch.equal(p, start[name]) for name, p in weights.parameters().items())  # reset, bit for bit
    for got, base_test, tuned_test in zip(answer.tests, plain.tests, tuned.tests, strict=True):
        base_by, tuned_by, pool = by_grid(base_test.candidates), by_grid(tuned_test.candidates), by_grid(got.candidates)
        assert set(pool) == set(base_by) | set(tuned_by) and set(tuned_by) != set(base_by)  # SFT changed answers
        for key, candidate in pool.items():
            assert candidate.found_by.get("base", 0) == (base_by[key].votes if key in base_by else 0)
            assert candidate.found_by.get("tuned", 0) == (tuned_by[key].votes if key in tuned_by else 0)
            # each model's product of experts, as that model alone scores it (other candidates share its batch)
            assert candidate.expert_scores["base"] == pytest.approx(
                base_by[key].expert_logprob if key in base_by else candidate.expert_scores["base"], abs=1e-4)
            assert candidate.expert_scores["tuned"] == pytest.approx(
                tuned_by[key].expert_logprob if key in tuned_by else candidate.expert_scores["tuned"], abs=1e-4)
        summed = sorted(got.candidates, key=lambda c: -(c.expert_scores["base"] + c.expert_scores["tuned"]))
        assert got.attempts == [c.grid for c in summed[:2]]
    record = answer.test_time
    assert record["pool"] == "both" and record["sft"]["steps"] == SFT.steps
    assert all(who in ("base", "tuned", "both") for test in record["attempts_found_by"] for who in test)

    sys.path.insert(0, str(REPO / "benchmarks"))
    from test_time_selection import candidate_record, order

    for got in answer.tests:  # the benchmark's default rule picks what eval picks
        records = [candidate_record(c, got.target) for c in got.candidates]
        assert order(records, "pool logprob base+tuned")[:2] == [0, 1][:len(records)]


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_task_without_a_pseudo_test_is_answered_once_by_the_base_model():
    task = load_tasks("synthetic-heldout")[1]
    one_pair = type(task)(task.id, task.train[:1], task.test, task.source)
    weights = attach_trainable_weights(load_eval_model("tiny")[0], "full", 4, 8)
    answer = plan_trainer(weights, TestTimePlan("sft", "full", SFT, RL, pool="both"), EVAL).answer(
        one_pair, RunControl(), None, lambda event: None)
    assert answer.test_time["fallback"]
    weights.reset(EVAL.seed, task.id)
    plain = sample_task(one_pair, weights.engine, EVAL)
    assert [sum(c.found_by.values()) for c in answer.tests[0].candidates] == \
        [c.votes for c in answer.tests[0].candidates]
    assert {str(c.grid) for c in answer.tests[0].candidates} == {str(c.grid) for c in plain.tests[0].pool.candidates}
    assert all(set(c.found_by) == {"base"} for c in answer.tests[0].candidates)  # sampled once, not twice
    assert len(pooled(plain, plain).tests[0].pool) == len(plain.tests[0].pool)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_sft_that_fits_none_of_its_prompts_is_a_plain_fallback_sampled_once():
    task = load_tasks("synthetic-heldout")[1]  # two train pairs
    tight = dataclasses.replace(EVAL, max_seq_length=340)  # RL's trimmed prompts fit; SFT's whole ones do not
    weights = attach_trainable_weights(load_eval_model("tiny")[0], "full", 4, 8)
    answer = plan_trainer(weights, TestTimePlan("sft", "full", SFT, RL, pool="both"), tight).answer(
        task, RunControl(), None, lambda event: None)
    assert answer.test_time["fallback"] == "no leave-one-out problem fits the context"
    assert answer.test_time["steps"] == 0 and answer.test_time["updates"] == 0
    assert answer.test_time["reward_before"] is None  # declined before the probes' rollouts, not after
    assert all(set(c.found_by) == {"base"} for c in answer.tests[0].candidates)  # not sampled again as "tuned"
