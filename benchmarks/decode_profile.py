"""Where one decode step of the static rollout engine spends its time, kernel by kernel (GPU only).

    python benchmarks/decode_profile.py --model DIR [--routes NAME ...] [--out-dir DIR]

For each route (benchmarks/gpu_step.py ROUTES) at 8 candidates after the af902bf9 prompt: the
step replayed as a CUDA graph and run eagerly (median ms over many steps), then torch.profiler over
a few eager steps: kernels per step, kernel time per step, and the kernels that take it, grouped by
name. Graph time minus kernel time is what the graph could not hide (gaps between kernels).
Writes decode_profile_DATE.json to --out-dir.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import defaultdict
from datetime import date
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).parent))
from gpu_step import ROUTES, fitted_prompt, synchronize, versions  # noqa: E402

from arc_console.engine.backends import load_policy  # noqa: E402
from arc_console.decoding.static_rollout import StaticRolloutEngine  # noqa: E402

TEMPS = [0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3]
NEW_TOKENS = 512


def median_ms(run_step, repeats: int, rounds: int = 5) -> float:
    times = []
    for _ in range(rounds):
        synchronize()
        started = time.perf_counter()
        for _ in range(repeats):
            run_step()
        synchronize()
        times.append((time.perf_counter() - started) * 1000 / repeats)
    return statistics.median(times)


def kernel_table(run_step, steps: int) -> dict:
    """Kernels of `steps` eager steps, aggregated by name, per step."""
    synchronize()
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        for _ in range(steps):
            run_step()
        synchronize()
    total_us: dict[str, float] = defaultdict(float)
    count: dict[str, int] = defaultdict(int)
    for event in prof.events():
        if event.device_type == torch.autograd.DeviceType.CUDA:
            total_us[event.name] += event.time_range.elapsed_us()
            count[event.name] += 1
    ranked = sorted(total_us, key=total_us.get, reverse=True)
    return {
        "kernels_per_step": sum(count.values()) / steps,
        "kernel_ms_per_step": sum(total_us.values()) / steps / 1000,
        "top_kernels": [{"name": name[:160], "ms_per_step": total_us[name] / steps / 1000,
                         "calls_per_step": count[name] / steps} for name in ranked[:30]],
    }


def rollout_parts(engine: StaticRolloutEngine, prompt: str) -> dict:
    """A second rollout (the first built and captured everything), with the time it spends outside
    the decode steps: folding the adapters in, and the prompt's prefill."""
    spent: dict[str, float] = {}

    def timed(name, function):
        def run(*args):
            synchronize()
            started = time.perf_counter()
            function(*args)
            synchronize()
            spent[name] = spent.get(name, 0.0) + time.perf_counter() - started
        return run

    weights = engine.weights
    refresh, prefill = weights.refresh_lora, engine._prefill
    weights.refresh_lora, engine._prefill = timed("lora_refresh_s", refresh), timed("prefill_s", prefill)
    try:
        rollout = engine.generate([prompt], TEMPS, max_new_tokens=NEW_TOKENS)
    finally:
        del weights.refresh_lora, engine._prefill  # back to the methods
    return {"rollout_tok_s": rollout.tokens_generated / rollout.seconds, "rollout_s": rollout.seconds, **spent}


def profile_route(policy, route: str, prompt: str, steps: int) -> dict:
    engine = StaticRolloutEngine(policy, **ROUTES[route])
    rollout = engine.generate([prompt], TEMPS, max_new_tokens=NEW_TOKENS)  # a cache of the real size, the captured step
    state = engine._decode_state  # the benchmark reaches in: the step itself is what it measures
    width = len(rollout.prompt_ids[0])
    result: dict = {"engine": engine.describe(), "engine_gb": engine.memory_bytes() / 1024**3,
                    "cache_slots": state.decoder.max_len}
    result.update(rollout_parts(engine, prompt))

    def from_midway(step):
        """The step, rewound every 64 steps (on the device, no sync): it decodes around the middle of
        the answer, never past the cache's end."""
        taken = [0]

        def rewind_then_step():
            if taken[0] % 64 == 0:
                state.slot.fill_(width + NEW_TOKENS // 2)
                state.step.fill_(NEW_TOKENS // 2)
            taken[0] += 1
            step()
        return rewind_then_step

    with torch.no_grad():
        if state.graph is not None:
            result["graph_ms_per_step"] = median_ms(from_midway(state.graph.replay), 50)
        result["eager_ms_per_step"] = median_ms(from_midway(state.step_once), 10, rounds=3)
        result.update(kernel_table(from_midway(state.step_once), steps))
    if "graph_ms_per_step" in result:
        result["graph_gap_ms_per_step"] = result["graph_ms_per_step"] - result["kernel_ms_per_step"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--backend", default="unsloth")
    parser.add_argument("--routes", nargs="+", default=list(ROUTES))
    parser.add_argument("--steps", type=int, default=4, help="eager steps under the profiler")
    parser.add_argument("--out-dir", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    policy = load_policy(args.model, args.backend, lora_r=16, lora_alpha=32, max_seq_length=2048)
    prompt, prompt_tokens = fitted_prompt(policy.tokenizer, 2048 - 512)
    result: dict = {"gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu", "date": date.today().isoformat(),
                    "command": "python benchmarks/decode_profile.py " + " ".join(sys.argv[1:]),
                    "versions": versions(), "candidates": len(TEMPS), "prompt_tokens": prompt_tokens, "routes": {}}
    args.out_dir.mkdir(parents=True, exist_ok=True)
    path = args.out_dir / f"decode_profile_{result['date']}.json"
    for route in args.routes:
        try:
            result["routes"][route] = profile_route(policy, route, prompt, args.steps)
        except Exception as exc:  # one route failing says so and leaves the others measured
            result["routes"][route] = {"error": f"{type(exc).__name__}: {str(exc)[:300]}"}
        if torch.cuda.is_available():
            torch.cuda.empty_cache()  # the route's engine and caches are gone with profile_route's frame
        summary = {k: v for k, v in result["routes"][route].items() if k != "top_kernels"}
        print(route, json.dumps(summary), flush=True)
        for kernel in result["routes"][route].get("top_kernels", [])[:12]:
            print(f"    {kernel['ms_per_step']:7.3f} ms  x{kernel['calls_per_step']:6.1f}  {kernel['name'][:110]}")
        path.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
