"""Time to the first training step in a fresh process, cold and with a warm compile cache: two child processes,
one after the other, the second reusing what the first compiled (arc_console/engine/compile_cache.py).

    python benchmarks/first_step.py --model DIR --out ours.json --routes          # GPU: unsloth, our routes too
    python benchmarks/first_step.py --model tiny --backend hf --new-tokens 32 --out first_step_cpu.json  # CPU

Each child counts from its own start: imports (Unsloth's among them on its backend), the compile cache made
ready for the run's settings, the model's load, then the trainer's first step on the default route (the static
engine sized as the trainer sizes it: one problem x 8 candidates, the longest prompt + new tokens; a rollout,
then the trainer's DAPO update, engine/update.py): time_to_first_step_s is the child's start to that step's
end, first_step_s the step alone. The children share one fresh cache root (ARC_CONSOLE_CACHE), and with it a
fresh Unsloth compiled-module folder and Mega-cache: the cold child finds nothing compiled by earlier runs on
the machine, the warm one finds exactly what the cold one left. On a CPU the static engine's ops compile too
(inductor's C++ backend), which a CPU run of the trainer does not do: it is the compile path, measured.

--routes: the cold child then measures the steps a record needs, in the same process: 2 more steps on the
default route (fp8 expert copies where auto picks them) and the 4-bit route (experts packed, our NF4 kernel),
its first step then 2 more: tok_s and step_s are medians, peak_step_gb the largest peak of those steps.
Rewards are random (seeded), as in problems_per_step.py; the optimizer is AdamW at learning rate 0.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PROCESS_STARTED = time.perf_counter()
GB = 1024**3
TEMPERATURES = [0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3]
ROUTE_STEPS = 2  # steps measured per route after its first (a 10-minute call holds the peer's too)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="a GPT-OSS checkpoint folder, or tiny / tiny-random")
    parser.add_argument("--backend", default="unsloth", choices=["unsloth", "hf"])
    parser.add_argument("--new-tokens", type=int, default=512)
    parser.add_argument("--max-seq-length", type=int, default=2048)
    parser.add_argument("--out", type=Path, help="the JSON to write (the parent's)")
    parser.add_argument("--routes", action="store_true", help="the cold child also measures both routes' steps")
    parser.add_argument("--cache-root", type=Path, help="the children's ARC_CONSOLE_CACHE (default: a fresh temporary folder)")
    parser.add_argument("--timeout", type=int, default=480, help="seconds each child may take")
    parser.add_argument("--child", choices=["cold", "warm"], help=argparse.SUPPRESS)
    parser.add_argument("--child-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is None and args.out is None:
        parser.error("--out is required")
    return args


# ----------------------------------------------------------------------------------------------- the child


def _sync() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def _reset_peak() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()


def _peak_gb() -> float | None:
    import torch

    return torch.cuda.max_memory_allocated() / GB if torch.cuda.is_available() else None


class StepRunner:
    """One route's engine and the trainer's update, as problems_per_step.py drives them."""

    def __init__(self, policy: Any, problem: Any, args: argparse.Namespace, route: dict) -> None:
        import torch

        from arc_console.decoding.rollout_engine import RolloutEngine
        from arc_console.decoding.static_rollout import StaticRolloutEngine
        from arc_console.engine.prompt_fitting import longest_rollout_tokens
        from problems_per_step import update_config

        self.policy, self.problem, self.notices = policy, problem, []
        cache_tokens = longest_rollout_tokens([problem], policy.tokenizer, args.new_tokens)
        self.engine = RolloutEngine(policy, StaticRolloutEngine(policy, rows=len(TEMPERATURES), cache_tokens=cache_tokens,
                                                                on_notice=self.notices.append, **route))
        self.config = update_config(len(TEMPERATURES), args.new_tokens, args.max_seq_length, 256, 1)
        self.optimizer = torch.optim.AdamW(policy.trainable_parameters().values(), lr=0.0)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lambda updates: 1.0)
        self.new_tokens = args.new_tokens
        self.steps = 0

    def step(self) -> dict[str, float | None]:
        from arc_console.distributed.ranks import single_process
        from arc_console.engine.phase_timer import PhaseTimer
        from arc_console.engine.update import policy_update
        from problems_per_step import scored_groups

        _sync()
        _reset_peak()
        started = time.perf_counter()
        rollout = self.engine.generate([self.problem.prompt], TEMPERATURES, self.new_tokens)
        _sync()
        rollout_s = time.perf_counter() - started
        policy_update(self.policy, self.optimizer, self.scheduler, self.config,
                      scored_groups([self.problem], rollout, len(TEMPERATURES), self.steps), single_process(), PhaseTimer())
        _sync()
        step_s = time.perf_counter() - started
        self.steps += 1
        return {"step_s": step_s, "rollout_s": rollout_s, "update_s": step_s - rollout_s,
                "tok_s": rollout.tokens_generated / rollout_s, "tokens": rollout.tokens_generated,
                "peak_step_gb": _peak_gb()}


def route_figures(runner: StepRunner, first: dict) -> dict[str, Any]:
    """The route's first step, then ROUTE_STEPS more: medians and the largest peak of those."""
    import statistics

    steps = [runner.step() for _ in range(ROUTE_STEPS)]
    peaks = [s["peak_step_gb"] for s in steps if s["peak_step_gb"] is not None]
    figures = {"tok_s": statistics.median(s["tok_s"] for s in steps),
               "step_s": statistics.median(s["step_s"] for s in steps),
               "peak_step_gb": max(peaks) if peaks else None, "first_step_s": first["step_s"],
               "steps": steps, "engine": runner.engine.describe(), "notices": runner.notices}
    print("route", json.dumps({k: v for k, v in figures.items() if k not in ("steps", "notices")}), flush=True)
    return figures


