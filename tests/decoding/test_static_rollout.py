"""The static rollout engine on the real tiny GPT-OSS: its forward pass equals transformers' (prompts of
different lengths, past the sliding window, with a live LoRA adapter), greedy decoding picks the same
tokens as transformers' generate, its log-probs equal the trainer's, and sampling keeps the semantics."""

import pytest
import torch
from transformers import TopPLogitsWarper

from arc_console.arc import Pair, build_prompt
from arc_console.engine.backends import load_policy
from arc_console.engine.control import RunControl
from arc_console.decoding.decoder_weights import UnsupportedModel, extract_weights
from arc_console.decoding.device_sampling import sample_rows, top_p_mask
from arc_console.decoding.fp8_experts import FP8_MAX, quantize_experts
from arc_console.engine.logprobs import build_batch, completion_logprobs
from arc_console.decoding.rollout_engine import choose_rollout_engine
from arc_console.decoding.static_decoder import StaticDecoder
from arc_console.decoding.static_rollout import StaticRolloutEngine

PROMPT = build_prompt([Pair([[1, 2], [3, 4]], [[4, 3], [2, 1]])], [[5, 6], [7, 8]])
SHORT_PROMPT = build_prompt([Pair([[1]], [[2]])], [[3]])


@pytest.fixture(scope="module")
def lora_policy():
    policy = load_policy("tiny-random", "hf", lora_r=4, lora_alpha=8, max_seq_length=2048)
    torch.manual_seed(0)
    for name, parameter in policy.model.named_parameters():
        if "lora_B" in name:  # peft starts B at zero; a trained adapter is not
            parameter.data.normal_(0, 0.2)
    return policy


def reference_last_logits(policy, ids: list[int]) -> torch.Tensor:
    with torch.no_grad():
        return policy.model(input_ids=torch.tensor([ids])).logits[0, -1].float()


def test_decoder_matches_transformers_past_the_sliding_window(lora_policy) -> None:
    config = lora_policy.base_causal_lm().config
    assert "sliding_attention" in config.layer_types
    weights = extract_weights(lora_policy.base_causal_lm(), 1024)
    # The model's own tensors, except q, k and v joined for one GEMM (a copy: the LoRA-wrapped base is frozen)
    assert all(layer.qkv is not None for layer in weights.layers)
    joined = sum(layer.qkv.weight.nbytes + layer.qkv.bias.nbytes for layer in weights.layers)
    assert weights.copied_bytes == weights.cos.nbytes + weights.sin.nbytes + joined
    generator = torch.Generator().manual_seed(1)
    prompts = [torch.randint(10, config.vocab_size, (length,), generator=generator) for length in (200, 150)]
    width, k = 200, 2
    decoder = StaticDecoder(weights, batch=4, max_len=width + 2 * config.sliding_window)
    rows = [p.tolist() for p in prompts for _ in range(k)]
    with torch.no_grad():
        for group, prompt in enumerate(prompts):
            first = decoder.prefill(prompt, slice(group * k, (group + 1) * k), width)
            assert torch.allclose(first, reference_last_logits(lora_policy, prompt.tolist()), atol=1e-4)
        for step in range(2 * config.sliding_window):  # well past the window: masks and slots both matter
            tokens = torch.randint(10, config.vocab_size, (4,), generator=generator)
            logits = decoder.decode(tokens, torch.tensor([width + step]))
            for row, token in enumerate(tokens.tolist()):
                rows[row].append(token)
            if step % 60 == 59:
                for row in range(4):
                    assert torch.allclose(logits[row], reference_last_logits(lora_policy, rows[row]), atol=1e-4)


@pytest.mark.parametrize("merge_lora", [True, False], ids=["folded", "beside"])
def test_lora_updates_reach_the_engine_without_rebuilding(lora_policy, merge_lora) -> None:
    # Folded adapters reach the weights at the refresh every generate() starts with; adapters run
    # beside the base are read live. Either way the decoder (and a graph captured over it) is kept.
    engine = StaticRolloutEngine(lora_policy, merge_lora=merge_lora)
    assert bool(engine.weights.merged_lora) == merge_lora
    assert ("LoRA folded" in engine.describe()) == merge_lora
    ids = lora_policy.tokenizer(SHORT_PROMPT, add_special_tokens=False)["input_ids"]
    decoder = StaticDecoder(engine.weights, batch=1, max_len=len(ids) + 4)
    adapter = next(p for n, p in lora_policy.model.named_parameters() if "lora_B" in n)
    saved = adapter.data.clone()
    try:
        with torch.no_grad():
            before = decoder.prefill(torch.tensor(ids), slice(0, 1), len(ids))
            assert torch.allclose(before, reference_last_logits(lora_policy, ids), atol=1e-4)
            adapter.data.add_(0.5)  # what an optimizer step does: in place
            engine.weights.refresh_lora()
            after = decoder.prefill(torch.tensor(ids), slice(0, 1), len(ids))
        assert not torch.allclose(before, after)
        assert torch.allclose(after, reference_last_logits(lora_policy, ids), atol=1e-4)
    finally:
        adapter.data.copy_(saved)
        engine.weights.refresh_lora()


