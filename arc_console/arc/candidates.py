"""Which of a step's candidates is the best one: the single rule every writer and reader uses.

The rule: the highest reward; among equal rewards a candidate with a parsed grid first, then the
lowest candidate id. A candidate without a "reward" (step files written before rewards were stored)
is ranked by its accuracy, which is what its reward was then.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any


def candidate_reward(candidate: dict[str, Any]) -> float:
    """The candidate's reward, its accuracy where no reward was stored; 0.0 where neither is a number."""
    for key in ("reward", "accuracy"):
        value = candidate.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
    return 0.0


def _rank(candidate: dict[str, Any], position: int) -> tuple[float, bool, float, int]:
    """Larger ranks better. An id that is not a number (a broken file) loses ties to every numbered one;
    the position in the list breaks what is left (the first wins)."""
    candidate_id = candidate.get("candidate_id")
    numbered = isinstance(candidate_id, (int, float)) and not isinstance(candidate_id, bool)
    return candidate_reward(candidate), bool(candidate.get("has_grid")), \
        -float(candidate_id) if numbered else -math.inf, -position


def best_candidate_index(candidates: Sequence[dict[str, Any]]) -> int | None:
    """The position of the best candidate in `candidates` (see the module's rule); None when there are none."""
    if not candidates:
        return None
    return max(range(len(candidates)), key=lambda i: _rank(candidates[i], i))


def best_candidate(candidates: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The best candidate (see the module's rule); None when there are none."""
    index = best_candidate_index(candidates)
    return None if index is None else candidates[index]


def best_candidate_id(candidates: Sequence[dict[str, Any]]) -> Any:
    """The best candidate's candidate_id; None when there are no candidates."""
    best = best_candidate(candidates)
    return None if best is None else best.get("candidate_id")
