"""After the first rollout nothing compiles again: the static engine with torch.compile'd ops (inductor's
CPU backend here, as on the GPU) decodes prompts of other lengths and fewer prompts in the same shapes,
padded, and what it samples is what an unpadded engine samples. The trainer reports the time to its
first step and the recompilations after it."""

import json

import pytest
import torch

from arc_console.arc import Pair, build_prompt, load_tasks
from arc_console.decoding.compilations import compilations
from arc_console.decoding.rollout_engine import choose_rollout_engine
from arc_console.decoding.static_rollout import StaticRolloutEngine
from arc_console.engine.backends import load_policy

K = 2
NEW_TOKENS = 12


@pytest.fixture(scope="module")
def policy():
    return load_policy("tiny", "hf", lora_r=4, lora_alpha=8, max_seq_length=2048)


@pytest.fixture(scope="module")
def prompts():
    """Real ARC prompts of four different lengths."""
    tasks = [t for t in load_tasks("arc1-training") if len(build_prompt(t.train[:1], t.test_input)) < 900][:4]
    built = [build_prompt(t.train[:1], t.test_input) for t in tasks]
    assert len({len(p) for p in built}) == 4
    return built


@pytest.mark.slow
def test_no_recompilation_after_the_first_rollout(policy, prompts) -> None:
    notices: list[str] = []
    engine = choose_rollout_engine(policy, "static", on_notice=notices.append, compiled_ops=True,
                                   grouped_experts=True, rows=2 * K, cache_tokens=1024)
    first = engine.generate(prompts[:2], [0.7, 1.3], NEW_TOKENS, sample_keys=[1, 2])
    assert not notices and "compiled ops" in engine.describe()
    after_first = compilations()
    assert after_first > 0  # the decode step's ops were compiled, here
    later = [engine.generate(prompts[2:3], [0.7, 1.3], NEW_TOKENS, sample_keys=[3]),  # a refill: one prompt
             engine.generate(prompts[1:4:2], [0.7, 1.3], NEW_TOKENS, sample_keys=[4, 5]),  # other lengths
             engine.generate(prompts[3:], [1.0, 1.0], NEW_TOKENS, top_p=1.0, sample_keys=[6])]
    assert compilations() == after_first, "a later rollout recompiled the decode step"
    assert not notices
    assert len(first.samples) == 4 and [len(r.samples) for r in later] == [2, 4, 2]

    # What the padded, compiled step sampled is what an engine sized for exactly this batch samples.
    exact = StaticRolloutEngine(policy, compiled_ops=False, grouped_experts=True)
    alone = exact.generate(prompts[2:3], [0.7, 1.3], NEW_TOKENS, sample_keys=[3])
    assert exact._decode_state.decoder.batch == K  # no padding there
    assert [s.completion_ids for s in alone.samples] == [s.completion_ids for s in later[0].samples]
    for mine, theirs in zip(later[0].samples, alone.samples):
        assert max(abs(a - b) for a, b in zip(mine.logprobs, theirs.logprobs)) < 1e-4


def test_an_unreserved_engine_pads_smaller_batches_and_says_when_it_outgrows(policy) -> None:
    notices: list[str] = []
    engine = StaticRolloutEngine(policy, on_notice=notices.append)
    short = build_prompt([Pair([[1]], [[2]])], [[3]])
    longer = build_prompt([Pair([[1, 2, 3]] * 4, [[3, 2, 1]] * 4)] * 3, [[4, 5, 6]] * 4)
    engine.generate([short, short], [1.0, 1.0], 8)
    state = engine._decode_state
    engine.generate([short], [1.0, 1.0], 8)  # fewer rows: padded into the same state
    assert engine._decode_state is state and not notices
    engine.generate([longer, short, short], [1.0, 1.0], 300)  # more rows and a longer cache: rebuilt, said
    assert engine._decode_state is not state and len(notices) == 1 and "outgrew" in notices[0]