def run_child(args: argparse.Namespace) -> dict[str, Any]:
    """The child's figures; written to --child-out as each part ends, so a child cut short keeps what it measured."""
    import torch

    from arc_console.engine.unsloth_first import import_unsloth_first

    import_unsloth_first(args.backend)
    from arc_console.engine.backends import apply_cpu_threads, load_policy, resolve_model_path
    from arc_console.engine.compile_cache import activate_compile_cache, cache_counters
    from arc_console.decoding.compilations import compilations
    from problems_per_step import sweep_problems
    from routes import DEFAULT_ROUTE, ROUTES, SMALL_ROUTE

    on_gpu = torch.cuda.is_available()
    result: dict[str, Any] = {"child": args.child, "import_s": time.perf_counter() - PROCESS_STARTED,
                              "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"}
    settings = {"backend": args.backend, "load_in_4bit": True, "lora_r": 16, "rollout_engine": "static",
                "rollout_experts": "auto", "num_candidates": len(TEMPERATURES), "problems_per_step": 1,
                "max_new_tokens": args.new_tokens, "max_seq_length": args.max_seq_length, "world_size": 1}
    cache = activate_compile_cache(resolve_model_path(args.model), settings)
    result.update(cache_state=cache.state, cache_line=cache.message)
    print(cache.message, flush=True)
    started = time.perf_counter()
    policy = load_policy(args.model, args.backend, lora_r=16, lora_alpha=32, max_seq_length=args.max_seq_length)
    _sync()
    result["load_s"] = time.perf_counter() - started
    result["cpu_threads"] = apply_cpu_threads(0, policy)  # as the trainer picks them (one for a small model)
    (problem,) = sweep_problems(policy.tokenizer, args.max_seq_length, args.new_tokens)[:1]
    result["prompt_tokens"] = len(policy.tokenizer(problem.prompt, add_special_tokens=False)["input_ids"])
    # The trainer's default route; on a CPU its ops compiled (the trainer leaves them eager there).
    route = dict(ROUTES[DEFAULT_ROUTE], experts_format="auto") if on_gpu else dict(compiled_ops=True)
    runner = StepRunner(policy, problem, args, route)
    first = runner.step()
    result.update(time_to_first_step_s=time.perf_counter() - PROCESS_STARTED, first_step=first,
                  first_step_s=first["step_s"], compilations_at_first_step=compilations(),
                  cache_counters=cache_counters(), engine=runner.engine.describe(), notices=runner.notices)
    print(f"{args.child}: first step {first['step_s']:.1f} s, {result['time_to_first_step_s']:.1f} s after the "
          f"process started ({json.dumps(result['cache_counters'])})", flush=True)
    save = lambda: args.child_out.write_text(json.dumps(result, indent=2) + "\n")  # noqa: E731
    save()
    if args.routes:
        result["default_route"] = route_figures(runner, first)
        save()
        del runner
        gc.collect()
        if on_gpu:
            torch.cuda.empty_cache()
        small = StepRunner(policy, problem, args, SMALL_ROUTE)
        result["small_route"] = route_figures(small, small.step())
    return result


