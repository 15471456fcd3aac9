"""Test-time training's settings and their checks, without torch: `eval` refuses bad --test-time-* values
before it loads anything. test_time.py (the training itself) re-exports them."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from arc_console.arc.augment import AUGMENTATIONS
from arc_console.engine.rewards import REWARD_VARIANTS
from arc_console.evaluation.settings import SettingsError
from arc_console.train_config import TrainConfig


@dataclass(frozen=True)
class TestTimeSettings:
    steps: int = 0  # DAPO steps per task; 0: plain eval
    learning_rate: float = 1e-3
    augment: str = "dihedral"  # views of the leave-one-out problems: none | dihedral | dihedral+colors
    candidates: int = 4  # K per problem
    problems_per_step: int = 1
    max_extra_draws: int = 2  # DAPO dynamic sampling: extra problems drawn when a group has equal rewards
    temperature_min: float = 0.6
    temperature_max: float = 1.0
    lora_r: int = 8  # the fresh adapter, where the model has none
    lora_alpha: int = 16
    reward: str = "pixel"
    eps_low: float = 0.2
    eps_high: float = 0.28
    max_grad_norm: float = 1.0
    logprob_chunk_tokens: int = 256

    def temperatures(self) -> list[float]:
        k = self.candidates
        if k == 1:
            return [self.temperature_min]
        return [round(self.temperature_min + i * (self.temperature_max - self.temperature_min) / (k - 1), 4)
                for i in range(k)]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def update_config(self, max_new_tokens: int) -> TrainConfig:
        """The settings the training update (engine/update.py) runs these steps with: training's defaults
        (DAPO, one update per rollout, rewards scaled by the group's std) with these candidates, clip and
        gradient limits, a task's answer budget as the generation budget, and every kept group in one pass."""
        return TrainConfig(num_candidates=self.candidates, learning_rate=self.learning_rate, eps_low=self.eps_low,
                           eps_high=self.eps_high, max_grad_norm=self.max_grad_norm,
                           logprob_chunk_tokens=self.logprob_chunk_tokens, max_new_tokens=max_new_tokens,
                           problems_per_step=self.problems_per_step, max_extra_draws=self.max_extra_draws,
                           temperature_min=self.temperature_min, temperature_max=self.temperature_max,
                           reward=self.reward, update_micro_groups=0)


def validate_test_time(settings: TestTimeSettings) -> None:
    def require(condition: bool, message: str) -> None:
        if not condition:
            raise SettingsError(message)

    require(0 <= settings.steps <= 10_000, f"--test-time-steps must be 0..10000, got {settings.steps}")
    require(settings.learning_rate > 0, f"--test-time-lr must be positive, got {settings.learning_rate}")
    require(settings.augment in AUGMENTATIONS,
            f"--test-time-augment must be one of {', '.join(AUGMENTATIONS)}, got {settings.augment!r}")
    require(2 <= settings.candidates <= 64, f"--test-time-candidates must be 2..64, got {settings.candidates}")
    require(1 <= settings.lora_r <= 256, f"--test-time-lora-r must be 1..256, got {settings.lora_r}")
    require(settings.reward in REWARD_VARIANTS, f"unknown reward {settings.reward!r}")
