"""The objectives a run can optimise, one registered object each (as verl's `register_policy_loss`).

An objective owns everything that differs between objectives, so nothing else in the package asks
which one it is running:
  its loss            the surrogate and its aggregation (engine/objectives.py's tensor code)
  its denominator     the step's count its summed loss is divided by (tokens, sequences, groups, ...):
                      micro-batches and ranks divide by the whole step's, so their gradients add up
  its advantages      whether the group's std scales them (--scale-rewards, or fixed by the objective)
  the groups it keeps which groups carry a gradient (equal rewards teach nothing to some objectives)
  dynamic sampling    whether a step draws more problems until P groups are kept
  a ratio             whether it has an importance ratio (clipping, KL figures, old log-probs)
  micro-batching      whether --update-micro-rows may cut a group's rows

Adding one is one class here with `@register_objective("name")`: `--objective` lists it (its `summary`
is the help), config validation reads its traits, and the trainer, the ranks and test-time training
run it. No torch at import, so `train --help` lists the names without loading torch: the tensor code
is imported when a loss is first computed.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import torch

    from arc_console.engine.micro_batches import MicroBatch, StepCounts
    from arc_console.engine.objectives import LossStats
    from arc_console.engine.step_groups import Group


class ObjectiveSettings(Protocol):
    """The run settings an objective reads (TrainConfig has them; train_config imports this module for
    --objective's names and help, so this module names only what it needs instead of importing it)."""

    scale_rewards: str
    max_new_tokens: int
    num_candidates: int
    eps_low: float
    eps_high: float
    grpo_eps: float


def is_informative(values: list[float]) -> bool:
    """A group's values (rewards, accuracies) are not all equal: its advantages are not all zero."""
    return max(values) - min(values) > 0


class Objective(ABC):
    """The base of every entry; an entry overrides what differs from these defaults."""

    name = ""  # set by register_objective
    summary = ""  # a few words for --objective's help: what it is
    has_ratio = True  # an importance ratio: clip figures and approx-KL, old log-probs when updating more than once
    splits_groups = True  # its loss is a sum over rows, so --update-micro-rows may cut a group
    refills = False  # dynamic sampling: draw more problems until --problems-per-step groups are kept
    sampled = True  # its candidates are the policy's own samples, so a training run may use it (--objective)

    def keeps(self, group: Group) -> bool:
        """Whether `group` enters the update."""
        return True

    def reward_scale(self, settings: ObjectiveSettings) -> str:
        """How group_advantages scales the centred rewards: "group" (by the std) or "none"."""
        return settings.scale_rewards

    @abstractmethod
    def denominator(self, counts: StepCounts, settings: ObjectiveSettings) -> float:
        """What the step's summed loss is divided by, from the step's counts (or one rank's)."""

    def loss(self, logp: torch.Tensor, old_logp: torch.Tensor, micro: MicroBatch, denominator: float,
             settings: ObjectiveSettings) -> tuple[torch.Tensor, LossStats]:
        """This micro-batch's share of the step's loss (its sum divided by the step's `denominator`)."""


_REGISTRY: dict[str, Objective] = {}


def register_objective(name: str) -> Callable[[type[Objective]], type[Objective]]:
    """Class decorator: one instance of the class is the objective `name`."""

    def register(cls: type[Objective]) -> type[Objective]:
        if name in _REGISTRY:
            raise ValueError(f"objective {name!r} is registered twice")
        cls.name = name
        _REGISTRY[name] = cls()
        return cls

    return register


def get_objective(name: str) -> Objective:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown objective {name!r} (known: {', '.join(_REGISTRY)})") from None


def objective_names() -> tuple[str, ...]:
    """Every objective a training run may use, in registration order (the order of --objective's help)."""
    return tuple(name for name, objective in _REGISTRY.items() if objective.sampled)


def objective_help() -> str:
    """--objective's help: each name with its summary."""
    parts = [f"{name} ({objective.summary})" for name, objective in _REGISTRY.items() if objective.sampled]
    return ", ".join(parts[:-1]) + " or " + parts[-1] if len(parts) > 1 else parts[0]


def _losses() -> Any:
    from arc_console.engine import objectives

    return objectives


@register_objective("dapo")
class Dapo(Objective):
    """DAPO: clip-higher surrogate, one mean over every loss token of the step, dynamic sampling on the
    task rewards (a group differing only by the overlong penalty teaches length, not the task)."""

    summary = "clip-higher, token-level mean"
    refills = True

    def keeps(self, group: Group) -> bool:
        return is_informative(group.task_rewards)

    def denominator(self, counts: StepCounts, settings: ObjectiveSettings) -> float:
        return counts.loss_tokens

    def loss(self, logp: torch.Tensor, old_logp: torch.Tensor, micro: MicroBatch, denominator: float,
             settings: ObjectiveSettings) -> tuple[torch.Tensor, LossStats]:
        return _losses().dapo_loss(logp, old_logp, micro.advantages, micro.loss_mask, settings.eps_low,
                                   settings.eps_high, denominator=denominator)


@register_objective("grpo")
class Grpo(Objective):
    """GRPO: symmetric clip, each sequence's mean then the mean over sequences. Every group counts: an
    all-equal group has advantage 0 but is one of the sequences its mean divides by."""

    summary = "the baseline"

    def denominator(self, counts: StepCounts, settings: ObjectiveSettings) -> float:
        return float(counts.rows)

    def loss(self, logp: torch.Tensor, old_logp: torch.Tensor, micro: MicroBatch, denominator: float,
             settings: ObjectiveSettings) -> tuple[torch.Tensor, LossStats]:
        return _losses().grpo_loss(logp, old_logp, micro.advantages, micro.loss_mask, settings.grpo_eps,
                                   denominator=denominator)


@register_objective("dr_grpo")
class DrGrpo(Objective):
    """Dr. GRPO: GRPO without its two length and difficulty biases: advantages never divided by the
    group's std (whatever --scale-rewards says), every sequence's token sum divided by the same
    constant, --max-new-tokens. Keeps every group, as GRPO."""

    summary = "GRPO without std or length normalisation"

    def reward_scale(self, settings: ObjectiveSettings) -> str:
        return "none"

    def denominator(self, counts: StepCounts, settings: ObjectiveSettings) -> float:
        return float(counts.rows * settings.max_new_tokens)

    def loss(self, logp: torch.Tensor, old_logp: torch.Tensor, micro: MicroBatch, denominator: float,
             settings: ObjectiveSettings) -> tuple[torch.Tensor, LossStats]:
        return _losses().dr_grpo_loss(logp, old_logp, micro.advantages, micro.loss_mask, settings.max_new_tokens,
                                      settings.grpo_eps, denominator=denominator)


@register_objective("preference")
class Preference(Objective):
    """The seed's rule: per group, raise the best candidate's mean log-likelihood and lower the worst's.
    No ratio; it compares rows of one group, so a group is never cut; a group whose accuracies are
    all equal has no best and worst and is dropped."""

    summary = "the seed's rule"
    has_ratio = False
    splits_groups = False

    def keeps(self, group: Group) -> bool:
        return is_informative(group.accuracies)

    def denominator(self, counts: StepCounts, settings: ObjectiveSettings) -> float:
        return float(counts.groups)

    def loss(self, logp: torch.Tensor, old_logp: torch.Tensor, micro: MicroBatch, denominator: float,
             settings: ObjectiveSettings) -> tuple[torch.Tensor, LossStats]:
        return _losses().preference_loss(logp, micro.loss_mask, micro.accuracies, settings.num_candidates,
                                         denominator=denominator)


@register_objective("sft")
class Supervised(Objective):
    """Teacher forcing on known answers (test-time SFT, evaluation/test_time_sft.py): each group is one problem
    with its known answer as the one candidate, and the loss is the mean negative log-likelihood over every
    answer token of the step. No ratio, no advantages, every group kept; not a training run's objective (a
    run's candidates are sampled, not known), so --objective does not list it."""

    summary = "teacher forcing on known answers"
    has_ratio = False
    sampled = False

    def reward_scale(self, settings: ObjectiveSettings) -> str:
        return "none"

    def denominator(self, counts: StepCounts, settings: ObjectiveSettings) -> float:
        return counts.loss_tokens

    def loss(self, logp: torch.Tensor, old_logp: torch.Tensor, micro: MicroBatch, denominator: float,
             settings: ObjectiveSettings) -> tuple[torch.Tensor, LossStats]:
        loss = -(logp * micro.loss_mask).sum() / max(denominator, 1.0)
        return loss, _losses().LossStats(loss=float(loss.detach()), clip_fraction=0.0, ratio_mean=1.0)
