"""Test-time training's settings and their checks, without torch: `eval` refuses bad --test-time-* and
--sft-* values before it loads anything. The RL phase's (TestTimeSettings; test_time.py re-exports them),
the SFT phase's (SftSettings) and the plan that says which phases run on which weights (TestTimePlan).
Each field with help in its metadata is an `eval` flag (cli/setting_flags.py); the others are fixed here."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from arc_console.arc.augment import AUGMENTATIONS
from arc_console.engine.rewards import REWARD_VARIANTS
from arc_console.evaluation.settings import SettingsError
from arc_console.train_config import TrainConfig, setting

TEMPERATURE_MIN, TEMPERATURE_MAX = 0.6, 1.0

TEST_TIME_MODES = ("none", "sft", "rl", "sft+rl")
TRAINABLE_WEIGHTS = ("auto", "lora", "full")
TEST_TIME_POOLS = ("tuned", "both")
# eval's --rank where a test-time mode is on and --rank is not given: on the built-in model the product of
# experts picks better from the pooled base and tuned candidates than votes do (docs/evaluation.md).
TEST_TIME_RANK = "logprob"
# A phase's learning rate where none is given, by what trains. SFT's from benchmarks/test_time_sft_sweep.py on
# the built-in model (docs/evaluation.md, Test-time training); RL's on every weight is the tiny preset's DAPO rate, on a
# LoRA the rate test-time RL always had. A LoRA's rates are ten times every weight's, as usual.
LEARNING_RATES = {("sft", "full"): 3e-4, ("sft", "lora"): 3e-3, ("rl", "full"): 1e-4, ("rl", "lora"): 1e-3}


def default_learning_rate(phase: str, weights: str) -> float:
    """`phase` (sft | rl)'s learning rate where none is given, for `weights` (full | lora)."""
    return LEARNING_RATES[(phase, weights)]


def _rates(phase: str) -> str:
    """`phase`'s default rates as --help says them: "3e-4 for every weight, 3e-3 for a LoRA"."""
    full, lora = (f"{LEARNING_RATES[(phase, kind)]:.0e}".replace("e-0", "e-") for kind in ("full", "lora"))
    return f"{full} for every weight, {lora} for a LoRA"


@dataclass(frozen=True)
class TestTimeSettings:
    __test__ = False  # not a pytest test class, whatever its name

    steps: int = setting(
        0, "test-time RL: N DAPO steps per task on its leave-one-out train pairs before answering it, through "
        "weights reset between tasks (0: none; alone, it means --test-time-mode rl)", flag="test-time-steps",
        metavar="N", shown_default="4 where --test-time-mode has rl, else 0")
    learning_rate: float | None = setting(
        None, "its AdamW learning rate (a fresh optimizer per task)", flag="test-time-lr", metavar="LR",
        shown_default=_rates("rl"))  # None: default_learning_rate("rl", ...)
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
    require(settings.learning_rate is None or settings.learning_rate > 0,
            f"--test-time-lr must be positive, got {settings.learning_rate}")
    require(settings.augment in AUGMENTATIONS,
            f"--test-time-augment must be one of {', '.join(AUGMENTATIONS)}, got {settings.augment!r}")
    require(2 <= settings.candidates <= 64, f"--test-time-candidates must be 2..64, got {settings.candidates}")
    require(1 <= settings.lora_r <= 256, f"--test-time-lora-r must be 1..256, got {settings.lora_r}")
    require(settings.reward in REWARD_VARIANTS, f"unknown reward {settings.reward!r}")


