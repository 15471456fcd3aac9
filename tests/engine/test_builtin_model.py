"""The warm-started built-in model: shipped, small, recorded, and answering with grids."""

import json
from pathlib import Path

import pytest
import torch

from arc_console.arc import build_prompt, grid_to_text, load_tasks, parse_response, score_grid
from arc_console.engine.backends import builtin_tiny_path, load_policy
from paths import REPO

SHIPPED = REPO / "arc_console" / "builtin" / "tiny-arc"


def test_shipped_checkpoint_is_small_and_says_how_it_was_made() -> None:
    assert builtin_tiny_path() == SHIPPED
    weights = SHIPPED / "model.safetensors"
    assert weights.stat().st_size <= 10 * 1024 * 1024
    made = json.loads((SHIPPED / "MADE.json").read_text())
    for key in ("command", "seed", "train_seconds", "hardware", "heldout_greedy"):
        assert key in made


@pytest.mark.slow
def test_it_answers_held_out_tasks_with_grids() -> None:
    policy = load_policy("tiny", "hf", lora_r=0, lora_alpha=32, max_seq_length=2048)
    stops = policy.stop_token_ids
    tasks = load_tasks("synthetic-heldout")[:24]  # never drawn by the warm start (another split's seeds)
    scores = []
    with torch.no_grad():
        for task in tasks:
            prompt = policy.tokenizer(build_prompt(task.train, task.test_input), add_special_tokens=False)["input_ids"]
            room = len(grid_to_text(task.test_output)) + 4
            out = policy.model.generate(torch.tensor([prompt]), max_new_tokens=room, do_sample=False,
                                        eos_token_id=stops, pad_token_id=policy.tokenizer.pad_token_id)
            text = policy.tokenizer.decode(out[0, len(prompt):], skip_special_tokens=False)
            scores.append(score_grid(parse_response(text), task.test_output))
    well_formed = sum(s.has_grid for s in scores) / len(scores)
    accuracy = sum(s.accuracy for s in scores) / len(scores)
    perfect = sum(s.perfect_match for s in scores) / len(scores)
    # A floor under the shipped model's own answers (its MADE.json), so that a weaker one is not shipped unseen.
    assert well_formed >= 0.9 and accuracy >= 0.7 and perfect >= 0.35, (well_formed, accuracy, perfect)
