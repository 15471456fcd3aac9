"""The P sweep of benchmarks/gpu_step.py: P problems x K candidates rolled out in one batch, then the
trainer's own update (engine/update.py: micro-batches of --update-micro-groups groups, DAPO), for
P = 1, 2, 4, 8. Per P: the step's peak memory (rollout + update, the peak counter reset before the
timed rollout) and its seconds. Engines are sized as the trainer sizes them.

Rewards are random (seeded) so every group has advantages to train on; the optimizer is the trainer's
AdamW at learning rate 0, so the update's memory (moments included) and time are real while every P
decodes the same model. Importable without a GPU: only measure_problems_per_step needs one.
"""

from __future__ import annotations

import random
import time
from typing import Any

import torch

from arc_console.arc import load_tasks, select_tasks
from arc_console.config import TrainConfig
from arc_console.decoding.rollout_engine import RolloutEngine
from arc_console.decoding.samples import Rollout
from arc_console.decoding.static_rollout import StaticRolloutEngine
from arc_console.distributed.ranks import single_process
from arc_console.engine.phase_timer import PhaseTimer
from arc_console.engine.prompt_fitting import fit_prompts, longest_rollout_tokens
from arc_console.engine.step_groups import Group, Problem
from arc_console.engine.update import policy_update

GB = 1024**3
COUNTS = (1, 2, 4, 8)
# ARC-AGI-1 training tasks, af902bf9 (the seed's example) first: problem i of a step is TASK_IDS[i].
TASK_IDS = ["af902bf9", "6150a2bd", "3c9b0459", "25ff71a9", "a85d4709", "d4469b4b", "a416b8f3", "b1948b0a"]
RESULT_KEYS = ("problems_per_step", "problems_per_step_seconds", "problems_per_step_tokens",
               "problems_per_step_update_s", "problems_per_step_step_s", "problems_per_step_peak_gb",
               "problems_per_step_rollout_peak_gb")


def _synchronize() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def sweep_problems(tokenizer: Any, max_seq_length: int, new_tokens: int) -> list[Problem]:
    """The sweep's problems, each prompt fitted to max_seq_length - new_tokens as the trainer fits them."""
    tasks = select_tasks(load_tasks("arc1-training"), TASK_IDS)
    return fit_prompts(tasks, tokenizer, max_seq_length, new_tokens, warn=lambda message: None)


def scored_groups(problems: list[Problem], rollout: Rollout, candidates: int, seed: int) -> list[Group]:
    """The rollout's groups with random rewards: distinct within each group, so every group trains."""
    draw = random.Random(seed)
    groups = []
    for index, problem in enumerate(problems):
        rewards = [draw.random() for _ in range(candidates)]
        groups.append(Group(problem, rollout.prompt_ids[index], rollout.samples[index * candidates:(index + 1) * candidates],
                            candidates=[{"accuracy": r} for r in rewards], rewards=rewards, task_rewards=list(rewards)))
    return groups


def update_config(candidates: int, new_tokens: int, max_seq_length: int, chunk: int, micro_groups: int) -> TrainConfig:
    """The trainer's DAPO update settings for the sweep."""
    return TrainConfig(objective="dapo", num_candidates=candidates, max_new_tokens=new_tokens,
                       max_seq_length=max_seq_length, logprob_chunk_tokens=chunk, update_micro_groups=micro_groups)


def measure_problems_per_step(policy: Any, temps: list[float], new_tokens: int, max_seq_length: int, chunk: int,
                              engine_options: dict, result: dict, micro_groups: int = 1) -> None:
    """P problems x len(temps) candidates in one rollout on the static engine with `engine_options`, then the
    trainer's update over its P groups: the step's two parts, for P in COUNTS. Fills result[RESULT_KEYS]."""
    problems = sweep_problems(policy.tokenizer, max_seq_length, new_tokens)
    config = update_config(len(temps), new_tokens, max_seq_length, chunk, micro_groups)
    optimizer = torch.optim.AdamW(policy.trainable_parameters().values(), lr=0.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda updates: 1.0)
    result["problems_per_step_update_micro_groups"] = micro_groups
    for key in RESULT_KEYS:
        result[key] = {}

    def update(chosen: list[Problem], rollout: Rollout, seed: int) -> None:
        policy_update(policy, optimizer, scheduler, config, scored_groups(chosen, rollout, len(temps), seed),
                      single_process(), PhaseTimer())

    for count in COUNTS:
        key = str(count)
        chosen = problems[:count]
        prompts = [p.prompt for p in chosen]
        try:
            # The engine sized for this P as the trainer sizes it: P x K rows, the longest prompt + new tokens.
            engine = None
            torch.cuda.empty_cache()
            cache_tokens = longest_rollout_tokens(chosen, policy.tokenizer, new_tokens)
            engine = RolloutEngine(policy, StaticRolloutEngine(policy, rows=count * len(temps), cache_tokens=cache_tokens,
                                                               **engine_options))
            # A full-length first call (the graph for this batch size and cache length, and its compile),
            # and a first update (a new batch shape's warm-up), neither timed.
            update(chosen, engine.generate(prompts, temps, new_tokens), seed=count)
            _synchronize()
            torch.cuda.reset_peak_memory_stats()
            started = time.perf_counter()
            rollout = engine.generate(prompts, temps, new_tokens)
            _synchronize()
            rollout_s = time.perf_counter() - started
            result["problems_per_step_rollout_peak_gb"][key] = torch.cuda.max_memory_allocated() / GB
            started = time.perf_counter()
            update(chosen, rollout, seed=count)
            _synchronize()
            update_s = time.perf_counter() - started
            result["problems_per_step"][key] = rollout.tokens_generated / rollout_s
            result["problems_per_step_seconds"][key] = rollout_s
            result["problems_per_step_tokens"][key] = rollout.tokens_generated
            result["problems_per_step_update_s"][key] = update_s
            result["problems_per_step_step_s"][key] = rollout_s + update_s
            result["problems_per_step_peak_gb"][key] = torch.cuda.max_memory_allocated() / GB  # rollout + update
        except Exception as exc:  # a P that fails (out of memory) is reported, the next is still tried
            result["problems_per_step"][key] = f"{type(exc).__name__}: {str(exc)[:200]}"
            optimizer.zero_grad(set_to_none=True)
            torch.cuda.empty_cache()
        print("P", count, result["problems_per_step"][key], result["problems_per_step_step_s"].get(key),
              result["problems_per_step_peak_gb"].get(key), flush=True)
    engine = None
    optimizer.zero_grad(set_to_none=True)
    torch.cuda.empty_cache()
