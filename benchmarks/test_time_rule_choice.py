"""Choose how pooled test-time candidates are ranked on dev tasks, then report that rule, frozen, on the test tasks.

    python benchmarks/test_time_rule_choice.py --dev DEV.json --test TEST.json [--budget 1] [--out OUT.json]

DEV.json and TEST.json are benchmarks/test_time_modes.py results (their `pools`: per run, every candidate of the
base and the tuned model with its votes and product-of-experts scores) on disjoint held-out tasks (the dev run
with --skip-tasks past the test tasks). Every rule of CANDIDATES ranks the same pools; the one with the highest
dev pass@2 is chosen (ties: the earlier in CANDIDATES, the current default first) and only then scored on the
test pools, beside the current default, plain eval (votes) and the oracle (a right candidate anywhere in the
pool), each with its runs (task x seed) gained and lost against plain eval and against the default.
Rules that read each view's score (view_scores) need pools recorded with them (test_time_modes.py records them
since this script was written).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_time_selection import order  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT = "pool logprob base+tuned"
Pool = list[dict]  # one test input's candidates (test_time_selection.candidate_record)
Ranker = Callable[[Pool], list[int]]


def by(key: Callable[[dict], float]) -> Ranker:
    """Highest `key` first; ties keep pool order."""
    return lambda pool: sorted(range(len(pool)), key=lambda i: -key(pool[i]))


def then(first: Ranker, second: Ranker) -> Ranker:
    """Attempt 1 from `first`, attempt 2 the best of `second` that attempt 1 is not, then the rest of `first`."""
    def ranked(pool: Pool) -> list[int]:
        a = first(pool)
        picks = a[:1] + [i for i in second(pool) if i not in a[:1]][:1]
        return picks + [i for i in a if i not in picks]
    return ranked


def votes(c: dict) -> int:
    return c["votes"]["base"] + c["votes"]["tuned"]


def summed(c: dict) -> float:
    return c["score"]["base"] + c["score"]["tuned"]


def per_view(c: dict, reduce: Callable[[list[float]], float]) -> float:
    return reduce(c["view_scores"]["base"]) + reduce(c["view_scores"]["tuned"])


def trimmed(worst: int) -> Callable[[list[float]], float]:
    return lambda scores: sum(sorted(scores)[worst:])


def mixture(pool: Pool) -> list[int]:
    """Each model's probabilities normalised over the pool, added (a mixture, not a product, of the two models)."""
    weight = [0.0] * len(pool)
    for model in ("base", "tuned"):
        top = max(c["score"][model] for c in pool)
        for i, c in enumerate(pool):
            weight[i] += math.exp(c["score"][model] - top)
    total = [w / max(1e-300, sum(weight)) for w in weight]
    return sorted(range(len(pool)), key=lambda i: -total[i])


def borda(pool: Pool) -> list[int]:
    """The sum of a candidate's rank by summed score and by votes (ties: by summed score)."""
    score_rank = {i: r for r, i in enumerate(by(summed)(pool))}
    vote_rank = {i: r for r, i in enumerate(by(lambda c: votes(c) + 1e-6 * summed(c))(pool))}
    return sorted(range(len(pool)), key=lambda i: (score_rank[i] + vote_rank[i], score_rank[i]))


def view_wins(pool: Pool) -> list[int]:
    """Most views (of either model) under which the candidate scores best (ties: by summed score)."""
    wins = [0] * len(pool)
    for model in ("base", "tuned"):
        for view in range(len(pool[0]["view_scores"][model])):
            wins[max(range(len(pool)), key=lambda i: pool[i]["view_scores"][model][view])] += 1
    return sorted(range(len(pool)), key=lambda i: (-wins[i], -summed(pool[i])))


def _rule(name: str) -> Ranker:
    return lambda pool: order(pool, name)


CANDIDATES: dict[str, Ranker] = {
    DEFAULT: _rule(DEFAULT),  # the product of experts over views and both models: eval's --rank logprob
    **{f"base+tuned + {lam} log votes": by(lambda c, lam=lam: summed(c) + lam * math.log(votes(c)))
       for lam in (1, 2, 4, 8, 16)},
    **{f"{w} base + {1 - w:g} tuned": by(lambda c, w=w: w * c["score"]["base"] + (1 - w) * c["score"]["tuned"])
       for w in (0.25, 0.4, 0.6, 0.75)},
    "votes, ties by base+tuned": lambda pool: sorted(range(len(pool)), key=lambda i: (-votes(pool[i]),
                                                                                    -summed(pool[i]))),
    "pool votes": _rule("pool votes"),
    "1st base+tuned, 2nd base": then(_rule(DEFAULT), _rule("pool logprob base")),
    "1st base+tuned, 2nd tuned": then(_rule(DEFAULT), _rule("pool logprob tuned")),
    "1st base+tuned, 2nd votes": then(_rule(DEFAULT), _rule("pool votes")),
    "1st tuned, 2nd base": then(_rule("pool logprob tuned"), _rule("pool logprob base")),
    "borda base+tuned and votes": borda,
    "mixture of the two models": mixture,
    "per view: min": by(lambda c: per_view(c, min)),
    "per view: max": by(lambda c: per_view(c, max)),
    "per view: median": by(lambda c: per_view(c, statistics.median)),
    **{f"per view: drop the worst {k}": by(lambda c, k=k: per_view(c, trimmed(k))) for k in (1, 2)},
    "per view: most views won": view_wins,
    "per cell: base+tuned": by(lambda c: summed(c) / c["cells"]),
}
NEEDS_VIEWS = ("per view", "per cell")


