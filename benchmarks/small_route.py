"""The 24 GB route of benchmarks/gpu_step.py (--small-route-only): the static engine with the experts
left in 4 bits and read by our NF4 kernel (decoding/nf4_triton.py), beside Unsloth's generate, in the
same process:

- baseline_unsloth_generate_tok_s: Unsloth's batched generate, K candidates x N new tokens;
- small_route: {tok_s, peak_step_gb, step_s, ...}: the engine sized as the trainer sizes it at P=1, its
  rollout then the trainer's update (engine/update.py) over that rollout's group; the peak counter is
  reset before the timed rollout, so peak_step_gb is the whole step's; update_micro_rows: the same
  update cut into 4, 3 and 2 rows per pass (--update-micro-rows), its seconds and the step's peak;
- small_route_problems_per_step: the P sweep (problems_per_step.py) on this route.

Importable without a GPU: only measure_small_route needs one.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any, Callable

import torch

from arc_console.decoding.rollout_engine import RolloutEngine
from arc_console.decoding.static_rollout import StaticRolloutEngine
from arc_console.distributed.ranks import single_process
from arc_console.engine.phase_timer import PhaseTimer
from arc_console.engine.prompt_fitting import longest_rollout_tokens
from arc_console.engine.update import policy_update
from problems_per_step import scored_groups, sweep_problems, update_config
from routes import SMALL_ROUTE

GB = 1024**3
MICRO_ROWS = (4, 3, 2)  # --update-micro-rows compared with whole groups


def _synchronize() -> None:
    torch.cuda.synchronize()


def measure_small_route(policy: Any, temps: list[float], new_tokens: int, max_seq_length: int, chunk: int,
                        result: dict, logprob_difference: Callable[[Any, Any], float],
                        save: Callable[[], None]) -> None:
    """Fills result["baseline_unsloth_generate_tok_s"] and result["small_route"]; `save` is called after each."""
    (problem,) = sweep_problems(policy.tokenizer, max_seq_length, new_tokens)[:1]
    prompts = [problem.prompt]

    baseline = RolloutEngine(policy)  # Unsloth's (or transformers') generate
    baseline.generate(prompts, temps, 8)  # warm-up
    _synchronize()
    started = time.perf_counter()
    rollout = baseline.generate(prompts, temps, new_tokens)
    _synchronize()
    seconds = time.perf_counter() - started
    result["baseline_unsloth_generate_tok_s"] = rollout.tokens_generated / seconds
    result["baseline_unsloth_generate_s"] = seconds
    result["baseline_unsloth_generate_tokens"] = rollout.tokens_generated
    print("baseline", result["baseline_unsloth_generate_tok_s"], flush=True)
    save()

    torch.cuda.empty_cache()
    notices: list[str] = []
    cache_tokens = longest_rollout_tokens([problem], policy.tokenizer, new_tokens)  # as the trainer sizes it
    engine = RolloutEngine(policy, StaticRolloutEngine(policy, rows=len(temps), cache_tokens=cache_tokens,
                                                       on_notice=notices.append, **SMALL_ROUTE))
    config = update_config(len(temps), new_tokens, max_seq_length, chunk, micro_groups=1)
    optimizer = torch.optim.AdamW(policy.trainable_parameters().values(), lr=0.0)  # real moments, same model
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda updates: 1.0)

    def update(rollout_now: Any, micro_rows: int = 0) -> None:
        policy_update(policy, optimizer, scheduler, replace(config, update_micro_rows=micro_rows),
                      scored_groups([problem], rollout_now, len(temps), 0), single_process(), PhaseTimer())

    small: dict = result.setdefault("small_route", {})
    started = time.perf_counter()
    update(engine.generate(prompts, temps, new_tokens))  # compiles, captures the graph, warms the update
    _synchronize()
    small["first_step_s"] = time.perf_counter() - started
    small["engine"], small["notices"], small["cache_tokens"] = engine.describe(), notices, cache_tokens
    torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    rollout = engine.generate(prompts, temps, new_tokens)
    _synchronize()
    rollout_s = time.perf_counter() - started
    small["peak_rollout_gb"] = torch.cuda.max_memory_allocated() / GB
    started = time.perf_counter()
    update(rollout)
    _synchronize()
    update_s = time.perf_counter() - started
    small.update(tok_s=rollout.tokens_generated / rollout_s, rollout_s=rollout_s, update_s=update_s,
                 step_s=rollout_s + update_s, peak_step_gb=torch.cuda.max_memory_allocated() / GB,
                 tokens=rollout.tokens_generated, engine_gb=engine.static.memory_bytes() / GB
                 if getattr(engine, "static", None) is not None else None)
    small["speedup_over_baseline"] = small["tok_s"] / result["baseline_unsloth_generate_tok_s"]
    print("small route", {k: v for k, v in small.items() if k != "notices"}, flush=True)
    save()
    small["max_abs_logprob_diff"] = logprob_difference(policy, rollout)
    save()
    # The same rollout's update cut into rows (--update-micro-rows): its time and the step's peak.
    by_rows = small["update_micro_rows"] = {}
    for micro_rows in MICRO_ROWS:
        update(rollout, micro_rows)  # a new batch shape's warm-up
        _synchronize()
        torch.cuda.reset_peak_memory_stats()
        started = time.perf_counter()
        update(rollout, micro_rows)
        _synchronize()
        by_rows[str(micro_rows)] = {"update_s": time.perf_counter() - started,
                                    "peak_update_gb": torch.cuda.max_memory_allocated() / GB,
                                    "peak_step_gb": max(small["peak_rollout_gb"], torch.cuda.max_memory_allocated() / GB),
                                    "step_s": rollout_s + time.perf_counter() - started}
        print("micro rows", micro_rows, by_rows[str(micro_rows)], flush=True)
        save()
    optimizer.zero_grad(set_to_none=True)
