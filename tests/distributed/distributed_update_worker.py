"""Run by torchrun with 2 ranks (test_distributed.py): the update of one step whose kept groups the ranks hold
unevenly (2 and 1, of different token counts) or not at all (rank 1 none), for the objectives; rank 0 also
makes the same update in one process over every group. Then DAPO's draws of 3 slots (split 1 and 2), refilled
by rounds of 2 and 1 slots (split 1/1, then 0/1: a rank with no slot), against one process's draws.
Rank 0 writes what each way gave, per case."""

import json
import sys

import torch

from arc_console.config import build_config
from arc_console.decoding.samples import Sample
from arc_console.distributed.ranks import Ranks, join_process_group, single_process
from arc_console.engine.dynamic_sampling import draw_groups
from arc_console.engine.backends import load_policy
from arc_console.engine.objective_registry import get_objective
from arc_console.engine.optimizer import build_optimizer
from arc_console.engine.phase_timer import PhaseTimer
from arc_console.engine.step_groups import Group
from arc_console.engine.update import policy_update

CASES = [("dapo", "uneven"), ("grpo", "uneven"), ("dr_grpo", "uneven"), ("preference", "uneven"), ("dapo", "empty"),
         ("grpo", "empty")]
K = 4
REWARDS = [[1.0, 0.0, 0.5, 0.25], [0.2, 0.9, 0.9, -0.1], [1.5, 0.0, 0.0, 0.75]]
FIGURES = ("loss", "grad_norm", "clip_fraction", "ratio_mean", "approx_kl", "entropy")


def groups(stop_id: int) -> list[Group]:
    """Three groups of K completions of different lengths (group 2's are the longest), some truncated."""
    generator = torch.Generator().manual_seed(0)
    made = []
    for g, rewards in enumerate(REWARDS):
        samples = []
        for k in range(K):
            length = 2 + (3 * k + 5 * g) % 7 + 4 * (g == 2)
            ids = [int(t) for t in torch.randint(20, 100, (length,), generator=generator)]
            truncated = k == 1
            samples.append(Sample(group=g, temperature=0.6 + 0.2 * k, completion_ids=ids if truncated else ids + [stop_id],
                                  text="", truncated=truncated))
        prompt = [int(t) for t in torch.randint(20, 100, (5 + g,), generator=generator)]
        made.append(Group(problem=None, prompt_ids=prompt, samples=samples,
                          candidates=[{"accuracy": max(0.0, min(1.0, r))} for r in rewards], rewards=list(rewards),
                          task_rewards=list(rewards)))
    return made


def update(objective: str, held: list[Group], ranks: Ranks) -> tuple[dict, dict, dict]:
    config = build_config("tiny", None, {"model": "tiny-random", "objective": objective, "lora_r": 4,
                                         "learning_rate": 1e-2, "updates_per_rollout": 2, "mask_truncated": True,
                                         "num_candidates": K, "seed": 3})
    policy = load_policy(config.model, "hf", config.lora_r, config.lora_alpha, 512, seed=config.seed)
    initial = {name: p.detach().clone() for name, p in policy.trainable_parameters().items()}
    optimizer, scheduler = build_optimizer(policy, config)
    stats = policy_update(policy, optimizer, scheduler, config, held, ranks, PhaseTimer())
    weights = {name: p.detach().clone() for name, p in policy.trainable_parameters().items()}
    return initial, weights, stats


def largest_difference(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max(float((a[n] - b[n]).abs().max()) for n in a)


ranks = join_process_group()
stop = load_policy("tiny-random", "hf", 0, 1, 512).stop_token_ids[0]
report = {}
for objective, split in CASES:
    every = groups(stop)
    if split == "uneven":
        held = every[:2] if ranks.rank == 0 else every[2:]
    else:
        held = every if ranks.rank == 0 else []
    _, weights, stats = update(objective, held, ranks)
    others = ranks.all_gather(weights)
    if ranks.is_main:
        initial, single, single_stats = update(objective, every, Ranks())
        report[f"{objective}-{split}"] = {
            "ranks_agree": largest_difference(others[0], others[1]),
            "equals_one_process": largest_difference(others[0], single),
            "moved": largest_difference(single, initial),
            "figures": {name: [stats.get(name), single_stats.get(name)] for name in FIGURES},
        }

# DAPO's dynamic sampling over the ranks: slots 0, 2 and 3 are degenerate (equal rewards), so 3 wanted groups
# take the first round (slots 0-2), a refill of 2 (slots 3-4) and one of 1 (slot 5).
DEGENERATE = {0, 2, 3}


def group_for(slot: int) -> Group:
    rewards = [0.5] * K if slot in DEGENERATE else [slot * 0.1 + k * 0.25 for k in range(K)]
    return Group(problem=slot, prompt_ids=[slot], samples=[], candidates=[{"accuracy": r} for r in rewards],  # type: ignore[arg-type]
                 rewards=rewards, task_rewards=rewards)


rolled: list[list[int]] = []


def roll_out(problems: list, slots: list[int]) -> list[Group]:
    rolled.append(list(slots))
    return [group_for(slot) for slot in slots]


draws = draw_groups(roll_out, lambda slot: slot, get_objective("dapo"), 3, 3, ranks)
everyone_rolled = ranks.all_gather(rolled)
everyone_mine = ranks.all_gather([g.problem for g in draws.mine])
everyone_drawn = ranks.all_gather([g.problem for g in draws.groups])
alone = draw_groups(lambda problems, slots: [group_for(slot) for slot in slots], lambda slot: slot,
                    get_objective("dapo"), 3, 3, single_process())
report["draws"] = {"rolled": everyone_rolled, "mine": everyone_mine, "drawn": everyone_drawn,
                   "kept": [g.problem for g in draws.kept], "rounds": draws.rollouts,
                   "alone_drawn": [g.problem for g in alone.groups], "alone_kept": [g.problem for g in alone.kept],
                   "alone_rounds": alone.rollouts}
if ranks.is_main:
    with open(sys.argv[1], "w") as out:
        json.dump(report, out, indent=1)
ranks.shutdown()