def run_score(run: dict, ranker: Ranker) -> float:
    """pass@2 of one run (task x seed): the share of its test inputs whose first two picks hold a right grid."""
    return sum(any(pool[i]["right"] for i in ranker(pool)[:2]) for pool in run["tests"] if pool) / len(run["tests"])


def oracle(pool: Pool) -> list[int]:
    return sorted(range(len(pool)), key=lambda i: not pool[i]["right"])


def plain(pool: Pool) -> list[int]:
    return order(pool, "plain votes")


def figures(runs: list[dict], ranker: Ranker, against: dict[str, Ranker]) -> dict:
    """pass@2 mean over seeds, each seed's, their spread, and runs gained/lost against each of `against`."""
    seeds = sorted({r["seed"] for r in runs})
    scores = [run_score(r, ranker) for r in runs]
    per_seed = [statistics.mean(s for s, r in zip(scores, runs) if r["seed"] == seed) for seed in seeds]
    out = {"pass_at_2_mean": round(statistics.mean(per_seed), 4), "pass_at_2_per_seed": [round(v, 4) for v in per_seed],
           "pass_at_2_stdev": round(statistics.pstdev(per_seed), 4)}
    for name, other in against.items():
        change = [s - run_score(r, other) for s, r in zip(scores, runs)]
        out[f"gained_vs_{name}"], out[f"lost_vs_{name}"] = sum(c > 0 for c in change), sum(c < 0 for c in change)
    return out


def has_views(runs: list[dict]) -> bool:
    return all("view_scores" in c for r in runs for pool in r["tests"] for c in pool)


def choose(dev: list[dict]) -> tuple[str, list[dict]]:
    """Every candidate rule on the dev runs, and the one with the highest mean pass@2 (ties: the earlier)."""
    usable = {n: f for n, f in CANDIDATES.items() if has_views(dev) or not n.startswith(NEEDS_VIEWS)}
    table = [{"rule": name, **figures(dev, ranker, {"default": CANDIDATES[DEFAULT]})}
             for name, ranker in usable.items()]
    best = max(table, key=lambda row: row["pass_at_2_mean"])  # max keeps the first of equals
    return best["rule"], table


def runs_of(path: Path, budget: int) -> list[dict]:
    return [p for p in json.loads(path.read_text())["pools"] if p["budget"] == budget]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dev", type=Path, required=True, help="test_time_modes.py results on the dev tasks")
    parser.add_argument("--test", type=Path, required=True, help="test_time_modes.py results on the test tasks")
    parser.add_argument("--budget", type=int, default=1, help="the SFT budget whose pools are ranked (1-based)")
    parser.add_argument("--out", type=Path, help="default benchmarks/results/test_time_rule_choice_DATE.json")
    args = parser.parse_args()
    for path in (args.dev, args.test):
        if not path.is_file():
            parser.error(f"no such results file: {path}")
    dev, test = runs_of(args.dev, args.budget), runs_of(args.test, args.budget)
    if not dev or not test:
        parser.error(f"no pools at budget {args.budget} in {args.dev if not dev else args.test}")
    overlap = {r["task_id"] for r in dev} & {r["task_id"] for r in test}
    if overlap:
        parser.error(f"dev and test share {len(overlap)} tasks, e.g. {sorted(overlap)[0]}")
    chosen, table = choose(dev)
    for row in table:
        print(f"dev  {row['rule']:<34} pass@2 {row['pass_at_2_mean']:.3f} ±{row['pass_at_2_stdev']:.3f} "
              f"vs default +{row['gained_vs_default']} -{row['lost_vs_default']}")
    print(f"chosen on dev: {chosen}")
    if chosen.startswith(NEEDS_VIEWS) and not has_views(test):
        parser.error(f"the chosen rule {chosen!r} needs view_scores, which {args.test} does not record")
    against = {"plain": plain, "default": CANDIDATES[DEFAULT]}
    result = {"chosen": chosen, "default": DEFAULT, "budget": args.budget,
              "command": "python benchmarks/test_time_rule_choice.py " + " ".join(sys.argv[1:]),
              "made": datetime.now().isoformat(timespec="seconds"),
              "dev": {"file": str(args.dev), "runs": len(dev), "tasks": len({r["task_id"] for r in dev}),
                      "seeds": sorted({r["seed"] for r in dev}), "oracle": figures(dev, oracle, {}), "rules": table},
              "test": {"file": str(args.test), "runs": len(test), "tasks": len({r["task_id"] for r in test}),
                       "seeds": sorted({r["seed"] for r in test}),
                       **{name: figures(test, ranker, against) for name, ranker in
                          (("plain votes", plain), ("default", CANDIDATES[DEFAULT]), ("chosen", CANDIDATES[chosen]),
                           ("oracle", oracle))}}}
    out = args.out or RESULTS / f"test_time_rule_choice_{date.today().isoformat()}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    for name in ("plain votes", "default", "chosen", "oracle"):
        row = result["test"][name]
        print(f"test {name:<12} pass@2 {row['pass_at_2_mean']:.3f} ±{row['pass_at_2_stdev']:.3f} "
              f"{row['pass_at_2_per_seed']} vs plain +{row.get('gained_vs_plain', 0)} -{row.get('lost_vs_plain', 0)}")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
