"""Unsloth's pre-quantized GPT-OSS layout against BF16-then-quantize: load time and memory, then what the static
engine does with each, in two fresh processes of one run.

    python benchmarks/prequantized_load.py --model BF16_DIR --out prequantized.json [--split DIR]

BF16_DIR is a 16-bit GPT-OSS checkpoint (arc-console make-model). Without --split, its copy in Unsloth's
bnb-4bit layout is written first (make-model --quantize 4bit --layout unsloth-bnb-4bit --from BF16_DIR; timed)
beside it. Then one child process each, the same steps: import Unsloth, load with Unsloth in 4 bits (the
16-bit checkpoint is quantized as it loads; the pre-quantized one is read as it is): seconds, GPU memory
allocated after the load and at its peak, the process's peak host memory; then, per route (the 4-bit route,
experts packed; the fp8 copies of the default route), the engine sized as the trainer sizes it, a first
rollout (compiles), a timed one (tok/s), and the largest |engine - trainer| log-prob gap on its tokens; then
the trainer's update over the last rollout, twice (the second timed). Both checkpoints were just read or
written, so both load from the page cache: the figures are the loaders' own cost, not the disk's.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PROCESS_STARTED = time.perf_counter()
GB = 1024**3
TEMPERATURES = [0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3]
ROUTE_NAMES = {"packed": "static_graphs_grouped_packed4bit_fused", "fp8": "static_graphs_grouped_fp8"}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="the 16-bit GPT-OSS checkpoint")
    parser.add_argument("--split", type=Path, help="its copy in Unsloth's bnb-4bit layout (default: written now)")
    parser.add_argument("--out", type=Path, help="the JSON to write")
    parser.add_argument("--new-tokens", type=int, default=128, help="new tokens per rollout (prompt fitted to 2048 - 512)")
    parser.add_argument("--max-seq-length", type=int, default=2048, help="the prompt is fitted to this - 512 tokens")
    parser.add_argument("--routes", nargs="+", default=["packed", "fp8"], choices=sorted(ROUTE_NAMES))
    parser.add_argument("--timeout", type=int, default=300, help="seconds each child may take")
    parser.add_argument("--cpu-smoke", action="store_true",
                        help="the same steps on a CPU with the hf backend and eager routes: checks the plumbing only")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--child-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is None and args.out is None:
        parser.error("--out is required")
    return args


def _sync() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def _gpu_gb(read: str) -> float | None:
    """torch.cuda.<read>() in GB, None on a CPU."""
    import torch

    return getattr(torch.cuda, read)() / GB if torch.cuda.is_available() else None


def _reset_peak() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()


def measure_route(policy: Any, problem: Any, route: dict, new_tokens: int) -> tuple[dict[str, Any], Any]:
    from arc_console.decoding.rollout_engine import RolloutEngine
    from arc_console.decoding.static_rollout import StaticRolloutEngine
    from arc_console.engine.prompt_fitting import longest_rollout_tokens
    from logprob_check import max_logprob_difference

    notices: list[str] = []
    engine = RolloutEngine(policy, StaticRolloutEngine(
        policy, rows=len(TEMPERATURES), cache_tokens=longest_rollout_tokens([problem], policy.tokenizer, new_tokens),
        on_notice=notices.append, **route))
    started = time.perf_counter()
    engine.generate([problem.prompt], TEMPERATURES, new_tokens)
    _sync()
    figures: dict[str, Any] = {"first_rollout_s": time.perf_counter() - started}
    _reset_peak()
    started = time.perf_counter()
    rollout = engine.generate([problem.prompt], TEMPERATURES, new_tokens)
    _sync()
    seconds = time.perf_counter() - started
    figures.update(tok_s=rollout.tokens_generated / seconds, tokens=rollout.tokens_generated,
                   peak_rollout_gb=_gpu_gb("max_memory_allocated"), engine=engine.describe(), notices=notices,
                   engine_gb=engine.static.memory_bytes() / GB,
                   max_abs_logprob_diff=max_logprob_difference(policy, rollout, TEMPERATURES, 256))
    return figures, rollout


def run_child(args: argparse.Namespace) -> dict[str, Any]:
    import gc

    import torch

    from arc_console.engine.unsloth_first import import_unsloth_first

    backend = "hf" if args.cpu_smoke else "unsloth"
    import_unsloth_first(backend)
    from arc_console.distributed.ranks import single_process
    from arc_console.engine.backends import load_policy
    from arc_console.engine.compile_cache import activate_compile_cache
    from arc_console.engine.phase_timer import PhaseTimer
    from arc_console.engine.prequantized import checkpoint_experts_layout
    from arc_console.engine.update import policy_update
    from problems_per_step import scored_groups, sweep_problems, update_config
    from routes import ROUTES

    result: dict[str, Any] = {"gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
                              "checkpoint": args.model, "layout": checkpoint_experts_layout(Path(args.model)),
                              "import_s": time.perf_counter() - PROCESS_STARTED}
    settings = {"backend": backend, "load_in_4bit": True, "lora_r": 16, "num_candidates": len(TEMPERATURES),
                "max_new_tokens": args.new_tokens, "purpose": "prequantized_load"}
    result["cache_line"] = activate_compile_cache(args.model, settings).message
    _reset_peak()
    started = time.perf_counter()
    policy = load_policy(args.model, backend, lora_r=16, lora_alpha=32, max_seq_length=args.max_seq_length)
    _sync()
    result.update(load_s=time.perf_counter() - started, mem_after_load_gb=_gpu_gb("memory_allocated"),
                  reserved_after_load_gb=_gpu_gb("memory_reserved"), peak_load_gb=_gpu_gb("max_memory_allocated"),
                  host_peak_rss_gb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / GB)
    experts = policy.base_causal_lm().model.layers[0].mlp.experts
    result["experts_module"] = type(experts).__name__ + (" (one Linear per expert)" if hasattr(experts, "gate_up_projs") else "")
    print(f"{args.child}: loaded in {result['load_s']:.1f} s, {result['mem_after_load_gb']} GB after the load, "
          f"peak {result['peak_load_gb']} GB, {result['experts_module']}", flush=True)
    # The record's prompt (fitted as for 512 new tokens); a CPU smoke fits it to its few new tokens.
    fitted = args.new_tokens if args.cpu_smoke else 512
    (problem,) = sweep_problems(policy.tokenizer, args.max_seq_length, fitted)[:1]
    rollout = None
    result["routes"] = {}
    for name in args.routes:
        try:
            route = dict(experts_format=ROUTES[ROUTE_NAMES[name]]["experts_format"]) if args.cpu_smoke \
                else ROUTES[ROUTE_NAMES[name]]  # a CPU runs the engine eager
            result["routes"][name], rollout = measure_route(policy, problem, route, args.new_tokens)
        except Exception as exc:  # noqa: BLE001 - a route that fails is reported; the other still runs
            result["routes"][name] = {"error": f"{type(exc).__name__}: {str(exc)[:300]}"}
        print(f"{args.child} {name}: {json.dumps({k: v for k, v in result['routes'][name].items() if k != 'notices'})}",
              flush=True)
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    if rollout is not None:
        config = update_config(len(TEMPERATURES), args.new_tokens, args.max_seq_length, 256, 1)
        optimizer = torch.optim.AdamW(policy.trainable_parameters().values(), lr=0.0)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda updates: 1.0)
        seconds = []
        _reset_peak()
        for step in range(2):
            started = time.perf_counter()
            policy_update(policy, optimizer, scheduler, config, scored_groups([problem], rollout, len(TEMPERATURES), step),
                          single_process(), PhaseTimer())
            _sync()
            seconds.append(time.perf_counter() - started)
        result["update"] = {"first_s": seconds[0], "warm_s": seconds[1], "peak_gb": _gpu_gb("max_memory_allocated")}
    return result


def convert(model: Path, split: Path) -> dict[str, Any]:
    started = time.perf_counter()
    finished = subprocess.run([sys.executable, "-m", "arc_console", "make-model", "--quantize", "4bit", "--layout",
                               "unsloth-bnb-4bit", "--from", str(model), "--out", str(split)], timeout=600)
    if finished.returncode != 0:
        return {"error": f"converting {model} failed (make-model exit {finished.returncode})"}
    return {"convert_s": time.perf_counter() - started}


def folder_gb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / GB


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parent))  # problems_per_step, routes, logprob_check
    if args.child is not None:
        result = run_child(args)
        args.child_out.write_text(json.dumps(result, indent=2) + "\n")
        return 0
    import shutil

    if shutil.which("nvidia-smi") is None and not args.cpu_smoke:  # no torch here: the children hold the GPU alone
        print("prequantized_load.py: needs a CUDA GPU (Unsloth loads the checkpoints); --cpu-smoke checks the "
              "plumbing on a CPU", file=sys.stderr)
        return 2
    model = Path(args.model).resolve()
    split = (args.split or model.with_name(model.name + "-unsloth-bnb-4bit")).resolve()
    result: dict[str, Any] = {"command": "python benchmarks/prequantized_load.py "
                              + " ".join(argv), "new_tokens": args.new_tokens}
    if args.split is None:
        result.update(convert(model, split))
    if "error" in result or not (split / "config.json").is_file():
        result.setdefault("error", f"{split}: no checkpoint")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")
        print(f"prequantized: FAILED ({result['error']}) -> {args.out}", flush=True)
        return 1
    result["checkpoint_gb"] = {"bf16": folder_gb(model), "prequantized": folder_gb(split)}
    root = Path(tempfile.mkdtemp(prefix="prequantized-cache-"))
    env = dict(os.environ, ARC_CONSOLE_CACHE=str(root), PYTHONUNBUFFERED="1")
    for child, path in (("bf16_then_quantize", model), ("prequantized", split)):
        out = root / f"{child}.json"
        command = [sys.executable, str(Path(__file__).resolve()), "--model", str(path), "--out", str(args.out),
                   "--new-tokens", str(args.new_tokens), "--max-seq-length", str(args.max_seq_length),
                   "--routes", *args.routes, "--child", child, "--child-out", str(out),
                   *(["--cpu-smoke"] if args.cpu_smoke else [])]
        try:
            code = subprocess.run(command, env=env, timeout=args.timeout).returncode
        except subprocess.TimeoutExpired:
            code = "timeout"
        result[child] = json.loads(out.read_text()) if code == 0 and out.is_file() else {"error": f"child exited {code}"}
    result["gpu"] = result["prequantized"].get("gpu") or result["bf16_then_quantize"].get("gpu", "unknown")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    before, after = result["bf16_then_quantize"], result["prequantized"]
    if "error" in before or "error" in after:
        print(f"prequantized: FAILED (bf16: {before.get('error', 'ok')}; prequantized: {after.get('error', 'ok')}) -> {args.out}")
        return 1
    print(f"prequantized: load {after['load_s']:.1f} s vs {before['load_s']:.1f} s (BF16 then quantize), "
          f"{_gb(after['mem_after_load_gb'])} vs {_gb(before['mem_after_load_gb'])} after load, peak "
          f"{_gb(after['peak_load_gb'])} vs {_gb(before['peak_load_gb'])}; 4-bit route "
          f"{after['routes'].get('packed', {}).get('tok_s', float('nan')):.0f} vs "
          f"{before['routes'].get('packed', {}).get('tok_s', float('nan')):.0f} tok/s -> {args.out}", flush=True)
    return 0


def _gb(value: float | None) -> str:
    return "?" if value is None else f"{value:.1f} GB"


if __name__ == "__main__":
    sys.exit(main())
