"""Fit each task's prompt into the sequence budget, dropping train examples from the end when needed.

The one place a prompt meets the tokenizer's count: training, its augmented views, evaluation and
test-time training all fit through arc.prompt.fit_prompt with `token_counter(tokenizer)`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from arc_console.arc import Task, TaskError
from arc_console.arc.prompt import fit_prompt
from arc_console.engine.step_groups import Problem


def token_counter(tokenizer: Any) -> Callable[[str], int]:
    """How many tokens a prompt takes, counted as the rollout will tokenize it (no special tokens added)."""
    return lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"])


def fit_prompts(tasks: list[Task], tokenizer: Any, max_seq_length: int, max_new_tokens: int,
                warn: Callable[[str], None]) -> list[Problem]:
    """Each task's prompt within max_seq_length - max_new_tokens tokens; a task none of whose prompts fit is skipped."""
    budget = max_seq_length - max_new_tokens
    count = token_counter(tokenizer)
    problems = []
    for task in tasks:
        fitted = fit_prompt(task.train, task.test_input, budget, count)
        if fitted is None:
            warn(f"problem {task.id}: skipped, one example does not fit {budget} prompt tokens")
            continue
        prompt, used = fitted
        problems.append(Problem(task, prompt, used))
        if used < len(task.train):
            warn(f"problem {task.id}: kept {used} of {len(task.train)} examples to fit {budget} prompt tokens")
    if not problems:
        raise TaskError(f"no problem fits max_seq_length {max_seq_length} with max_new_tokens {max_new_tokens}")
    return problems


def longest_rollout_tokens(problems: list[Problem], tokenizer: Any, max_new_tokens: int) -> int:
    """The longest of these prompts plus the new tokens: what a rollout's KV cache must hold."""
    count = token_counter(tokenizer)
    return max(count(p.prompt) for p in problems) + max_new_tokens
