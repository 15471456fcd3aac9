"""--report-to: a real headless run's metrics read back with each tracker's own files and readers."""

import importlib.util
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from arc_console.config import build_config
from arc_console.engine import events as ev
from arc_console.engine.objectives import dapo_loss
from arc_console.engine.trainer import Trainer
from arc_console.reporting.listener import ReportingSink
from arc_console.reporting.scalars import completion_scalars
from arc_console.reporting.targets import build_reporters

CLI = [sys.executable, "-m", "arc_console"]
FAST = ["--max-new-tokens", "12", "--overlong-buffer", "4", "--num-candidates", "4"]
TRL_NAMES = {"reward", "reward_std", "frac_reward_zero_std", "completions/mean_length", "completions/clipped_ratio",
             "clip_ratio/low_mean", "clip_ratio/high_mean", "entropy", "step_time"}
OPTIONAL = [name for name in ("wandb", "trackio") if importlib.util.find_spec(name) is not None]


@pytest.fixture(scope="module")
def reported_run(tmp_path_factory: pytest.TempPathFactory, warm_cli) -> tuple[Path, Path]:
    """Two steps of the tiny preset reporting to TensorBoard and every other installed tracker, offline: a fresh
    process from the warm launcher (tests/support/warm_cli.py; the trackers import in it, after the fork)."""
    root = tmp_path_factory.mktemp("reported")
    run, trackio_dir = root / "run", root / "trackio"
    env = {"WANDB_MODE": "offline", "WANDB_SILENT": "true", "TRACKIO_DIR": str(trackio_dir)}
    targets = ",".join(["tensorboard", *OPTIONAL])
    out = warm_cli.run(["train", "--headless", "--preset", "tiny", "--max-steps", "2", "--out", str(run), *FAST,
                        "--report-to", targets], timeout=300, env=env)
    assert out.returncode == 0, out.stderr
    assert "report-to" not in out.stdout, out.stdout  # no tracker failed
    return run, trackio_dir


def _metrics(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "logs/metrics.jsonl").read_text().splitlines()]


def _best_text(run: Path, step: int) -> str:
    record = json.loads((run / f"logs/responses/step_{step:03d}.json").read_text())
    best = next(c for c in record["candidates"] if c["candidate_id"] == record["best_candidate_id"])
    return best["response_text"]


@pytest.mark.slow
def test_tensorboard_event_files_hold_every_step(reported_run: tuple[Path, Path]) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.util import tensor_util

    run, _ = reported_run
    events = EventAccumulator(str(run / "tensorboard"))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert TRL_NAMES <= tags, TRL_NAMES - tags
    assert {"arc/best_accuracy", "arc/mean_accuracy", "arc/perfect", "perf/tokens_per_s"} <= tags
    metrics = _metrics(run)
    assert [e.step for e in events.Scalars("reward")] == [1, 2]
    for event, row in zip(events.Scalars("reward"), metrics):
        assert event.value == pytest.approx(row["reward_mean"], abs=1e-6)
    for event, row in zip(events.Scalars("arc/best_accuracy"), metrics):
        assert event.value == pytest.approx(row["best_accuracy"], abs=1e-6)
    texts = events.Tensors("best_candidate/text_summary")
    assert [t.step for t in texts] == [1, 2]
    shown = tensor_util.make_ndarray(texts[1].tensor_proto).item().decode()
    # Indented as a Markdown code block, so the model's text is shown verbatim, never rendered.
    assert shown.splitlines()[1:] == ["    " + line for line in _best_text(run, 2).splitlines()]


@pytest.mark.skipif("wandb" not in OPTIONAL, reason="wandb not installed")
def test_wandb_offline_run_holds_every_step(reported_run: tuple[Path, Path]) -> None:
    from wandb_log import history

    run, _ = reported_run
    files = list((run / "wandb").glob("offline-run-*/run-*.wandb"))
    assert len(files) == 1
    logged = [row for row in history(files[0]) if "reward" in row]
    assert [int(row["_step"]) for row in logged] == [1, 2]
    for row, metrics in zip(logged, _metrics(run)):
        assert float(row["reward"]) == pytest.approx(metrics["reward_mean"], abs=1e-6)
        assert TRL_NAMES - {"entropy", "clip_ratio/low_mean", "clip_ratio/high_mean"} <= set(row)
    tables = sorted((files[0].parent / "files/media/table").glob("best_candidate_*.table.json"))
    assert len(tables) == 2
    [[step, text]] = json.loads(tables[1].read_text())["data"]
    assert step == 2 and text.startswith("step 2 problem ") and text.split("\n", 1)[1] == _best_text(run, 2)