def test_the_trainer_records_the_first_step_time_and_recompilations(tmp_path) -> None:
    from arc_console.config import build_config
    from arc_console.engine.trainer import Trainer

    config = build_config("tiny", None, {"max_steps": 3, "max_new_tokens": 16, "problems": [], "num_candidates": 2,
                                         "tasks": "synthetic-heldout", "checkpoint_every": 100})
    run_dir = tmp_path / "run"
    trainer = Trainer(config, run_dir, lambda event: None)
    trainer.setup()
    assert trainer.engine.kind == "static"
    assert trainer.engine.static.rows == config.problems_per_step * 2
    assert trainer.run().reason == "max_steps"
    rows = [json.loads(line) for line in (run_dir / "logs" / "metrics.jsonl").read_text().splitlines()]
    assert rows[0]["first_step_s"] > 0 and "recompiles_after_step1" not in rows[0]
    assert [row["recompiles_after_step1"] for row in rows[1:]] == [0, 0]
    log = (run_dir / "logs" / "training.log").read_text()
    assert f"first step done {rows[0]['first_step_s']:.1f}s after the trainer started" in log
    assert "recompilation" not in log


def test_a_rollout_bigger_than_the_reserved_rows_runs_in_parts_when_asked(policy, prompts) -> None:
    # Held-out evaluation on the trainer's engine (views x samples rows > P x K): in parts that fit the
    # trainer's decode step, which keeps its shape; the candidates are what separate rollouts sample.
    notices: list[str] = []
    engine = choose_rollout_engine(policy, "static", on_notice=notices.append, grouped_experts=True,
                                   rows=2 * K, cache_tokens=1024)
    keys = [7, 8, 9]
    whole = engine.generate(prompts[:3], [0.7, 1.3], NEW_TOKENS, sample_keys=keys, fit_reserved=True)
    assert not notices and engine.static._decode_state.decoder.batch == 2 * K
    assert [s.group for s in whole.samples] == [0, 0, 1, 1, 2, 2] and len(whole.prompt_ids) == 3
    separately = [engine.generate([p], [0.7, 1.3], NEW_TOKENS, sample_keys=[k]) for p, k in zip(prompts[:3], keys)]
    assert [s.completion_ids for s in whole.samples] == [s.completion_ids for r in separately for s in r.samples]
    # Without being asked, the engine grows instead (and says so).
    engine.generate(prompts[:3], [0.7, 1.3], NEW_TOKENS, sample_keys=keys)
    assert engine.static._decode_state.decoder.batch == 3 * K and notices


def _lengths_compiled(under_symbolic_lengths: bool) -> int:
    """Frames compiled when a dynamic=None compiled function (as Unsloth compiles its GPT-OSS modules)
    meets three sequence lengths, as the update meets a new one each step."""
    from arc_console.engine.warm_up import symbolic_lengths

    torch._dynamo.reset()

    def norm(hidden: torch.Tensor) -> torch.Tensor:
        return hidden * torch.rsqrt(hidden.pow(2).mean(-1, keepdim=True) + 1e-6)

    compiled = torch.compile(norm, backend="eager", dynamic=None)
    before = compilations()
    for length in (37, 53, 61):
        hidden = torch.randn(2, length, 16)
        if under_symbolic_lengths:
            with symbolic_lengths():
                out = compiled(hidden)
        else:
            out = compiled(hidden)
        assert torch.allclose(out, norm(hidden))
    return compilations() - before


def test_the_update_compiles_once_for_every_sequence_length() -> None:
    # Outside the update's context the second length recompiles (automatic dynamic shapes); inside it,
    # the first compilation already serves every length.
    assert _lengths_compiled(under_symbolic_lengths=False) == 2
    assert _lengths_compiled(under_symbolic_lengths=True) == 1


def test_a_trainer_whose_model_is_compiled_as_unsloth_compiles_it_recompiles_nothing_after_step_1(tmp_path) -> None:
    from helpers import make_trainer

    # Problems whose prompts differ in length: each step's update meets a new sequence length.
    problems = ["syn-heldout-rotate90-00000", "syn-heldout-mirror_extend-00000", "syn-heldout-border-00000"]
    trainer, _ = make_trainer(tmp_path / "run", problems=problems, problems_per_step=1, max_steps=3, max_extra_draws=0,
                              rollout_engine="static", objective="grpo")
    torch._dynamo.reset()
    norm = trainer.policy.base_causal_lm().model.norm
    norm.forward = torch.compile(norm.forward, backend="eager", dynamic=None)  # as Unsloth compiles its modules
    trainer.run()
    steps = [json.loads(line) for line in (tmp_path / "run/logs/metrics.jsonl").read_text().splitlines()]
    assert len(steps) == 3 and steps[0]["compilations"] >= 1
    assert [s["recompiles_after_step1"] for s in steps[1:]] == [0, 0]
    # The start line says what the engine will hold once its decode state exists, not only what it holds now.
    log = (tmp_path / "run/logs/training.log").read_text()
    assert "and then a KV cache for 4 rows x" in log, log
