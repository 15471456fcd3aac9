"""Which candidate test-time training should answer with: every selection rule on the same pools, offline.

benchmarks/test_time_modes.py keeps, per (seed, task, SFT budget), the pool of the base model's and the
tuned model's candidates with each candidate's votes from either model and its product-of-experts score
(its log-probability under every view, summed) under either model. Every rule below ranks that same pool
(or the part of it one model found), so the rules differ only in how they choose, never in what was
sampled; `oracle` is the best any rule could do (a right candidate anywhere in the pool).
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Callable

Record = dict  # one candidate: right, votes {base, tuned}, score {base, tuned}, mean_sample_logprob

RULES: dict[str, tuple[str, Callable[[Record], tuple]]] = {
    # name: (which candidates, sort key: smaller first)
    "plain votes": ("base", lambda c: (-c["votes"]["base"], -c["mean_sample_logprob"])),
    "plain logprob": ("base", lambda c: (-c["score"]["base"],)),
    "sft votes": ("tuned", lambda c: (-c["votes"]["tuned"], -c["mean_sample_logprob"])),
    "sft logprob": ("tuned", lambda c: (-c["score"]["tuned"],)),
    "pool votes": ("any", lambda c: (-(c["votes"]["base"] + c["votes"]["tuned"]), -c["mean_sample_logprob"])),
    "pool logprob base": ("any", lambda c: (-c["score"]["base"],)),
    "pool logprob tuned": ("any", lambda c: (-c["score"]["tuned"],)),
    "pool logprob base+tuned": ("any", lambda c: (-(c["score"]["base"] + c["score"]["tuned"]),)),
}


def candidate_record(candidate, target, view_scores: dict[str, list[float]] | None = None) -> Record:
    """What a rule needs of one pooled candidate (evaluation/candidates.py's Candidate); with `view_scores`
    (per model, the candidate's log-probability under each view), those too, and the grid's size."""
    record = {"right": candidate.grid == target,
              "votes": {m: candidate.found_by.get(m, 0) for m in ("base", "tuned")},
              "score": {m: round(candidate.expert_scores.get(m, float("-inf")), 4) for m in ("base", "tuned")},
              "mean_sample_logprob": round(candidate.mean_sample_logprob, 4)}
    if view_scores is not None:
        record["view_scores"] = {m: [round(v, 4) for v in view_scores[m]] for m in ("base", "tuned")}
        record["cells"] = len(candidate.grid) * len(candidate.grid[0])
    return record


def order(pool: list[Record], rule: str) -> list[int]:
    """The indices of the candidates `rule` may pick, its best first (ties keep pool order: the sort is stable)."""
    which, key = RULES[rule]
    mine = [i for i, c in enumerate(pool) if which == "any" or c["votes"][which] > 0]
    return sorted(mine, key=lambda i: key(pool[i]))


def picks_right(pool: list[Record], rule: str, tries: int = 2) -> bool:
    """Whether one of the rule's first `tries` attempts is right."""
    if rule == "oracle":
        return any(c["right"] for c in pool)
    return any(pool[i]["right"] for i in order(pool, rule)[:tries])


def task_score(tests: list[list[Record]], rule: str, tries: int = 2) -> float:
    return sum(picks_right(pool, rule, tries) for pool in tests) / len(tests)


def family(task_id: str) -> str:
    match = re.fullmatch(r"syn-heldout-(.+)-\d+", task_id)
    return match.group(1) if match else task_id


def selection_table(pools: list[dict], seeds: list[int]) -> list[dict]:
    """Per SFT budget and rule: pass@2 mean over seeds, each seed's, and the spread."""
    table = []
    for budget in sorted({p["budget"] for p in pools}):
        mine = [p for p in pools if p["budget"] == budget]
        for rule in [*RULES, "oracle"]:
            per_seed = [statistics.mean(task_score(p["tests"], rule) for p in mine if p["seed"] == s)
                        for s in seeds if any(p["seed"] == s for p in mine)]
            change = [task_score(p["tests"], rule) - task_score(p["tests"], "plain votes") for p in mine]
            table.append({"budget": budget, "sft_steps": mine[0]["sft_steps"], "rule": rule,
                          "pass_at_2_mean": round(statistics.mean(per_seed), 4),
                          "pass_at_2_per_seed": [round(v, 4) for v in per_seed],
                          "pass_at_2_stdev": round(statistics.pstdev(per_seed), 4),
                          # (task, seed) runs this rule solves that plain eval (votes) does not, and the reverse
                          "gained_vs_plain": sum(c > 0 for c in change), "lost_vs_plain": sum(c < 0 for c in change)})
    return table


def family_table(pools: list[dict], budget: int, rules: list[str]) -> dict[str, dict]:
    """Per task family at one budget: runs (task x seed) and each rule's mean pass@2 over them."""
    families: dict[str, list[dict]] = {}
    for p in pools:
        if p["budget"] == budget:
            families.setdefault(family(p["task_id"]), []).append(p)
    return {name: {"runs": len(mine), **{rule: round(statistics.mean(task_score(p["tests"], rule) for p in mine), 3)
                                          for rule in rules}}
            for name, mine in sorted(families.items())}