@dataclass(frozen=True)
class SftSettings:
    """Supervised test-time training: teacher forcing on the task's leave-one-out problems under views."""

    # Steps from benchmarks/test_time_modes.py (32 picked no better than 16 from the pool, at twice the time), the
    # rest from test_time_sft_sweep.py, on the built-in model (docs/benchmarks.md, Test-time training modes).
    steps: int = setting(16, "test-time SFT: AdamW steps per task", flag="sft-steps", metavar="N")
    # Constant: a run of N steps is the first N steps of a longer one. None: default_learning_rate.
    learning_rate: float | None = setting(None, "its constant learning rate", flag="sft-lr", metavar="LR",
                                          shown_default=_rates("sft"))
    batch: int = setting(4, "augmented leave-one-out problems per step", flag="sft-batch", metavar="B")
    augment: str = setting("dihedral+colors", "their views, each with the examples shuffled", flag="sft-augment",
                           choices=AUGMENTATIONS)
    shuffle_examples: bool = True  # each view also shows its examples in a random order
    repeat_examples: bool = setting(
        True, "show each leave-one-out problem's examples repeated in turn up to the task's own count",
        doc="A two-pair task's leave-one-out prompt otherwise shows one example, where the real test's prompt, and "
            "every prompt the built-in model was warm-started on, shows two", flag="sft-repeat-examples")
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    logprob_chunk_tokens: int = 256

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class TestTimePlan:
    """What eval does to each task before answering it: nothing, SFT, RL (DAPO) or SFT then RL, and which
    weights train (a fresh LoRA, or every weight, restored per task; auto: every weight of a small
    unquantized model, else a LoRA)."""

    __test__ = False  # not a pytest test class, whatever its name

    mode: str = setting(
        "none", "train on each task's own examples before answering it, through weights reset between tasks: sft "
        "(teacher forcing on its leave-one-out problems under views), rl (DAPO steps on them), sft+rl (both in "
        "turn) or none", choices=TEST_TIME_MODES, flag="test-time-mode",
        shown_default="rl with --test-time-steps, else none")
    weights: str = setting(
        "auto", "what trains: a fresh LoRA (lora), every weight restored per task (full), or auto: every weight "
        "of a small unquantized model, else a LoRA", choices=TRAINABLE_WEIGHTS, flag="test-time-weights")
    sft: SftSettings = SftSettings()
    rl: TestTimeSettings = TestTimeSettings()
    pool: str = setting(
        "both", "the candidates a trained task's attempts are chosen from: tuned (the trained weights' samples) or "
        "both (also the base weights' samples, drawn before training)",
        doc="both: the two pools are joined per grid and ranked by --rank (votes summed; logprob: every candidate "
            "scored under every view by the trained and the base weights, summed), so training loses an answer the "
            "base model had only where the scores prefer another", choices=TEST_TIME_POOLS, flag="test-time-pool")

    @property
    def phases(self) -> tuple[str, ...]:
        return () if self.mode == "none" else tuple(self.mode.split("+"))

    def for_weights(self, kind: str) -> TestTimePlan:
        """This plan as it runs on `kind` (full | lora) weights: each learning rate not given is that kind's."""
        sft = self.sft if self.sft.learning_rate is not None else dataclasses.replace(
            self.sft, learning_rate=default_learning_rate("sft", kind))
        rl = self.rl if self.rl.learning_rate is not None else dataclasses.replace(
            self.rl, learning_rate=default_learning_rate("rl", kind))
        return dataclasses.replace(self, sft=sft, rl=rl)

    def to_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "weights": self.weights, **({"pool": self.pool} if self.phases else {}),
                **({"sft": self.sft.to_dict()} if "sft" in self.phases else {}),
                **({"rl": self.rl.to_dict()} if "rl" in self.phases else {})}


def validate_plan(plan: TestTimePlan) -> None:
    def require(condition: bool, message: str) -> None:
        if not condition:
            raise SettingsError(message)

    require(plan.mode in TEST_TIME_MODES, f"--test-time-mode must be one of {', '.join(TEST_TIME_MODES)}, "
                                          f"got {plan.mode!r}")
    require(plan.pool in TEST_TIME_POOLS,
            f"--test-time-pool must be one of {', '.join(TEST_TIME_POOLS)}, got {plan.pool!r}")
    require(plan.weights in TRAINABLE_WEIGHTS,
            f"--test-time-weights must be one of {', '.join(TRAINABLE_WEIGHTS)}, got {plan.weights!r}")
    sft = plan.sft
    require(1 <= sft.steps <= 100_000, f"--sft-steps must be 1..100000, got {sft.steps}")
    require(sft.learning_rate is None or sft.learning_rate > 0, f"--sft-lr must be positive, got {sft.learning_rate}")
    require(1 <= sft.batch <= 1024, f"--sft-batch must be 1..1024, got {sft.batch}")
    require(sft.augment in AUGMENTATIONS, f"--sft-augment must be one of {', '.join(AUGMENTATIONS)}, "
                                          f"got {sft.augment!r}")
    validate_test_time(plan.rl)
    require("rl" not in plan.phases or plan.rl.steps >= 1, "--test-time-steps must be 1 or more with an rl mode")
