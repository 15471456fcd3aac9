"""A stand-in rollout engine that answers each prompt with grids a test chose, for checking what evaluation does
with answers (mapping them back from a view, pooling, ranking, scoring, writing) apart from what a model says.

It is plugged in where evaluation chooses its engine (arc_console.evaluation.model.choose_rollout_engine), over
the real tiny policy (its tokenizer fits the prompts; its forward scores candidates for the product of experts).
A prompt it was not given an answer for fails the test: the prompts must be the ones the views make.
"""

from __future__ import annotations

from typing import Any

import pytest

from arc_console.arc import Task, build_prompt, grid_to_text
from arc_console.arc.augment import View
from arc_console.decoding.rollout_engine import RolloutEngine
from arc_console.decoding.samples import Rollout, Sample

Grid = list[list[int]]


def view_prompt(task: Task, view: View, test_index: int) -> str:
    """The prompt evaluation shows for `task` under `view` (every train example: the test tasks are small)."""
    shown = view.apply_task(task)
    return build_prompt(shown.train, shown.test[test_index].input)


class ScriptedEngine(RolloutEngine):
    """Answers a prompt with the grids scripted for it, one per candidate (as text, the way a model writes them)."""

    def __init__(self, policy: Any, answers: dict[str, list[Grid]]) -> None:
        super().__init__(policy)
        self.answers = answers
        self.prompts_seen: list[str] = []

    def generate(self, prompts: list[str], temperatures: list[float], max_new_tokens: int, top_p: float = 1.0,
                 control: Any = None, on_progress: Any = None, share_prefill: bool = True,
                 sample_keys: list[int] | None = None, fit_reserved: bool = False) -> Rollout:
        samples = []
        for group, prompt in enumerate(prompts):
            if prompt not in self.answers:
                pytest.fail(f"the stand-in engine was shown a prompt no view makes:\n{prompt[-400:]}")
            self.prompts_seen.append(prompt)
            grids = self.answers[prompt]
            assert len(grids) == len(temperatures), "one scripted answer per candidate"
            for grid, temperature in zip(grids, temperatures):
                text = grid_to_text(grid)
                ids = self.policy.tokenizer(text, add_special_tokens=False)["input_ids"]
                samples.append(Sample(group=group, temperature=temperature, completion_ids=ids, text=text,
                                      truncated=False, logprobs=[-0.5] * len(ids)))
        prompt_ids = [self.policy.tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts]
        return Rollout(prompt_ids, samples, seconds=0.0, aborted=False)


def plug_in(monkeypatch: pytest.MonkeyPatch, answers: dict[str, list[Grid]]) -> list[ScriptedEngine]:
    """Evaluation's engine choice made to return a ScriptedEngine over the loaded policy; the engines made."""
    import arc_console.evaluation.model as model

    made: list[ScriptedEngine] = []

    def choose(policy: Any, *args: Any, **kwargs: Any) -> ScriptedEngine:
        made.append(ScriptedEngine(policy, answers))
        return made[-1]

    monkeypatch.setattr(model, "choose_rollout_engine", choose)
    return made
