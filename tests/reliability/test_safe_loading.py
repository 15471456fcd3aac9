"""Checkpoints load only through safe loaders: a pickle that would run code is refused, clearly."""

import json
import os
import pickle
import shlex
from pathlib import Path

import pytest
import torch

from helpers import make_trainer


class Exploit:
    """Unpickled, it would create `marker` (one per test, so a test running beside it cannot interfere)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {shlex.quote(str(self.marker))}",))


@pytest.mark.slow
def test_hostile_optimizer_pickle_is_refused(tmp_path: Path, warm_cli) -> None:
    run = tmp_path / "run"
    trainer, _ = make_trainer(run, max_steps=1)
    trainer.run()
    marker = tmp_path / "pwned"
    optimizer_file = run / "checkpoints/step_1/optimizer.pt"
    torch.save({"optimizer": Exploit(marker), "scheduler": {}}, optimizer_file, pickle_module=pickle)
    # A fresh process from the warm launcher (tests/support/warm_cli.py): the resume loads the pickle in it.
    out = warm_cli.run(["train", "--headless", "--resume", str(run), "--max-steps", "2"], timeout=300)
    assert out.returncode == 2, out.stderr
    assert "cannot be loaded" in out.stderr and "Traceback" not in out.stderr
    assert not marker.exists()


def test_weights_are_safetensors_only(tmp_path: Path) -> None:
    run = tmp_path / "run"
    trainer, _ = make_trainer(run, max_steps=1, lora_r=4, lora_alpha=8, learning_rate=1e-3)
    trainer.run()
    checkpoint = run / "checkpoints/step_1"
    assert (checkpoint / "trainable.safetensors").exists()
    assert not list(checkpoint.rglob("*.bin"))
    assert not list((run / "final_model").rglob("*.bin"))
    json.loads((checkpoint / "trainer_state.json").read_text())