@pytest.mark.skipif("trackio" not in OPTIONAL, reason="trackio not installed")
def test_trackio_local_database_holds_every_step(reported_run: tuple[Path, Path]) -> None:
    run, trackio_dir = reported_run
    with sqlite3.connect(trackio_dir / "arc-console.db") as db:
        rows = db.execute("SELECT step, metrics FROM metrics WHERE run_name = ? ORDER BY step", (run.name,)).fetchall()
    scalars = [(step, json.loads(blob)) for step, blob in rows if "reward" in json.loads(blob)]
    assert [step for step, _ in scalars] == [1, 2]
    for (_, logged), metrics in zip(scalars, _metrics(run)):
        assert logged["reward"] == pytest.approx(metrics["reward_mean"], abs=1e-6)
        assert logged["completions/mean_length"] > 0


def test_a_missing_tracker_package_is_one_line_and_creates_nothing(tmp_path: Path) -> None:
    run = tmp_path / "run"
    hide = ("import sys; sys.modules['wandb'] = None; from arc_console.cli import main; "
            f"raise SystemExit(main(['train', '--headless', '--preset', 'tiny', '--out', {str(run)!r}, "
            "'--report-to', 'tensorboard,wandb']))")
    out = subprocess.run([sys.executable, "-c", hide], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert out.stderr.startswith("arc-console: error: --report-to wandb needs the wandb package")
    assert "pip install 'arc-console[wandb]'" in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert not run.exists()
    out = subprocess.run([*CLI, "train", "--headless", "--preset", "tiny", "--out", str(run), "--report-to", "mlflow"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "unknown target 'mlflow'" in out.stderr and not run.exists()


def test_a_failing_tracker_is_switched_off_and_training_goes_on(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "tensorboard").write_text("a file where TensorBoard wants its folder")
    config = build_config("tiny", None, {"model": "tiny-random", "max_new_tokens": 8, "overlong_buffer": 2,
                                         "num_candidates": 3, "max_steps": 1, "report_to": ["tensorboard"]})
    seen: list[ev.Event] = []
    trainer = Trainer(config, run, ReportingSink(seen.append, build_reporters(config.report_to), run,
                                                 config.to_dict()))
    trainer.setup()
    stopped = trainer.run()
    assert stopped.reason == "max_steps" and stopped.step == 1
    warnings = [e.text for e in seen if isinstance(e, ev.LogLine) and e.level == "warning"]
    assert any(w.startswith("report-to tensorboard: start failed") for w in warnings), warnings


def test_completion_statistics_follow_trl() -> None:
    record = {"candidates": [{"tokens": 10, "truncated": False, "reward": 1.0},
                             {"tokens": 20, "truncated": True, "reward": 0.0}],
              "extra_groups": [{"candidates": [{"tokens": 30, "truncated": True, "reward": 0.5},
                                               {"tokens": 40, "truncated": False, "reward": 0.5}]}]}
    stats = completion_scalars(record)
    assert stats["completions/mean_length"] == 25 and stats["completions/clipped_ratio"] == 0.5
    # Per-group sample std (0.7071 and 0), averaged; one of two groups has equal rewards.
    assert stats["reward_std"] == pytest.approx(2 ** 0.5 / 2 / 2) and stats["frac_reward_zero_std"] == 0.5


def test_clip_fraction_splits_into_its_low_and_high_sides() -> None:
    old = torch.zeros(2, 4)
    # Row 0 (A > 0): ratios 2.0 and 1.1 -> one token above 1 + eps_high. Row 1 (A < 0): ratio 0.5 twice -> two below.
    logp = torch.log(torch.tensor([[2.0, 1.1, 1.0, 1.0], [0.5, 0.5, 1.0, 1.0]]))
    mask = torch.ones(2, 4)
    _, stats = dapo_loss(logp, old, torch.tensor([1.0, -1.0]), mask, eps_low=0.2, eps_high=0.28)
    assert stats.clip_high_fraction == pytest.approx(1 / 8) and stats.clip_low_fraction == pytest.approx(2 / 8)
    assert stats.clip_fraction == pytest.approx(3 / 8)


def test_the_dashboard_path_reports_too(tmp_path: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from arc_console.cli.session import train_with_dashboard
    from headless_console import headless_consoles

    run = tmp_path / "run"
    config = build_config("tiny", None, {"model": "tiny-random", "max_new_tokens": 8, "overlong_buffer": 2,
                                         "num_candidates": 3, "max_steps": 2, "report_to": ["tensorboard"]})
    with headless_consoles():
        assert train_with_dashboard(config, run, None, None) == 0
    events = EventAccumulator(str(run / "tensorboard"))
    events.Reload()
    assert [e.step for e in events.Scalars("arc/mean_accuracy")] == [1, 2]
