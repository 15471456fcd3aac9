"""The seed's harmony prompt: every train example, the test input, then the assistant's channels."""

from __future__ import annotations

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
