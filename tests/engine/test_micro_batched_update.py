"""The update over micro-batches of groups (--update-micro-groups), and of rows cut from them
(--update-micro-rows), on the real tiny GPT-OSS: the same weights and logged figures as one pass over
every group, one group's rows per forward, and the head computed on completion positions only."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from arc_console.engine import trainer as trainer_module
from arc_console.engine.update import policy_update

from helpers import make_trainer
from paths import REPO

# Answers of 18, 24 and 36 tokens (3x3, 3x4, 3x6 grids) and one cut at 40 (5x5): groups of different lengths.
PROBLEMS = ["syn-heldout-rotate90-00000", "syn-heldout-rotate180-00000", "syn-heldout-mirror_extend-00000",
            "syn-heldout-border-00000"]
# The built-in model answers these well: only a hot candidate (up to 2.6) keeps every group's rewards apart,
# so all four groups reach the update (cooler, every 5x5 answer is cut alike and its group dropped).
STEP = {"model": "tiny", "problems": PROBLEMS, "problems_per_step": 4, "max_extra_draws": 0, "max_new_tokens": 40,
        "overlong_buffer": 4, "max_steps": 1, "updates_per_rollout": 2, "temperature_max": 2.6}
FIGURES = ("loss", "grad_norm", "clip_fraction", "clip_low_fraction", "clip_high_fraction", "ratio_mean", "approx_kl",
           "entropy")
CLI = [sys.executable, "-m", "arc_console"]


def _one_step(run: Path, micro_groups: int, **settings) -> tuple[dict, dict, dict[str, torch.Tensor]]:
    trainer, _ = make_trainer(run, **STEP, update_micro_groups=micro_groups, **settings)
    # AdamW's first steps are lr * g / (|g| + eps): with eps 1e-8 a gradient element at float32's noise
    # floor (~1e-7, summed in another order) moves by up to lr either way. At eps 1e-3 such elements stay
    # put while the others still move by a good part of lr, so the weights can be compared at 1e-6.
    trainer.optimizer.param_groups[0]["eps"] = 1e-3
    trainer.run()
    metrics = json.loads((run / "logs/metrics.jsonl").read_text().splitlines()[0])
    record = json.loads((run / "logs/responses/step_001.json").read_text())
    model = run / "final_model"
    weights = load_file(model / ("adapter_model.safetensors" if settings.get("lora_r") else "model.safetensors"))
    return metrics, record, weights


@pytest.mark.parametrize(("objective", "settings"), [
    ("dapo", {"mask_truncated": True}),
    # At most 3 rows a pass: each group of K = 4 goes as 2 rows then 2, each row with its group's advantage.
    ("dapo", {"mask_truncated": True, "update_micro_rows": 3}),
    pytest.param("dapo", {"lora_r": 4, "lora_alpha": 8, "mask_truncated": True}, marks=pytest.mark.slow),
    pytest.param("grpo", {"mask_truncated": True}, marks=pytest.mark.slow),
    pytest.param("grpo", {"mask_truncated": True, "update_micro_rows": 3}, marks=pytest.mark.slow),
    pytest.param("dr_grpo", {"mask_truncated": True, "update_micro_rows": 3}, marks=pytest.mark.slow),
    pytest.param("preference", {}, marks=pytest.mark.slow),
])
@pytest.mark.slow
def test_micro_batches_of_one_group_update_as_all_groups_at_once(tmp_path: Path, objective: str, settings: dict) -> None:
    micro_rows = settings.pop("update_micro_rows", 0)
    whole, record, whole_weights = _one_step(tmp_path / "whole", 0, objective=objective, **settings)
    micro, micro_record, micro_weights = _one_step(tmp_path / "micro", 1, objective=objective,
                                                   update_micro_rows=micro_rows, **settings)
    groups = [record] + record["extra_groups"]
    assert micro_record["candidates"] == record["candidates"]  # the same rollout fed both updates
    assert whole["groups_kept"] == 4
    lengths = {g["problem_id"]: max(c["tokens"] for c in g["candidates"]) for g in groups}
    assert len(set(lengths.values())) == 4, lengths  # every group pads to a different width
    if settings.get("mask_truncated"):
        # The 5x5 answers are cut at 40 tokens: their rows leave the loss, the others' stay.
        assert any(c["truncated"] for g in groups for c in g["candidates"])
        assert not all(c["truncated"] for g in groups for c in g["candidates"])
    assert whole_weights.keys() == micro_weights.keys()
    assert max(float((whole_weights[k] - micro_weights[k]).abs().max()) for k in whole_weights) <= 1e-6
    # ... and the update moved the weights: a difference of 1e-6 is small against it.
    assert whole["grad_norm"] > 1e-3
    for key in FIGURES:
        if whole[key] is None:
            assert micro[key] is None, key
        else:
            # The gradient norm sums every float32 gradient element's square, in another order per micro-batch.
            rel = 1e-4 if key == "grad_norm" else 1e-5
            assert micro[key] == pytest.approx(whole[key], rel=rel, abs=1e-6), key
    if objective != "preference":
        assert whole["approx_kl"] > 0 and 0 < whole["ratio_mean"] < 2


@pytest.mark.slow
def test_each_forward_holds_one_group_and_the_head_sees_only_completion_tokens(tmp_path: Path, monkeypatch) -> None:
    trainer, _ = make_trainer(tmp_path / "run", **STEP, update_micro_groups=1, logprob_chunk_tokens=16)
    causal_lm = trainer.policy.base_causal_lm()
    forward_rows: list[int] = []
    head_rows: list[int] = []
    updated: list[list] = []

    def watched_update(policy, optimizer, scheduler, config, groups, ranks, timer):
        # Only the update's passes are counted, not the rollout's.
        body = causal_lm.model.register_forward_pre_hook(
            lambda module, args, kwargs: forward_rows.append(kwargs["input_ids"].shape[0]), with_kwargs=True)
        head = causal_lm.lm_head.register_forward_hook(lambda module, args, out: head_rows.append(args[0].shape[0]))
        try:
            updated.append(groups)
            return policy_update(policy, optimizer, scheduler, config, groups, ranks, timer)
        finally:
            body.remove()
            head.remove()

    monkeypatch.setattr(trainer_module, "policy_update", watched_update)
    trainer.run()
    (groups,) = updated
    assert len(groups) == 4
    k = trainer.config.num_candidates
    # The old-policy pass and two updates, each one group (K rows) per forward: never 4 K.
    assert forward_rows == [k] * 12
    completion_tokens = sum(s.num_tokens for g in groups for s in g.samples)
    prompt_tokens = sum(len(g.prompt_ids) for g in groups) * k
    # The head ran 3 times over the completion tokens, at most a chunk at a time, and on no prompt position.
    assert sum(head_rows) == 3 * completion_tokens and max(head_rows) <= 16
    assert prompt_tokens > 10 * completion_tokens  # so a head run on prompt positions could not go unseen


@pytest.mark.parametrize(("flags", "named"), [
    (["--update-micro-groups", "-1"], "update-micro-groups"),
    (["--update-micro-groups", "two"], "update-micro-groups"),
    (["--update-micro-rows", "-2"], "update-micro-rows"),
    (["--update-micro-rows", "2", "--objective", "preference"], "update-micro-rows"),
])
def test_a_bad_micro_batch_size_is_one_line_and_exit_2(tmp_path: Path, flags: list[str], named: str) -> None:
    out = subprocess.run([*CLI, "train", "--headless", "--preset", "tiny", "--out", str(tmp_path / "run"), *flags],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert lines[-1].startswith("arc-console: error:") and named in lines[-1], out.stderr
    assert "Traceback" not in out.stderr
    assert not (tmp_path / "run").exists()


def test_the_rollout_prefill_runs_the_head_on_one_position_only() -> None:
    from arc_console.arc import load_tasks, select_tasks, build_prompt
    from arc_console.decoding.rollout_engine import RolloutEngine
    from arc_console.engine.backends import load_policy
    from arc_console.evaluation.expert_scores import answers_logprobs

    policy = load_policy("tiny", "hf", lora_r=0, lora_alpha=32, max_seq_length=2048)
    (task,) = select_tasks(load_tasks("synthetic-heldout"), [PROBLEMS[3]])
    prompt = build_prompt(task.train, task.test_input)
    positions: list[int] = []
    hook = policy.base_causal_lm().lm_head.register_forward_hook(lambda module, args, out: positions.append(args[0].shape[1]))
    try:
        rollout = RolloutEngine(policy).generate([prompt], [0.7, 1.0, 1.3], max_new_tokens=6)
        prompt_ids = rollout.prompt_ids[0]
        assert positions and max(positions) == 1  # the shared prefill, then one position per decode step
        positions.clear()
        answers = [s.completion_ids for s in rollout.samples]
        answers_logprobs(policy, prompt_ids, answers)
    finally:
        hook.remove()
    # The prefix over the prompt: its last position only; then each answer's tokens (and the prompt's last).
    assert positions == [1, 1 + max(len(a) for a in answers)]
    assert len(prompt_ids) > 100


@pytest.mark.slow
def test_the_gpu_benchmarks_p_sweep_trains_with_the_trainers_update_on_cpu() -> None:
    # benchmarks/problems_per_step.py (gpu_step.py's P sweep) short of its CUDA timing: its problems, its
    # groups from a real rollout and its update settings go through engine/update.py's policy_update.
    import importlib.util

    from arc_console.decoding.rollout_engine import RolloutEngine
    from arc_console.distributed.ranks import single_process
    from arc_console.engine.backends import load_policy
    from arc_console.engine.phase_timer import PhaseTimer

    path = REPO / "benchmarks" / "problems_per_step.py"
    spec = importlib.util.spec_from_file_location("problems_per_step", path)
    sweep = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sweep)
    policy = load_policy("tiny", "hf", lora_r=4, lora_alpha=8, max_seq_length=2048)
    problems = sweep.sweep_problems(policy.tokenizer, 2048, 8)
    assert [p.task.id for p in problems] == sweep.TASK_IDS
    temps = [0.7, 1.0, 1.3]
    rollout = RolloutEngine(policy).generate([p.prompt for p in problems[:2]], temps, 8)
    groups = sweep.scored_groups(problems[:2], rollout, len(temps), seed=2)
    assert all(len(set(g.rewards)) == len(temps) for g in groups)
    config = sweep.update_config(len(temps), 8, 2048, 256, micro_groups=1)
    optimizer = torch.optim.AdamW(policy.trainable_parameters().values(), lr=1e-3)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda updates: 1.0)
    before = {k: v.detach().clone() for k, v in policy.trainable_parameters().items()}
    stats = policy_update(policy, optimizer, scheduler, config, groups, single_process(), PhaseTimer())
    assert stats["grad_norm"] > 0 and stats["ratio_mean"] == pytest.approx(1.0)
    assert any(not torch.equal(before[k], v) for k, v in policy.trainable_parameters().items())


def test_rows_are_cut_evenly_and_never_leave_a_pass_of_one_row() -> None:
    from arc_console.engine.micro_batches import row_slices

    def sizes(count: int, most: int) -> list[int]:
        cut = row_slices(count, most)
        assert cut[0].start == 0 and cut[-1].stop == count
        assert all(a.stop == b.start for a, b in zip(cut, cut[1:]))
        return [s.stop - s.start for s in cut]

    assert sizes(8, 3) == [3, 3, 2]
    assert sizes(8, 7) == [4, 4]
    assert sizes(9, 4) == [3, 3, 3]
    assert sizes(8, 0) == sizes(8, 8) == sizes(8, 20) == [8]
