"""Fit each task's prompt into the sequence budget, dropping train examples from the end when needed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from arc_console.arc import Task, TaskError, build_prompt
from arc_console.engine.step_groups import Problem


def fit_prompts(tasks: list[Task], tokenizer: Any, max_seq_length: int, max_new_tokens: int,
                warn: Callable[[str], None]) -> list[Problem]:
    """Each task's prompt within max_seq_length - max_new_tokens tokens; a task none of whose prompts fit is skipped."""
    budget = max_seq_length - max_new_tokens
    problems = []
    for task in tasks:
        for used in range(len(task.train), 0, -1):
            prompt = build_prompt(task.train[:used], task.test_input)
            if len(tokenizer(prompt, add_special_tokens=False)["input_ids"]) <= budget:
                problems.append(Problem(task, prompt, used))
                if used < len(task.train):
                    warn(f"problem {task.id}: kept {used} of {len(task.train)} examples to fit {budget} prompt tokens")
                break
        else:
            warn(f"problem {task.id}: skipped, one example does not fit {budget} prompt tokens")
    if not problems:
        raise TaskError(f"no problem fits max_seq_length {max_seq_length} with max_new_tokens {max_new_tokens}")
    return problems


def longest_rollout_tokens(problems: list[Problem], tokenizer: Any, max_new_tokens: int) -> int:
    """The longest of these prompts plus the new tokens: what a rollout's KV cache must hold."""
    return max(len(tokenizer(p.prompt, add_special_tokens=False)["input_ids"]) for p in problems) + max_new_tokens