def test_folding_lora_leaves_the_model_untouched(lora_policy) -> None:
    causal_lm = lora_policy.base_causal_lm()
    before = {name: p.detach().clone() for name, p in causal_lm.named_parameters()}
    weights = extract_weights(causal_lm, 512, merge_lora=True)
    weights.refresh_lora()
    layers = len(weights.layers)
    assert len(weights.merged_lora) == 4 * layers  # q, k, v and o of every layer
    own = {p.data_ptr() for p in causal_lm.parameters()}
    assert all(m.target.data_ptr() not in own for m in weights.merged_lora)
    assert all(torch.equal(p, before[name]) for name, p in causal_lm.named_parameters())


def test_a_trained_base_is_read_in_place_not_joined() -> None:
    # With every weight training (lora_r=0, the tiny preset), q, k and v stay the model's own tensors.
    policy = load_policy("tiny-random", "hf", lora_r=0, lora_alpha=8, max_seq_length=2048)
    weights = StaticRolloutEngine(policy).weights
    assert all(layer.qkv is None for layer in weights.layers)
    q_proj = policy.base_causal_lm().model.layers[0].self_attn.q_proj.weight
    assert weights.layers[0].q.weight.data_ptr() == q_proj.data_ptr()


def test_greedy_static_rollout_equals_transformers_generate() -> None:
    policy = load_policy("tiny", "hf", lora_r=0, lora_alpha=32, max_seq_length=2048)
    ids = policy.tokenizer(PROMPT, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        expected = policy.model.generate(input_ids=torch.tensor([ids]), do_sample=False, max_new_tokens=40,
                                         eos_token_id=policy.stop_token_ids, pad_token_id=policy.tokenizer.pad_token_id)
    expected = expected[0, len(ids):].tolist()
    engine = choose_rollout_engine(policy)  # auto: the static engine for GPT-OSS
    assert engine.kind == "static" and not hasattr(policy, "static_engine")
    rollout = engine.generate([PROMPT], [1e-4, 1e-4], max_new_tokens=40)  # near 0: the argmax
    for sample in rollout.samples:
        assert sample.completion_ids == expected[: len(sample.completion_ids)]
        assert sample.truncated == (len(sample.completion_ids) == 40 and expected[-1] not in policy.stop_token_ids)
    assert "<|return|>" not in rollout.samples[0].text


def test_static_rollout_logprobs_equal_the_trainers(lora_policy) -> None:
    temps = [0.6, 0.9, 1.3]
    torch.manual_seed(3)
    engine = StaticRolloutEngine(lora_policy)
    rollout = engine.generate([PROMPT, SHORT_PROMPT], temps, max_new_tokens=30)
    assert [s.group for s in rollout.samples] == [0, 0, 0, 1, 1, 1]
    assert [s.temperature for s in rollout.samples] == temps * 2
    prompts = [rollout.prompt_ids[s.group] for s in rollout.samples]
    batch = build_batch(prompts, [s.completion_ids for s in rollout.samples], temps * 2,
                        lora_policy.tokenizer.pad_token_id, lora_policy.device)
    trainer_logprobs, _ = completion_logprobs(lora_policy, batch, chunk_tokens=64, with_grad=False)
    for row, sample in enumerate(rollout.samples):
        assert len(sample.logprobs) == sample.num_tokens >= 1
        reported = torch.tensor(sample.logprobs)
        assert torch.allclose(reported, trainer_logprobs[row, : sample.num_tokens], atol=1e-4)


def test_a_stop_request_aborts_the_static_rollout(lora_policy) -> None:
    control = RunControl()
    control.request_stop()
    rollout = StaticRolloutEngine(lora_policy).generate([PROMPT], [1.0, 1.0], max_new_tokens=200, control=control)
    assert rollout.aborted
    assert all(s.num_tokens < 200 for s in rollout.samples)


def test_sampling_follows_each_rows_temperature() -> None:
    logits = torch.tensor([2.0, 1.0, 0.0, -1.0])
    rows = 40_000
    temperatures = torch.tensor([0.5, 2.0]).repeat_interleave(rows // 2)
    torch.manual_seed(0)
    tokens, logprobs = sample_rows(logits.expand(rows, -1).clone(), temperatures, top_p=1.0)
    for index, temperature in enumerate((0.5, 2.0)):
        drawn = tokens[index * rows // 2 : (index + 1) * rows // 2]
        frequencies = torch.bincount(drawn, minlength=4).float() / drawn.numel()
        expected = torch.softmax(logits / temperature, dim=-1)
        assert torch.allclose(frequencies, expected, atol=0.015)
    assert torch.allclose(logprobs[0], torch.log_softmax(logits / 0.5, -1)[tokens[0]])


def test_top_p_keeps_what_transformers_keeps() -> None:
    torch.manual_seed(1)
    logprobs = torch.log_softmax(torch.randn(64, 50) * 3, dim=-1)
    for top_p in (0.3, 0.7, 0.95):
        expected = TopPLogitsWarper(top_p)(None, logprobs.clone()).isinf()
        assert torch.equal(top_p_mask(logprobs, top_p), expected)
    tokens, _ = sample_rows(logprobs, torch.ones(64), top_p=0.3)
    assert not top_p_mask(logprobs, 0.3).gather(-1, tokens[:, None]).any()


def test_other_architectures_are_refused_plainly() -> None:
    from transformers import LlamaConfig, LlamaForCausalLM

    model = LlamaForCausalLM(LlamaConfig(hidden_size=16, intermediate_size=16, num_hidden_layers=1,
                                         num_attention_heads=2, vocab_size=32))
    with pytest.raises(UnsupportedModel, match="GPT-OSS"):
        extract_weights(model, 16)


def _quantized(weight: torch.Tensor) -> torch.nn.Parameter:
    """`weight` as bitsandbytes leaves it after a 4-bit load: packed NF4 bytes carrying their quant_state."""
    import bitsandbytes.functional as bnb_functional

    packed, state = bnb_functional.quantize_4bit(weight.contiguous(), quant_type="nf4", compress_statistics=True)
    parameter = torch.nn.Parameter(packed, requires_grad=False)
    parameter.quant_state = state
    return parameter


def _dequantized(parameter: torch.nn.Parameter) -> torch.Tensor:
    import bitsandbytes.functional as bnb_functional

    return bnb_functional.dequantize_4bit(parameter.data, parameter.quant_state)


class _Packed4bitLinear(torch.nn.Module):
    """What bitsandbytes leaves in an Unsloth 4-bit expert: packed NF4 weight with its quant_state, a bias."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor) -> None:
        super().__init__()
        self.weight = _quantized(weight)
        self.bias = torch.nn.Parameter(bias.clone(), requires_grad=False)


class _UnslothSplitExperts(torch.nn.Module):
    """Unsloth's GptOssExpertsBnb4bit layout: one 4-bit Linear per expert (W x), no stacked tensors."""

    def __init__(self, experts) -> None:
        super().__init__()
        count = experts.gate_up_proj.shape[0]
        self.gate_up_projs = torch.nn.ModuleList(
            _Packed4bitLinear(experts.gate_up_proj[e].t(), experts.gate_up_proj_bias[e]) for e in range(count))
        self.down_projs = torch.nn.ModuleList(
            _Packed4bitLinear(experts.down_proj[e].t(), experts.down_proj_bias[e]) for e in range(count))
        self.gate_up_proj = torch.empty(0)  # Unsloth keeps empty buffers under the stacked names

    def dequantized(self) -> tuple[torch.Tensor, torch.Tensor]:
        return (torch.stack([_dequantized(m.weight).t() for m in self.gate_up_projs]),
                torch.stack([_dequantized(m.weight).t() for m in self.down_projs]))


class _QuantizedStackExperts(torch.nn.Module):
    """A 16-bit checkpoint with fused experts loaded in 4-bit: each [E, in, out] stack quantized whole."""

    def __init__(self, experts) -> None:
        super().__init__()
        self.gate_up_proj, self.down_proj = _quantized(experts.gate_up_proj.data), _quantized(experts.down_proj.data)
        self.gate_up_proj_bias, self.down_proj_bias = experts.gate_up_proj_bias, experts.down_proj_bias

    def dequantized(self) -> tuple[torch.Tensor, torch.Tensor]:
        return _dequantized(self.gate_up_proj), _dequantized(self.down_proj)


@pytest.mark.parametrize("layout", [_UnslothSplitExperts, _QuantizedStackExperts], ids=["split", "stacked"])
def test_4bit_experts_packed_or_copied_match_transformers(lora_policy, layout) -> None:
    causal_lm = lora_policy.base_causal_lm()
    originals = [layer.mlp.experts for layer in causal_lm.model.layers]
    saved = [(e.gate_up_proj.data.clone(), e.down_proj.data.clone()) for e in originals]
    try:
        quantized = [layout(experts) for experts in originals]
        for layer, experts in zip(causal_lm.model.layers, quantized):
            layer.mlp.experts = experts
        packed = extract_weights(causal_lm, 512, experts_format="packed")
        copied = extract_weights(causal_lm, 512, experts_format="bf16")
        assert packed.experts_format == "packed" and copied.experts_format == "bf16"
        assert packed.layers[0].gate_up.split == (layout is _UnslothSplitExperts)
        # The reference: transformers' own experts holding exactly the dequantized weights.
        for layer, experts, fake in zip(causal_lm.model.layers, originals, quantized):
            layer.mlp.experts = experts
            gate_up, down = fake.dequantized()
            experts.gate_up_proj.data.copy_(gate_up)
            experts.down_proj.data.copy_(down)
        ids = torch.randint(10, causal_lm.config.vocab_size, (90,), generator=torch.Generator().manual_seed(2))
        for weights in (packed, copied):
            decoder = StaticDecoder(weights, batch=2, max_len=96)
            with torch.no_grad():
                first = decoder.prefill(ids[:80], slice(0, 2), 80)
                assert torch.allclose(first, reference_last_logits(lora_policy, ids[:80].tolist()), atol=1e-4)
                for step in range(10):  # decode: few tokens, so the dense all-experts path
                    logits = decoder.decode(ids[80 + step].repeat(2), torch.tensor([80 + step]))
                expected = reference_last_logits(lora_policy, ids.tolist())
                assert torch.allclose(logits[0], expected, atol=1e-4) and torch.allclose(logits[1], expected, atol=1e-4)
        assert packed.copied_bytes < copied.copied_bytes
    finally:
        for layer, experts, (gate_up, down) in zip(causal_lm.model.layers, originals, saved):
            layer.mlp.experts = experts
            experts.gate_up_proj.data.copy_(gate_up)
            experts.down_proj.data.copy_(down)


def test_fp8_quantization_keeps_each_weight_within_its_columns_step() -> None:
    weights = torch.randn(3, 64, 48, generator=torch.Generator().manual_seed(0)) * torch.rand(3, 1, 48) * 5
    weights[1, :, 7] = 0  # an all-zero column must not divide by zero
    fp8 = quantize_experts(weights)
    restored = torch.empty(fp8.buffer_shape)
    fp8.dequantize_into(restored)
    column_max = weights.abs().amax(dim=1, keepdim=True)  # [E, 1, out]
    # e4m3 keeps 3 mantissa bits: a weight is off by at most 1/16 of itself, or of the column's step near zero
    assert ((restored - weights).abs() <= weights.abs() / 16 + column_max / FP8_MAX / 8 + 1e-12).all()
    assert torch.equal(restored[1, :, 7], torch.zeros(64))
    assert fp8.data.dtype == torch.float8_e4m3fn and fp8.nbytes < weights.numel() * 2


def test_fp8_expert_copies_match_transformers_holding_the_same_rounded_weights(lora_policy) -> None:
    causal_lm = lora_policy.base_causal_lm()
    weights = extract_weights(causal_lm, 512, experts_format="fp8")
    assert weights.experts_format == "fp8" and weights.compact_experts
    assert weights.copied_bytes > sum(layer.gate_up.nbytes for layer in weights.layers)
    saved = [(layer.mlp.experts.gate_up_proj.data.clone(), layer.mlp.experts.down_proj.data.clone())
             for layer in causal_lm.model.layers]
    try:
        for layer, compact in zip(causal_lm.model.layers, weights.layers):  # the reference holds the fp8 values
            for target, fp8 in ((layer.mlp.experts.gate_up_proj, compact.gate_up), (layer.mlp.experts.down_proj, compact.down)):
                restored = torch.empty(fp8.buffer_shape, dtype=target.dtype)
                fp8.dequantize_into(restored)
                target.data.copy_(restored)
        ids = torch.randint(10, causal_lm.config.vocab_size, (90,), generator=torch.Generator().manual_seed(3))
        for grouped in (False, True):
            decoder = StaticDecoder(weights, batch=2, max_len=96, grouped_experts=grouped, fused_experts=True)
            assert decoder.fused_kernels is None  # no scaled grouped GEMM on a CPU: dequantized layer by layer
            with torch.no_grad():
                first = decoder.prefill(ids[:80], slice(0, 2), 80)
                assert torch.allclose(first, reference_last_logits(lora_policy, ids[:80].tolist()), atol=1e-4)
                for step in range(10):
                    logits = decoder.decode(ids[80 + step].repeat(2), torch.tensor([80 + step]))
            assert torch.allclose(logits[1], reference_last_logits(lora_policy, ids.tolist()), atol=1e-4)
    finally:
        for layer, (gate_up, down) in zip(causal_lm.model.layers, saved):
            layer.mlp.experts.gate_up_proj.data.copy_(gate_up)
            layer.mlp.experts.down_proj.data.copy_(down)
    engine = StaticRolloutEngine(lora_policy, experts_format="fp8")
    assert "fp8 expert copies" in engine.describe()
    assert len(engine.generate([PROMPT], [0.7, 1.3], max_new_tokens=8).samples) == 2


@pytest.mark.slow
def test_the_compiled_decode_step_samples_what_the_plain_one_samples(lora_policy) -> None:
    # torch.compile fuses the step's elementwise chains (the GPU default); here inductor's CPU backend.
    rollouts = {}
    for compiled in (False, True):
        notices = []
        engine = StaticRolloutEngine(lora_policy, compiled_ops=compiled, grouped_experts=True, on_notice=notices.append)
        torch.manual_seed(7)
        rollouts[compiled] = engine.generate([PROMPT, SHORT_PROMPT], [0.7, 1.3], max_new_tokens=20).samples
        assert not notices and ("compiled ops" in engine.describe()) == compiled
    plain, fused = rollouts[False], rollouts[True]
    assert [s.completion_ids for s in plain] == [s.completion_ids for s in fused]
    for a, b in zip(plain, fused):
        assert max(abs(x - y) for x, y in zip(a.logprobs, b.logprobs)) < 1e-4


def test_fused_expert_kernels_serve_decode_and_prefill(lora_policy, monkeypatch) -> None:
    # No fused kernel runs on a CPU; a stand-in with the same contract (rows sorted by expert, row ends)
    # checks the plumbing around it, and that prompts get kernels built with the eager helpers.
    import arc_console.decoding.static_decoder as static_decoder
    from arc_console.decoding.decoder_ops import EAGER_OPS, DecodeOps

    built_with = []

    calls = {"prefill": 0, "decode": 0}
    phase = ["prefill"]

    def stand_in(experts, dtype, ops):
        built_with.append(ops)
        matrices = torch.empty(experts.buffer_shape, dtype=dtype)
        experts.dequantize_into(matrices)

        def grouped(rows, ends):
            calls[phase[0]] += 1
            return torch._grouped_mm(rows, matrices, offs=ends)

        return grouped

    causal_lm = lora_policy.base_causal_lm()
    weights = extract_weights(causal_lm, 512, experts_format="fp8")
    ids = torch.randint(10, 60, (40,), generator=torch.Generator().manual_seed(4))
    logits = {}
    monkeypatch.setattr(static_decoder, "fused_expert_matmul", stand_in)
    for fused in (False, True):
        decoder = StaticDecoder(weights, batch=2, max_len=48, grouped_experts=True, fused_experts=fused,
                                ops=DecodeOps())  # a distinct set, as compiled ops are
        assert (decoder.fused_kernels is not None) == fused
        with torch.no_grad():
            phase[0] = "prefill"
            first = decoder.prefill(ids[:32], slice(0, 2), 32)
            phase[0] = "decode"
            for step in range(8):
                last = decoder.decode(ids[32 + step].repeat(2), torch.tensor([32 + step]))
        logits[fused] = (first, last)
    layers = len(weights.layers)
    assert sum(ops is EAGER_OPS for ops in built_with) == 2 * layers and len(built_with) == 4 * layers
    assert calls["prefill"] >= 2 * layers and calls["decode"] >= 8 * 2 * layers  # both phases went through it
    # The reference is transformers' own model holding the same fp8-rounded expert weights, not the stand-in.
    saved = [(layer.mlp.experts.gate_up_proj.data.clone(), layer.mlp.experts.down_proj.data.clone())
             for layer in causal_lm.model.layers]
    try:
        for layer, compact in zip(causal_lm.model.layers, weights.layers):
            for target, fp8 in ((layer.mlp.experts.gate_up_proj, compact.gate_up),
                                (layer.mlp.experts.down_proj, compact.down)):
                restored = torch.empty(fp8.buffer_shape, dtype=target.dtype)
                fp8.dequantize_into(restored)
                target.data.copy_(restored)
        prompt_logits = reference_last_logits(lora_policy, ids[:32].tolist())
        last_logits = reference_last_logits(lora_policy, ids.tolist())
    finally:
        for layer, (gate_up, down) in zip(causal_lm.model.layers, saved):
            layer.mlp.experts.gate_up_proj.data.copy_(gate_up)
            layer.mlp.experts.down_proj.data.copy_(down)
    for fused in (False, True):
        first, last = logits[fused]
        assert torch.allclose(first, prompt_logits, atol=1e-4), fused
        assert torch.allclose(last[0], last_logits, atol=1e-4) and torch.allclose(last[1], last_logits, atol=1e-4)


def test_what_the_machine_refuses_is_dropped_with_a_notice(lora_policy) -> None:
    # CUDA graphs cannot be captured on a CPU: the engine says so once and decodes step by step.
    notices = []
    engine = StaticRolloutEngine(lora_policy, use_graphs=True, on_notice=notices.append)
    first = engine.generate([PROMPT], [1e-4, 1e-4], max_new_tokens=12)
    again = engine.generate([PROMPT], [1e-4, 1e-4], max_new_tokens=12)
    assert len(notices) == 1 and "CUDA-graph capture failed" in notices[0]
    assert not engine.use_graphs and "eager" in engine.describe()
    assert [s.completion_ids for s in first.samples] == [s.completion_ids for s in again.samples]


def test_building_the_engine_draws_nothing_from_the_callers_random_stream(lora_policy) -> None:
    # A resumed run builds its engine at a later step than the original run did: same samples anyway.
    engine = StaticRolloutEngine(lora_policy)
    torch.manual_seed(5)
    fresh = engine.generate([PROMPT], [1.0, 1.3], max_new_tokens=16)  # builds the cache state here
    torch.manual_seed(5)
    reused = engine.generate([PROMPT], [1.0, 1.3], max_new_tokens=16)
    assert [s.completion_ids for s in fresh.samples] == [s.completion_ids for s in reused.samples]


@pytest.mark.parametrize("tokens", [8, 200])
def test_counting_sort_of_routed_rows_equals_a_stable_sort(tokens, monkeypatch) -> None:
    import arc_console.decoding.decoder_ops as ops

    generator = torch.Generator().manual_seed(tokens)
    experts, k, hidden = 32, 4, 6
    top = torch.stack([torch.randperm(experts, generator=generator)[:k] for _ in range(tokens)])
    x = torch.randn(tokens, hidden, generator=generator)
    counted = ops.sort_by_expert(x, top, experts)
    monkeypatch.setattr(ops, "RANK_SORT_MAX_ROWS", 0)  # the sort-kernel path, which prompts take
    sorted_ = ops.sort_by_expert(x, top, experts)
    for a, b in zip(counted, sorted_):
        assert torch.equal(a, b)
    rows, place, row_experts, row_ends = counted
    order = torch.argsort(top.reshape(-1), stable=True)
    assert torch.equal(row_experts, top.reshape(-1)[order])
    assert torch.equal(rows, x[order // k])
    assert torch.equal(rows[place], x.repeat_interleave(k, dim=0))  # place undoes the sort
    assert row_ends.tolist() == torch.cumsum(torch.bincount(top.reshape(-1), minlength=experts), 0).tolist()
    # Combining: each token's outputs weighted by its routing, whatever order the rows went in.
    routing = torch.softmax(torch.randn(tokens, k, generator=generator), dim=-1)
    outputs = torch.randn(tokens * k, hidden, generator=generator)
    bias = torch.randn(experts, hidden, generator=generator)
    combined = ops.combine_experts(outputs, bias, row_experts, routing, place)
    expected = torch.zeros(tokens, hidden).index_add_(
        0, order // k, (outputs + bias[row_experts]) * routing.reshape(-1)[order, None])
    assert torch.allclose(combined, expected, atol=1e-5)