# ---------------------------------------------------------------------------------------------- the parent


def summarize(result: dict[str, Any]) -> None:
    """The record's figures from the children's: first steps cold and warm, the routes from the cold child."""
    cold, warm = result.get("cold", {}), result.get("warm", {})
    result["gpu"] = cold.get("gpu", "unknown")
    result["time_to_first_step_s"] = {"cold": cold.get("time_to_first_step_s"), "warm_cache": warm.get("time_to_first_step_s")}
    result["first_step_s"] = {"cold": cold.get("first_step_s"), "warm_cache": warm.get("first_step_s")}
    for name in ("default_route", "small_route"):
        if name in cold:
            result[name] = {k: cold[name][k] for k in ("tok_s", "step_s", "peak_step_gb", "first_step_s")}


def run_children(args: argparse.Namespace, argv: list[str], result: dict[str, Any]) -> None:
    """The cold child, then the warm one; `result` is written to --out after each."""
    root = args.cache_root or Path(tempfile.mkdtemp(prefix="first-step-cache-"))
    env = dict(os.environ, ARC_CONSOLE_CACHE=str(root), PYTHONUNBUFFERED="1",
               UNSLOTH_COMPILE_LOCATION=str(root / "unsloth_compiled_cache"),
               UNSLOTH_MEGA_CACHE_DIR=str(root / "unsloth_mega_cache"))
    for variable in ("TORCHINDUCTOR_CACHE_DIR", "TRITON_CACHE_DIR"):  # the children's caches are the root's alone
        env.pop(variable, None)
    result.update(command="python benchmarks/first_step.py " + " ".join(argv), cache_root=str(root))
    passed = [a for a in argv if a != "--routes"]
    model = Path(args.model)
    if model.exists():  # a folder named relative to where the parent started
        passed[passed.index(args.model)] = str(model.resolve())
    for child in ("cold", "warm"):
        out = root / f"{child}.json"
        command = [sys.executable, str(Path(__file__).resolve()), *passed, "--child", child, "--child-out", str(out)]
        if child == "cold" and args.routes:
            command.append("--routes")
        started = time.perf_counter()
        try:
            finished = subprocess.run(command, env=env, timeout=args.timeout)
            code = finished.returncode
        except subprocess.TimeoutExpired:
            code = "timeout"
        result[f"{child}_wall_s"] = time.perf_counter() - started
        result[child] = json.loads(out.read_text()) if out.is_file() else {}
        if code != 0:  # what it measured before it failed or ran out of time stays
            result[child]["error"] = f"child exited {code}"
        summarize(result)
        args.out.write_text(json.dumps(result, indent=2) + "\n")  # a parent cut short keeps what is done
        if "time_to_first_step_s" not in result[child]:
            break


def describe_machine() -> dict[str, Any]:
    """Without torch: the parent must not hold a CUDA context while the children measure."""
    import importlib.metadata as md
    import platform

    found: dict[str, Any] = {"cpu_cores": os.cpu_count(), "load_average": os.getloadavg(),
                             "python": platform.python_version(), "versions": {}}
    for name in ("torch", "triton", "transformers", "peft", "unsloth", "unsloth_zoo", "bitsandbytes", "arc-console"):
        try:
            found["versions"][name] = md.version(name)
        except md.PackageNotFoundError:
            continue
    return found


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parent))  # problems_per_step, routes
    if args.child is not None:
        result = run_child(args)
        args.child_out.write_text(json.dumps(result, indent=2) + "\n")
        return 0
    from datetime import date

    result = {"date": date.today().isoformat(), "model": args.model, "backend": args.backend,
              "candidates": len(TEMPERATURES), "new_tokens": args.new_tokens, **describe_machine()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    run_children(args, argv, result)
    times, firsts = result["time_to_first_step_s"], result["first_step_s"]
    failed = [child for child in ("cold", "warm") if "error" in result.get(child, {"error": "not run"})]
    print(f"first step: cold {_seconds(times['cold'])} after start ({_seconds(firsts['cold'])} the step), warm cache "
          f"{_seconds(times['warm_cache'])} ({_seconds(firsts['warm_cache'])})"
          + (f"; FAILED: {', '.join(failed)}" if failed else "") + f" -> {args.out}", flush=True)
    return 1 if failed else 0


def _seconds(value: float | None) -> str:
    return "?" if value is None else f"{value:.1f} s"


if __name__ == "__main__":
    sys.exit(main())
