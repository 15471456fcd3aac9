"""The NF4 grouped GEMM alone, on GPT-OSS-20B's expert shapes (GPU only; no model needed).

    python benchmarks/nf4_kernel.py [--rows 8 16 32 64] [--sweep] [--out-dir DIR]

Builds one layer's expert stacks ([32, 2880, 5760] gate/up and [32, 2880, 2880] down) quantized to
NF4 by bitsandbytes as Unsloth loads them, routes `rows` decode rows to 4 experts each at random, and
times, side by side in this one process: our Triton kernel (decoding/nf4_triton.py; `ours` as the route
launches it, `ours_weight_scales` with its first way of scaling: every weight, `ours_pairs`,
`ours_levels`, `ours_registers` with each way of looking the levels up), Unsloth Zoo's
fused NF4 kernel, torch's fp8 scaled grouped GEMM over fp8 copies (the default route's) and a bf16
grouped GEMM over dequantized copies. Each is checked against the dequantized weights first. GB/s
counts the 4-bit bytes of the experts in use (the bytes the kernel must read). --sweep also times
our kernel's tile shapes and lookups. Writes nf4_kernel_DATE.json to --out-dir.
"""

from __future__ import annotations

import argparse
import json
import statistics
from dataclasses import replace
from datetime import date
from pathlib import Path

import torch

try:  # Unsloth Zoo's kernel, compared side by side, wants Unsloth imported first
    import unsloth  # noqa: F401
except Exception:
    pass

from arc_console.decoding.fp8_experts import fp8_grouped_matmul, quantize_experts
from arc_console.decoding.nf4_kernel import unsloth_nf4_grouped_matmul
from arc_console.decoding.nf4_triton import LOOKUPS, LaunchShape, launch_shape, nf4_grouped_mm, nf4_stack
from arc_console.decoding.packed_experts import packed_stack

EXPERTS, HIDDEN, INTERMEDIATE, TOP_K = 32, 2880, 2880, 4
PROJECTIONS = {"gate_up": (HIDDEN, 2 * INTERMEDIATE), "down": (INTERMEDIATE, HIDDEN)}


def time_ms(fn, repeats: int = 20, calls: int = 10) -> float:
    """Median ms a call, replayed from a CUDA graph of `calls` calls (as the decoder runs them: no
    launch overhead from Python)."""
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(3):
            fn()
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        for _ in range(calls):
            fn()
    graph.replay()
    times = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        graph.replay()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) / calls)
    return statistics.median(times)


# The route's two shapes (the default tiles and the narrow projection's) and their neighbours. Earlier sweeps:
# tiles and lookups in results/nf4_kernel_2026-12-02_h200_register_lookup.json, a CUDA-core GEMV in
# ..._gemv*.json, register caps and one-warp programs in ..._register_caps.json, an int8 tensor-core path
# in ..._int8_and_block_order.json.
ROUTE = LaunchShape(block_n=64, block_k=64, num_warps=2, num_stages=2, lookup="registers")
NARROW = replace(ROUTE, block_k=128, num_warps=4)
SWEEP = [("rows", shape) for shape in (ROUTE, NARROW, replace(ROUTE, num_warps=4), replace(NARROW, num_warps=2),
                                         replace(ROUTE, num_stages=3), replace(NARROW, num_stages=3))]


def shape_name(shape: LaunchShape) -> str:
    kind = "dot" if shape.use_dot else f"fma_m{shape.block_m}"
    kind += "" if shape.lookup == "pairs" else f"_{shape.lookup}"
    cap = "" if shape.max_registers is None else f"_r{shape.max_registers}"
    return f"{kind}_n{shape.block_n}_k{shape.block_k}_w{shape.num_warps}_s{shape.num_stages}{cap}"


def nf4_parameter(weights: torch.Tensor):
    import bitsandbytes as bnb

    parameter = bnb.nn.Params4bit(weights.cpu(), requires_grad=False, quant_type="nf4",
                                  compress_statistics=True, blocksize=64).cuda()
    parameter._original_shape = tuple(weights.shape)
    return parameter


def routed_rows(count: int, width: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, int]:
    """count tokens x TOP_K experts, as sorted rows and cumulative row ends; and the experts in use."""
    experts = torch.stack([torch.randperm(EXPERTS, generator=generator)[:TOP_K] for _ in range(count)]).flatten()
    per_expert = torch.bincount(experts, minlength=EXPERTS)
    rows = torch.randn(count * TOP_K, width, generator=generator).to(torch.bfloat16).cuda()
    return rows, per_expert.cumsum(0).to(torch.int32).cuda(), int((per_expert > 0).sum())


def why_unsloth_refuses(parameter) -> str:
    try:
        from unsloth_zoo.temporary_patches import moe_nf4_grouped as zoo

        spec = zoo.nf4_grouped_spec(parameter, lambda stack: stack, torch.bfloat16, mode="1")
        return f"spec {None if spec is None else {k: v for k, v in spec.items() if isinstance(v, (int, str))}}"
    except Exception as failure:
        return f"{type(failure).__name__}: {failure}"[:300]


