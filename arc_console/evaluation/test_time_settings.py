"""Test-time training's settings (its RL phase's) and their checks, without torch: `eval` refuses bad
--test-time-* values before it loads anything. test_time.py (the training itself) re-exports them. Each field
with help in its metadata is an `eval` flag (cli/setting_flags.py); the others are fixed here."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from arc_console.arc.augment import AUGMENTATIONS
from arc_console.engine.rewards import REWARD_VARIANTS
from arc_console.evaluation.settings import SettingsError
from arc_console.train_config import TrainConfig, setting

TEMPERATURE_MIN, TEMPERATURE_MAX = 0.6, 1.0


@dataclass(frozen=True)
class TestTimeSettings:
    steps: int = setting(
        0, "test-time RL: N DAPO steps per task on its leave-one-out train pairs before answering it, through "
        "a per-task LoRA reset between tasks (0: plain eval)", flag="test-time-steps", metavar="N")
    learning_rate: float = setting(1e-3, "its AdamW learning rate (a fresh optimizer per task)",
                                   flag="test-time-lr", metavar="LR")
    augment: str = setting(
        "dihedral", "views of its leave-one-out problems", doc="They multiply the problems; the order is view "
        "by view", flag="test-time-augment", choices=AUGMENTATIONS)
    candidates: int = setting(4, "candidates per problem in its steps",
                              doc=f"Temperatures {TEMPERATURE_MIN} to {TEMPERATURE_MAX}",
                              flag="test-time-candidates", metavar="K")
    problems_per_step: int = 1
    max_extra_draws: int = 2  # DAPO dynamic sampling: extra problems drawn when a group has equal rewards
    temperature_min: float = TEMPERATURE_MIN
    temperature_max: float = TEMPERATURE_MAX
    lora_r: int = setting(8, "rank of the fresh LoRA on q, k, v, o (alpha 2R), where the model has no adapter",
                          flag="test-time-lora-r", metavar="R")
    lora_alpha: int = 16  # 2 x lora_r: eval sets it from --test-time-lora-r
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
