"""The seed's harmony prompt: every train example, the test input, then the assistant's channels."""

from __future__ import annotations

from collections.abc import Callable

from arc_console.arc.grids import Grid, grid_to_text
from arc_console.arc.task import Pair

ANALYSIS_OPENING = "Let me analyze the pattern step by step."


def build_prompt(train: list[Pair], test_input: Grid) -> str:
    """The prompt exactly as the seed wrote it (README, "Harmony Prompt Structure")."""
    examples = "\n".join(
        f"Example {number}: Input:\n{grid_to_text(pair.input)}\nOutput:\n{grid_to_text(pair.output)}\n"
        for number, pair in enumerate(train, start=1)
    )
    return (
        "<|start|>user<|message|>Solve this pattern:\n"
        f"{examples}\n"
        f"Test Input:\n{grid_to_text(test_input)}\n"
        "Test Output:<|end|>\n"
        f"<|start|>assistant<|channel|>analysis<|message|>{ANALYSIS_OPENING}<|end|>\n"
        "<|start|>assistant<|channel|>final<|message|>"
    )


def fit_prompt(train: list[Pair], test_input: Grid, budget: int, count_tokens: Callable[[str], int],
               most_examples: int | None = None) -> tuple[str, int] | None:
    """The prompt with as many train examples (from the first, at most `most_examples`) as fit `budget`
    tokens, and how many it kept; None when not even one does. `count_tokens` is the model's tokenizer."""
    most = len(train) if most_examples is None else min(most_examples, len(train))
    for used in range(most, 0, -1):
        prompt = build_prompt(train[:used], test_input)
        if count_tokens(prompt) <= budget:
            return prompt, used
    return None