def reference(rows: torch.Tensor, row_ends: torch.Tensor, dense: torch.Tensor) -> torch.Tensor:
    return torch._grouped_mm(rows, dense, offs=row_ends)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, nargs="+", default=[8, 16, 32, 64], help="decode rows (candidates)")
    parser.add_argument("--sweep-rows", type=int, nargs="+", default=[8, 32], help="rows at which --sweep runs")
    parser.add_argument("--sweep", action="store_true", help="also time our kernel's tile shapes")
    parser.add_argument("--out-dir", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    generator = torch.Generator().manual_seed(0)
    result: dict = {"date": date.today().isoformat(), "device": torch.cuda.get_device_name(), "shapes": {}}
    for name, (k, n) in PROJECTIONS.items():
        weights = (torch.randn(EXPERTS, k, n, generator=generator) * 0.02).to(torch.bfloat16).cuda()
        parameter = nf4_parameter(weights)
        packed = packed_stack(parameter)
        stack = nf4_stack(packed)
        import bitsandbytes.functional as bnb_functional

        dense = bnb_functional.dequantize_4bit(parameter.data, parameter.quant_state).reshape(EXPERTS, k, n)
        fp8 = quantize_experts(dense)
        route_stack = stack  # as the 4-bit route reads it: the scales in the model's block order
        kernels = {"ours": lambda r, e: nf4_grouped_mm(r, e, route_stack, torch.bfloat16),
                   "ours_weight_scales": lambda r, e: nf4_grouped_mm(r, e, route_stack, torch.bfloat16,
                                                                     replace(launch_shape(r.shape[0], EXPERTS, r.device, out_features=n),
                                                                             row_scales=False)),
                   # each lookup in the route's tiles, with the stages its sweep preferred (registers 2, tables 3)
                   **{f"ours_{lookup}": (lambda r, e, lookup=lookup: nf4_grouped_mm(
                       r, e, route_stack, torch.bfloat16, replace(launch_shape(r.shape[0], EXPERTS, r.device, out_features=n), lookup=lookup,
                                                                  num_stages=2 if lookup == "registers" else 3)))
                      for lookup in LOOKUPS},
                   "bf16_grouped_mm": lambda r, e: reference(r, e, dense)}
        unsloth = unsloth_nf4_grouped_matmul(packed, torch.bfloat16)
        if unsloth is not None:
            kernels["unsloth_zoo"] = unsloth
        else:
            result.setdefault("notes", []).append(f"{name}: Unsloth Zoo's NF4 kernel did not bind: {why_unsloth_refuses(parameter)}")
        fp8_mm = fp8_grouped_matmul(fp8, torch.bfloat16)
        if fp8_mm is not None:
            kernels["fp8_scaled_grouped_mm"] = fp8_mm
        del weights
        shape_result = result["shapes"][name] = {"k": k, "n": n}
        for count in args.rows:
            rows, row_ends, in_use = routed_rows(count, k, generator)
            expected = reference(rows, row_ends, dense).float()
            bytes_read = in_use * k * n / 2
            entry = shape_result[str(count)] = {"experts_in_use": in_use}
            for kernel_name, kernel in kernels.items():
                try:
                    error = (kernel(rows, row_ends).float() - expected).abs().max().item()
                    ms = time_ms(lambda: kernel(rows, row_ends))
                except Exception as failure:  # a kernel that cannot run this shape is a result too
                    entry[kernel_name] = {"error": f"{type(failure).__name__}: {failure}"[:300]}
                    continue
                entry[kernel_name] = {"ms": round(ms, 4), "max_abs_error": error,
                                      "nf4_gb_per_s": round(bytes_read / ms / 1e6, 1)}
                print(name, count, kernel_name, entry[kernel_name], flush=True)
            if args.sweep and count in args.sweep_rows:
                sweep = entry["ours_sweep"] = {}
                variants = {"nested": stack}  # the route's scales: nested, in block order
                runs = [(v, scaling, sh) for v in variants for scaling, sh in SWEEP]
                for variant, scaling, shape in runs:
                    candidate = variants[variant]
                    key = f"{variant}_{scaling}_{shape_name(shape)}"
                    try:
                        got = nf4_grouped_mm(rows, row_ends, candidate, torch.bfloat16, shape).float()
                        if (got - expected).abs().max().item() > 0.05 * expected.abs().max().item():
                            sweep[key] = "wrong"
                            continue
                        ms = time_ms(lambda: nf4_grouped_mm(rows, row_ends, candidate, torch.bfloat16, shape), 10)
                    except Exception as failure:
                        sweep[key] = f"{type(failure).__name__}: {failure}"[:200]
                        continue
                    sweep[key] = round(ms, 4)
                best = min((v, key) for key, v in sweep.items() if isinstance(v, float))
                entry["ours_best_shape"] = {"shape": best[1], "ms": best[0]}
                print(name, count, "best", best, flush=True)
        del dense, fp8, parameter
        torch.cuda.empty_cache()
        # Written after each projection: a run cut short by a time limit still leaves what it measured.
        args.out_dir.mkdir(parents=True, exist_ok=True)
        (args.out_dir / f"nf4_kernel_{result['date']}.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
