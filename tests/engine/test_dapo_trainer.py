"""The real trainer on the tiny GPT-OSS: refill draws, per-step metrics, timed checkpoints, a failing step."""

import json
from pathlib import Path

from arc_console.engine.trainer import Trainer

from faults import failing_update
from helpers import make_trainer


def test_steps_refill_and_log_what_the_update_did(tmp_path: Path) -> None:
    run = tmp_path / "run"
    trainer, _ = make_trainer(run, max_steps=3, max_extra_draws=2, mask_truncated=True, checkpoint_every=100,
                              checkpoint_minutes=1e-9, updates_per_rollout=2)
    trainer.run()
    metrics = [json.loads(line) for line in (run / "logs/metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics] == [1, 2, 3]
    for m in metrics:
        # A step trains unless every draw (the first and all refills) was degenerate.
        assert (m["loss"] is None) == (m["groups_kept"] == 0)
        if m["groups_kept"] == 0:
            assert m["groups_drawn"] == 3
        else:
            assert m["groups_drawn"] == m["groups_kept"] + m["skipped_groups"] and m["groups_kept"] == 1
            assert m["approx_kl"] is not None and m["clip_low_fraction"] is not None
        for key in ("time_rollout_s", "time_scoring_s", "time_old_logprobs_s", "time_update_s", "time_writing_s"):
            assert m[key] >= 0, key
        assert 0 <= m["frac_reward_zero_std"] <= 1 and m["completion_length_mean"] > 0
    trained = [m for m in metrics if m["loss"] is not None]
    assert trained and all(m["time_update_s"] > 0 and m["time_old_logprobs_s"] > 0 for m in trained)
    record = json.loads((run / "logs/responses/step_001.json").read_text())
    assert record["groups_drawn"] == metrics[0]["groups_drawn"]
    assert len(record.get("extra_groups", [])) == record["groups_drawn"] - 1
    # --checkpoint-minutes: a checkpoint after every step although --checkpoint-every is 100.
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step_1", "step_2", "step_3"]
    assert "checkpoint saved (timed)" in (run / "logs/training.log").read_text()


def test_an_exception_inside_a_step_leaves_a_checkpoint_and_the_model(tmp_path: Path, monkeypatch) -> None:
    run = tmp_path / "run"
    monkeypatch.setattr(Trainer, "_update", failing_update(Trainer._update, 3))
    trainer, _ = make_trainer(run, max_steps=5, checkpoint_every=100, max_extra_draws=0)
    stopped = trainer.run()
    assert stopped.reason == "error" and stopped.step == 2
    assert "step 3 failed: InjectedFailure" in stopped.error
    assert (run / "checkpoints/step_2/trainer_state.json").is_file()
    assert (run / "final_model/config.json").is_file()
    log = (run / "logs/training.log").read_text()
    assert "step 3 failed: InjectedFailure" in log and "Traceback" in log
    assert not (run / "logs/responses/step_003.json").exists()
