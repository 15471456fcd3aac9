"""Runs under TRITON_INTERPRET=1 (Triton's CPU interpreter), started by tests/test_nf4_kernel.py.

`kernel`: our NF4 grouped GEMM against the dequantized experts, nested and plain scales.
`decoder`: the static decoder over the tiny model's experts quantized to NF4 stacks, with the fused
kernel (ours) against the same decoder dequantizing them layer by layer.
Prints one line per check and exits non-zero on the first mismatch.
"""

import sys
from dataclasses import replace

import bitsandbytes.functional as bnb_functional
import torch

from arc_console.decoding.nf4_triton import LaunchShape, nf4_grouped_mm, nf4_stack, triton_nf4_grouped_matmul
from arc_console.decoding.packed_experts import PackedExperts, packed_stack


def grouped_reference(rows: torch.Tensor, counts: list[int], dense: torch.Tensor) -> torch.Tensor:
    out, start = [], 0
    for expert, count in enumerate(counts):
        out.append(rows[start:start + count].float() @ dense[expert].float())
        start += count
    return torch.cat(out)


def check_kernel() -> None:
    generator = torch.Generator().manual_seed(0)
    experts, k, n = 5, 160, 192  # K not a multiple of the K tile; N three quantization blocks
    weights = torch.randn(experts, k, n, generator=generator)
    counts = [3, 0, 40, 1, 2]  # an expert with no rows; one with more rows than a row tile
    rows = torch.randn(sum(counts), k, generator=generator)
    row_ends = torch.tensor(counts).cumsum(0).to(torch.int32)
    for nested in (True, False):
        packed, state = bnb_functional.quantize_4bit(weights, blocksize=64, compress_statistics=nested, quant_type="nf4")
        stack = nf4_stack(PackedExperts([packed], [state], experts, k, n, stack=packed))
        assert stack is not None and stack.nested == nested
        dense = bnb_functional.dequantize_4bit(packed, state).reshape(experts, k, n)
        expected = grouped_reference(rows, counts, dense)
        dot = LaunchShape(block_n=64, block_k=64, block_m=16, dot_dtype="float32")
        shapes = (None, dot, replace(dot, levels_tf32=True), replace(dot, row_scales=False),
                  replace(dot, lookup="levels"), replace(dot, lookup="levels", row_scales=False),
                  LaunchShape(block_n=192 // 3, block_k=32, block_m=4, use_dot=False),
                  replace(dot, block_k=128, num_warps=4))  # the narrow projection's tiles (K=160: a ragged last tile)
        # (max_registers is not checked here: the interpreter drops Triton's maxnreg; tests/test_gpu.py runs it)
        for shape in shapes:
            got = nf4_grouped_mm(rows, row_ends, stack, torch.float32, shape)
            error = (got - expected).abs().max().item() / expected.abs().max().item()
            print(f"kernel nested={nested} shape={shape}: max error {error:.2e} of the largest output")
            # The kernel holds the 16 NF4 levels as bf16 (one lookup per byte): about 2^-9 relative each.
            # A wrong nibble, scale or row lands at the size of the outputs themselves.
            assert error < 1e-2, error
    for lookup in ("registers", "a table"):  # PTX does not run in the interpreter; an unknown lookup is refused
        try:
            nf4_grouped_mm(rows, row_ends, stack, torch.float32, replace(dot, lookup=lookup))
        except ValueError as refusal:
            print(f"kernel refuses lookup {lookup!r} here: {refusal}")
        else:
            raise AssertionError(f"lookup {lookup!r} ran on the CPU")
    fp4, fp4_state = bnb_functional.quantize_4bit(weights, blocksize=64, quant_type="fp4")
    assert nf4_stack(PackedExperts([fp4], [fp4_state], experts, k, n, stack=fp4)) is None  # a format it does not read


def check_decoder() -> None:
    from arc_console.decoding.decoder_weights import extract_weights
    from arc_console.decoding.static_decoder import StaticDecoder
    from arc_console.engine.backends import load_policy

    policy = load_policy("tiny-random", "hf", lora_r=4, lora_alpha=8, max_seq_length=2048)
    causal_lm = policy.base_causal_lm()
    for layer in causal_lm.model.layers:
        experts = layer.mlp.experts
        for name in ("gate_up_proj", "down_proj"):
            packed, state = bnb_functional.quantize_4bit(getattr(experts, name).data.contiguous(), quant_type="nf4",
                                                         compress_statistics=True)
            parameter = torch.nn.Parameter(packed, requires_grad=False)
            parameter.quant_state = state
            setattr(experts, name, parameter)
    weights = extract_weights(causal_lm, 512, experts_format="packed")
    assert triton_nf4_grouped_matmul(weights.layers[0].gate_up, weights.dtype) is not None
    ids = torch.randint(10, causal_lm.config.vocab_size, (60,), generator=torch.Generator().manual_seed(2))
    logits = {}
    for fused in (True, False):
        decoder = StaticDecoder(weights, batch=3, max_len=64, grouped_experts=True, fused_experts=fused)
        assert (decoder.fused_kernels is not None) == fused
        with torch.no_grad():
            first = decoder.prefill(ids[:50], slice(0, 3), 50)
            for step in range(6):
                last = decoder.decode(ids[50 + step].repeat(3), torch.tensor([50 + step]))
        logits[fused] = (first, last)
    for a, b in zip(logits[True], logits[False]):
        error = (a - b).abs().max().item() / b.abs().max().item()
        print(f"decoder fused vs dequantized: max logit difference {error:.2e} of the largest logit")
        assert error < 1e-2, error


if __name__ == "__main__":
    {"kernel": check_kernel, "decoder": check_decoder}[sys.argv[1]]()
    print("ok")
