"""The real trainer on the real tiny GPT-OSS: run directory, exact resume, learning, control."""

import json
import threading
from pathlib import Path

import pytest

import arc_console.engine.objectives as objectives_module  # the dapo entry computes its loss there
from arc_console.config import DEMO_PROBLEMS
from arc_console.engine import events as ev
from arc_console.engine.checkpoint import latest_checkpoint
from arc_console.engine.control import RunControl

from helpers import make_trainer, without_timing

SEED_STEP_KEYS = {"step", "problem_id", "prompt", "target_grid", "candidates", "best_candidate_id", "best_accuracy",
                  "timestamp"}
SEED_CANDIDATE_KEYS = {"candidate_id", "response_text", "predicted_grid", "accuracy", "has_grid", "correct_size",
                       "perfect_match"}


def test_run_directory_is_complete(tmp_path: Path) -> None:
    # No refill draws: one problem per step, so step 2 is the second problem.
    trainer, events = make_trainer(tmp_path / "run", max_steps=3, checkpoint_every=2, max_extra_draws=0)
    stopped = trainer.run()
    run = tmp_path / "run"
    assert stopped.reason == "max_steps" and stopped.step == 3
    assert sorted(p.name for p in (run / "logs/responses").iterdir()) == ["step_001.json", "step_002.json", "step_003.json"]
    record = json.loads((run / "logs/responses/step_002.json").read_text())
    assert SEED_STEP_KEYS <= set(record) and record["problem_id"] == DEMO_PROBLEMS[1]
    assert len(record["candidates"]) == 4
    for candidate in record["candidates"]:
        assert SEED_CANDIDATE_KEYS | {"temperature", "reward", "tokens", "truncated"} <= set(candidate)
    metrics = [json.loads(line) for line in (run / "logs/metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics] == [1, 2, 3]
    for key in ("best_accuracy", "mean_accuracy", "worst_accuracy", "reward_mean", "reward_std", "loss", "grad_norm",
                "clip_fraction", "entropy", "tokens_generated", "tokens_per_s", "step_time_s", "skipped_groups"):
        assert key in metrics[0], key
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step_2", "step_3"]
    for name in ("trainable.safetensors", "optimizer.pt", "rng.pt", "trainer_state.json"):
        assert (run / "checkpoints/step_3" / name).is_file()
    assert (run / "final_model/config.json").is_file() and (run / "final_model/tokenizer.json").is_file()
    log = (run / "logs/training.log").read_text()
    assert f"step 3 problem {DEMO_PROBLEMS[2]}" in log and "stopped (max steps)" in log
    kinds = [type(e).__name__ for e in events]
    for kind in ("RunStarted", "StepStarted", "PhaseChanged", "CandidateScored", "StepFinished", "CheckpointSaved",
                 "LogLine", "Stopped"):
        assert kind in kinds, kind
    assert sum(isinstance(e, ev.CandidateScored) for e in events) == 12


def test_lora_run_saves_the_adapter(tmp_path: Path) -> None:
    trainer, _ = make_trainer(tmp_path / "run", max_steps=1, lora_r=4, lora_alpha=8, learning_rate=1e-3)
    trainer.run()
    assert (tmp_path / "run/checkpoints/step_1/adapter/adapter_config.json").is_file()
    assert (tmp_path / "run/final_model/adapter_model.safetensors").is_file()


def test_resume_is_exact(tmp_path: Path) -> None:
    straight, _ = make_trainer(tmp_path / "straight", max_steps=4)
    straight.run()
    first, _ = make_trainer(tmp_path / "split", max_steps=2)
    first.run()
    resumed, _ = make_trainer(tmp_path / "split", resume=tmp_path / "split", max_steps=4)
    assert resumed.step == 2
    resumed.run()
    for step in (3, 4):
        a = json.loads((tmp_path / f"straight/logs/responses/step_00{step}.json").read_text())
        b = json.loads((tmp_path / f"split/logs/responses/step_00{step}.json").read_text())
        assert without_timing(a) == without_timing(b)
    lines = (tmp_path / "split/logs/metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == [1, 2, 3, 4]
    a = [json.loads(line) for line in (tmp_path / "straight/logs/metrics.jsonl").read_text().splitlines()]
    b = [json.loads(line) for line in lines]
    assert [m["loss"] for m in a] == [m["loss"] for m in b]
    assert any(m["loss"] is not None for m in a[2:])


def test_resume_rewinds_files_written_after_the_checkpoint(tmp_path: Path) -> None:
    run = tmp_path / "run"
    trainer, _ = make_trainer(run, max_steps=3, checkpoint_every=1)
    trainer.run()
    # Pretend the process died after step 3's files but before its checkpoint.
    import shutil
    shutil.rmtree(run / "checkpoints/step_3")
    resumed, _ = make_trainer(run, resume=run, max_steps=3)
    assert resumed.step == 2
    assert not (run / "logs/responses/step_003.json").exists()
    assert [json.loads(x)["step"] for x in (run / "logs/metrics.jsonl").read_text().splitlines()] == [1, 2]
    resumed.run()
    assert (run / "logs/responses/step_003.json").exists()


def _mean_reward_rise(tmp_path: Path, toy_task_file: Path) -> tuple[float, float]:
    trainer, _ = make_trainer(tmp_path / "learn", tasks=str(toy_task_file), problems=[], max_steps=40,
                              max_new_tokens=1, overlong_buffer=0, num_candidates=16, early_stop_perfect=0, seed=1,
                              learning_rate=2e-3)
    trainer.run()
    rewards = [m["reward_mean"] for m in trainer.history]
    return sum(rewards[:10]) / 10, sum(rewards[-10:]) / 10


@pytest.mark.slow
def test_dapo_learns_the_toy_problem(tmp_path: Path, toy_task_file: Path) -> None:
    before, after = _mean_reward_rise(tmp_path, toy_task_file)
    assert after > before + 0.3, (before, after)


@pytest.mark.slow
def test_the_learning_test_fails_when_the_loss_sign_is_flipped(tmp_path, toy_task_file, monkeypatch) -> None:
    real = objectives_module.dapo_loss

    def flipped(*args, **kwargs):
        loss, stats = real(*args, **kwargs)
        return -loss, stats

    monkeypatch.setattr(objectives_module, "dapo_loss", flipped)
    before, after = _mean_reward_rise(tmp_path, toy_task_file)
    assert not after > before + 0.3, (before, after)


def test_early_stop_after_perfect_solutions_on_different_problems(early_stopped_toy_run) -> None:
    run, stopped = early_stopped_toy_run  # 3 toy tasks, up to 200 steps, early_stop_perfect 2 (trained_runs.py)
    assert stopped.reason == "early_stop" and stopped.step < 200
    assert len(set(stopped.perfect_problems)) == 2
    assert (run / f"checkpoints/step_{stopped.step}/trainer_state.json").exists()


@pytest.mark.parametrize("objective", ["grpo", "preference"])
def test_other_objectives_train(tmp_path: Path, objective: str) -> None:
    trainer, _ = make_trainer(tmp_path / "run", max_steps=2, objective=objective)
    stopped = trainer.run()
    assert stopped.step == 2
    assert json.loads((tmp_path / "run/logs/responses/step_002.json").read_text())["objective"] == objective


@pytest.mark.slow
def test_several_updates_per_rollout_make_clipping_live(tmp_path: Path, toy_task_file: Path) -> None:
    trainer, _ = make_trainer(tmp_path / "run", tasks=str(toy_task_file), problems=[], max_steps=6, max_new_tokens=1,
                              overlong_buffer=0, num_candidates=16, updates_per_rollout=4, learning_rate=5e-3, seed=1)
    trainer.run()
    assert any((m["clip_fraction"] or 0) > 0 for m in trainer.history)


def test_dynamic_sampling_skips_equal_groups_and_refills(tmp_path: Path) -> None:
    # At one near-zero temperature every candidate is the argmax answer: equal rewards, nothing to learn.
    same = dict(max_new_tokens=2, overlong_buffer=0, temperature_min=1e-4, temperature_max=1e-4)
    trainer, _ = make_trainer(tmp_path / "one", max_steps=2, max_extra_draws=3, **same)
    trainer.run()
    # Every draw degenerate: the step refilled up to --max-extra-draws, then trained on nothing.
    assert all(m["loss"] is None and m["groups_drawn"] == 4 and m["groups_kept"] == 0 and m["skipped_groups"] == 4
               for m in trainer.history)
    record = json.loads((tmp_path / "one/logs/responses/step_001.json").read_text())
    assert record["skipped"] and len(record["extra_groups"]) == 3
    assert all(not g["kept"] and g["dropped"] == "degenerate" for g in record["extra_groups"])
    record = json.loads((tmp_path / "one/logs/responses/step_001.json").read_text())
    assert record["skipped"] is True
    trainer, _ = make_trainer(tmp_path / "many", max_steps=1, problems_per_step=2, max_extra_draws=3, **same)
    trainer.run()
    (metrics,) = trainer.history
    assert metrics["groups"] == 5 and metrics["skipped_groups"] == 5  # 2 drawn, 3 extra, none informative
    record = json.loads((tmp_path / "many/logs/responses/step_001.json").read_text())
    assert len(record["extra_groups"]) == 4


def test_pause_save_and_stop_from_another_thread(tmp_path: Path) -> None:
    control = RunControl()
    trainer, events = make_trainer(tmp_path / "run", control=control, max_steps=1000)
    seen_paused = threading.Event()

    def steer(event):
        events.append(event)
        if isinstance(event, ev.StepFinished) and event.step == 2:
            control.pause()
        elif isinstance(event, ev.Paused):
            seen_paused.set()
            control.request_save()
        elif isinstance(event, ev.CheckpointSaved) and event.reason == "requested":
            control.request_stop()

    trainer.emit = steer
    stopped = trainer.run()
    assert seen_paused.is_set()
    assert stopped.reason == "stop_requested" and stopped.step == 2
    assert latest_checkpoint(tmp_path / "run/checkpoints").name == "step_2"
    assert (tmp_path / "run/final_model/config.json").exists()


def test_stop_during_generation_discards_the_step(tmp_path: Path) -> None:
    control = RunControl()
    trainer, events = make_trainer(tmp_path / "run", control=control, max_steps=5, max_new_tokens=200,
                                   overlong_buffer=10, max_extra_draws=0)

    def steer(event):
        if isinstance(event, ev.RolloutProgress) and event.step == 2:
            control.request_stop()

    original = trainer.emit
    trainer.emit = lambda e: (original(e), steer(e))
    stopped = trainer.run()
    assert stopped.step == 1 and stopped.reason == "stop_requested"
    assert not (tmp_path / "run/logs/responses/step_002.json").exists()
    resumed, _ = make_trainer(tmp_path / "run", resume=tmp_path / "run", max_steps=2, max_new_tokens=200,
                              overlong_buffer=10, max_extra_draws=0)
    resumed.run()
    record = json.loads((tmp_path / "run/logs/responses/step_002.json").read_text())
    assert record["problem_id"] == DEMO_PROBLEMS[1]  # the discarded step's problem comes back
