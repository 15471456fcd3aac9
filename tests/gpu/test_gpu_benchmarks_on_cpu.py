"""The GPU call's benchmarks run end to end on a CPU, in their smoke modes (the real scripts in fresh processes,
tiny model, few tokens): the peer (TRL's GRPOTrainer, DAPO, every completion forced to full length), our first
step cold and warm with both routes, the pre-quantized layout against 16-bit, and the record that merges them;
then the runner's refusals. Their speed here means nothing; that each writes what the record needs does."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from paths import REPO

# The first test builds the module's fixture: the runner's three stages, minutes on a busy 2-core machine.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]
BENCHMARKS = REPO / "benchmarks"


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The runner's three stages and its record, on the CPU (GPU_RUN_SMOKE=1), as the GPU call runs them."""
    pytest.importorskip("trl")
    out = tmp_path_factory.mktemp("gpu-run")
    (out / "tmp").mkdir()
    env = dict(os.environ, OUT=str(out), GPU_RUN_SMOKE="1", PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}",
               ARC_CONSOLE_CACHE=str(out / "cache"), TMPDIR=str(out / "tmp"))  # the benchmarks' caches stay in here
    finished = subprocess.run(["bash", str(BENCHMARKS / "gpu_run.sh"), "peer", "ours", "prequantized", "record"], cwd=REPO,
                              env=env, capture_output=True, text=True, timeout=2400)
    assert finished.returncode == 0, finished.stdout[-4000:] + finished.stderr[-2000:]
    log = (out / "gpu_run.log").read_text()
    assert "FAILED" not in log and "=== done after" in log, log[-4000:]
    for line in ("peer: GRPOTrainer warm step", "first step: cold", "prequantized: load", "record cpu:"):
        assert line in log, line
    paths = {name: out / f"{name}.json" for name in ("peer", "ours", "prequantized")}
    (paths["record"],) = out.glob("gpu_step_*_cpu.json")
    return paths


def test_the_peer_runs_trls_grpo_trainer_with_dapo_at_full_length(outputs) -> None:
    peer = json.loads(outputs["peer"].read_text())
    assert "error" not in peer and peer["trainer"] == "GRPOTrainer"
    settings = peer["settings"]
    assert settings["loss_type"] == "dapo" and settings["beta"] == 0.0 and settings["num_generations"] == 8
    assert settings["generation_kwargs"] == {"min_new_tokens": 4} and settings["mask_truncated_completions"] is False
    assert peer["completion_tokens"]["min"] == peer["completion_tokens"]["max"] == 4  # forced to the limit
    assert len(peer["steps_s"]) == 2 and peer["step_s"] == peer["steps_s"][1] and peer["prompt_tokens"] > 100


def test_our_first_step_is_measured_cold_then_warm_with_both_routes(outputs) -> None:
    ours = json.loads(outputs["ours"].read_text())
    cold, warm = ours["cold"], ours["warm"]
    assert cold["cache_state"] == "cold" and warm["cache_state"] == "warm"
    assert cold["cache_counters"]["fxgraph_cache_miss"] > 0 and cold["cache_counters"]["fxgraph_cache_hit"] == 0
    assert warm["cache_counters"]["fxgraph_cache_hit"] > 0 and warm["cache_counters"]["fxgraph_cache_miss"] == 0
    assert "compiled ops" in cold["engine"] and cold["compilations_at_first_step"] > 0
    for key in ("cold", "warm_cache"):
        assert ours["time_to_first_step_s"][key] > ours["first_step_s"][key] > 0
    for route in ("default_route", "small_route"):
        assert set(ours[route]) == {"tok_s", "step_s", "peak_step_gb", "first_step_s"} and ours[route]["tok_s"] > 0
    assert "grouped MoE" in cold["small_route"]["engine"]  # the 4-bit route's settings (a CPU has no graphs)


def test_the_prequantized_layout_loads_beside_16_bit_and_decodes_alike(outputs) -> None:
    result = json.loads(outputs["prequantized"].read_text())
    before, after = result["bf16_then_quantize"], result["prequantized"]
    assert before["layout"] == "fused" and after["layout"] == "split"
    assert after["experts_module"] == "SplitExperts (one Linear per expert)"
    assert result["checkpoint_gb"]["prequantized"] < result["checkpoint_gb"]["bf16"]
    for side in (before, after):
        assert side["load_s"] > 0 and side["update"]["warm_s"] > 0
        for route in ("packed", "fp8"):
            assert side["routes"][route]["tokens"] > 0
        assert side["routes"]["packed"]["max_abs_logprob_diff"] < 1e-3
    assert "packed 4-bit experts" in after["routes"]["packed"]["engine"]


def test_the_record_has_every_figure_the_issue_asks_for(outputs) -> None:
    record = json.loads(outputs["record"].read_text())
    assert record["gpu"] == "cpu" and record["missing"] == []
    assert set(record["peer"]) >= {"step_s", "peak_gb"} and record["peer"]["step_s"] > 0
    for route in ("small_route", "default_route"):
        assert set(record[route]) >= {"tok_s", "step_s", "peak_step_gb"}
        ratio = record["ratios"][f"{route}_step_speedup_over_peer"]
        assert ratio == pytest.approx(record["peer"]["step_s"] / record[route]["step_s"])
    assert set(record["time_to_first_step_s"]) == {"cold", "warm_cache"}
    assert record["prequantized"]["prequantized"]["load_s"] > 0
    assert record["sources"]["peer"]["settings"]["loss_type"] == "dapo"


def test_a_missing_stage_is_named_in_the_record(outputs, tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, str(BENCHMARKS / "gpu_record.py"), "--ours", str(outputs["ours"]),
                          "--out-dir", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and "MISSING: peer (no JSON)" in out.stdout
    (path,) = tmp_path.glob("gpu_step_*.json")
    assert "peer" not in json.loads(path.read_text()) and "ratios" not in json.loads(path.read_text())


@pytest.mark.parametrize("stages, line", [([], "usage: bash benchmarks/gpu_run.sh STAGE..."),
                                          (["bogus"], "gpu_run.sh: error: unknown stage 'bogus'"),
                                          (["versus_peer"], "gpu_run.sh: error: no .whl/ here")])
def test_the_runner_refuses_in_one_line(tmp_path: Path, stages: list[str], line: str) -> None:
    out = subprocess.run(["bash", str(BENCHMARKS / "gpu_run.sh"), *stages], capture_output=True, text=True,
                         cwd=tmp_path, env={"PATH": "/usr/bin:/bin", "OUT": str(tmp_path / "out")}, timeout=60)
    assert out.returncode == 2 and line in out.stdout + out.stderr
