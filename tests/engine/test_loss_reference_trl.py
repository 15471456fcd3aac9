"""Our DAPO, GRPO and Dr. GRPO losses and their gradients against TRL's GRPOTrainer on identical inputs.

TRL's side runs through its own code: a real GRPOTrainer (on the built-in tiny model) turns the rewards and
the completions into its inputs (`_generate_and_score_completions`: padding, `mask_truncated_completions`,
`scale_rewards`, the token count) and `compute_loss` turns those into its loss. Only the model's forward is
stood in, on both sides, by one shared function of a leaf tensor, so the two losses see the same
log-probabilities and the gradients reaching that tensor can be compared. Our side is the update's own path:
the step's groups through micro_batches (advantages, truncation mask, the step's denominator) into the loss.

Where ours differs from TRL by design (DESIGN.md, "Peer check of the loss"), the test says so and sets it up:
- advantages: we divide by the group's population std (+1e-6), TRL by the sample std (+1e-4). With
  scale_rewards "none" there is no division and the two pipelines are compared end to end; with "group"
  TRL's advantages are converted to our std before its loss (test_advantages_differ_only_by_the_std
  checks that this conversion is the only difference);
- a group whose rewards are all equal is dropped by us (dynamic sampling) and kept at zero advantage by TRL,
  where its tokens still count in DAPO's denominator: such groups are left out of TRL's batch
  (test_an_all_equal_group_is_dropped_by_us_and_kept_at_zero_by_trl shows the difference).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
import torch

from arc_console.decoding.samples import Sample
from arc_console.engine.micro_batches import micro_batches
from arc_console.engine.objective_registry import get_objective
from arc_console.engine.objectives import group_advantages
from arc_console.engine.step_groups import Group
from arc_console.train_config import TrainConfig

os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")  # rollout_func is "experimental" in TRL 1.x

K = 4  # candidates per group
MAX_LEN = 6  # max completion length: a completion this long without a stop token is truncated
VOCAB = 8  # the leaf's last axis: the plain tokens, then the stop token
EPS_LOW, EPS_HIGH, GRPO_EPS = 0.2, 0.28, 0.2


def our_loss(objective: str, groups: list[Group], logp_of: Callable[[torch.Size], torch.Tensor],
             old_logp_of: Callable[[torch.Size], torch.Tensor] | None, scale_rewards: str, mask_truncated: bool,
             pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Our loss on a step's kept groups, as policy_update computes it (one micro-batch) through the objective's
    registry entry. This and the two functions below are the only places this file calls our objectives:
    re-point them when the objectives move. Returns (loss, the loss mask it used)."""
    entry = get_objective(objective)
    settings = TrainConfig(objective=objective, eps_low=EPS_LOW, eps_high=EPS_HIGH, grpo_eps=GRPO_EPS,
                           scale_rewards=scale_rewards, mask_truncated=mask_truncated, max_new_tokens=MAX_LEN,
                           num_candidates=K)
    (part,), counts = micro_batches(groups, 0, entry.reward_scale(settings), mask_truncated, pad_id,
                                    torch.device("cpu"))
    shape = part.batch.completion_mask.shape
    logp = logp_of(shape)
    old = old_logp_of(shape) if old_logp_of is not None else logp.detach()
    loss, _ = entry.loss(logp, old, part, entry.denominator(counts, settings), settings)
    return loss, part.loss_mask


def our_advantages(rewards: list[list[float]], scale_rewards: str) -> torch.Tensor:
    """Our group advantages, flattened (the step's groups in order)."""
    return group_advantages(torch.tensor(rewards), scale_rewards).flatten()


def our_kept_groups(rewards: list[list[float]]) -> list[bool]:
    """Which groups DAPO's dynamic sampling keeps."""
    dapo = get_objective("dapo")
    return [dapo.keeps(Group(problem=None, prompt_ids=[], samples=[], task_rewards=list(group)))  # type: ignore[arg-type]
            for group in rewards]


# ------------------------------------------------------------------ the shared inputs


class Step:
    """G groups of K completions of mixed lengths, some truncated (MAX_LEN tokens, no stop token), with rewards,
    and the log-probabilities both losses see: log_softmax of a leaf tensor at the completion's tokens."""

    def __init__(self, rewards: list[list[float]], seed: int, stop_id: int, pad_id: int) -> None:
        generator = torch.Generator().manual_seed(seed)
        self.rewards = rewards
        self.stop_id, self.pad_id = stop_id, pad_id
        plain = [t for t in range(10, 10 + VOCAB - 1) if t not in (stop_id, pad_id)]
        self.index = {token: i for i, token in enumerate(plain)} | {stop_id: VOCAB - 1}
        self.prompts = [[plain[i % len(plain)], plain[(i + 1) % len(plain)], plain[(i + 2) % len(plain)]]
                        for i in range(len(rewards))]
        self.completions: list[list[int]] = []
        for index in range(len(rewards) * K):
            truncated = index % 3 == 1
            length = MAX_LEN if truncated else 1 + int(torch.randint(0, MAX_LEN - 1, (1,), generator=generator))
            body = [plain[int(t)] for t in torch.randint(0, len(plain), (length,), generator=generator)]
            self.completions.append(body if truncated else body[:-1] + [stop_id])
        self.theta = torch.randn(len(self.completions), MAX_LEN, VOCAB, generator=generator)
        self.old_theta = self.theta + 0.4 * torch.randn(self.theta.shape, generator=generator)

    def truncated(self, index: int) -> bool:
        return self.completions[index][-1] != self.stop_id

    def targets(self, width: int) -> torch.Tensor:
        """Each row's completion tokens as indices into the leaf's last axis, padded with 0 past its end."""
        rows = [[self.index[c] for c in completion] + [0] * (width - len(completion))
                for completion in self.completions]
        return torch.tensor(rows)

    def logp(self, theta: torch.Tensor, shape: torch.Size) -> torch.Tensor:
        rows, width = shape
        assert rows == theta.shape[0]
        log_probs = torch.log_softmax(theta[:, :width], dim=-1)
        return log_probs.gather(-1, self.targets(width).unsqueeze(-1)).squeeze(-1)

    def groups(self) -> list[Group]:
        groups = []
        for g, rewards in enumerate(self.rewards):
            samples = [Sample(group=g, temperature=1.0, completion_ids=self.completions[g * K + k], text="",
                              truncated=self.truncated(g * K + k)) for k in range(K)]
            groups.append(Group(problem=None, prompt_ids=self.prompts[g], samples=samples,  # type: ignore[arg-type]
                                candidates=[{"accuracy": r} for r in rewards], rewards=list(rewards),
                                task_rewards=list(rewards)))
        return groups


# ------------------------------------------------------------------ TRL's side


@pytest.fixture(scope="module")
def tiny():
    from arc_console.engine.backends import load_policy

    return load_policy("tiny", "hf", lora_r=0, lora_alpha=32, max_seq_length=2048)


@pytest.fixture(scope="module")
def trl_trainer(tiny, tmp_path_factory):
    """A real GRPOTrainer for each setting, made once (its construction is TRL's; the model is the tiny one)."""
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    made: dict[tuple, Any] = {}

    def make(loss_type: str, scale_rewards: str, mask_truncated: bool):
        key = (loss_type, scale_rewards, mask_truncated)
        if key not in made:
            epsilon_high = EPS_HIGH if loss_type == "dapo" else GRPO_EPS
            config = GRPOConfig(output_dir=str(tmp_path_factory.mktemp("trl")), loss_type=loss_type,
                                epsilon=EPS_LOW if loss_type == "dapo" else GRPO_EPS, epsilon_high=epsilon_high,
                                beta=0.0, num_generations=K, per_device_train_batch_size=K,
                                scale_rewards=scale_rewards, mask_truncated_completions=mask_truncated,
                                max_completion_length=MAX_LEN, report_to=[], use_cpu=True, logging_steps=1,
                                router_aux_loss_coef=0.0)  # the forward is stood in: no router, no MoE aux loss

            def rollout(prompts: list, trainer) -> dict[str, Any]:
                current = trainer._test_step
                return {"prompt_ids": [current.prompts[i // K] for i in range(len(prompts))],
                        "completion_ids": current.completions, "logprobs": None}

            def reward(completions, reward, **_) -> list[float]:  # the rewards the step was given
                return list(reward)

            trainer = GRPOTrainer(model=tiny.model, reward_funcs=[reward], args=config,
                                  train_dataset=Dataset.from_dict({"prompt": ["p"] * K, "reward": [0.0] * K}),
                                  processing_class=tiny.tokenizer, rollout_func=rollout)
            trainer.current_gradient_accumulation_steps = config.gradient_accumulation_steps  # as training_step sets it
            made[key] = trainer
        return made[key]

    return make


def trl_inputs(trainer, step: Step) -> dict[str, Any]:
    """TRL's own turning of prompts, completions and rewards into the loss's inputs (one row per completion)."""
    rows = [{"prompt": f"p{i // K}", "reward": step.rewards[i // K][i % K]} for i in range(len(step.completions))]
    return trainer._generate_and_score_completions(rows)


def trl_loss(trainer, inputs: dict[str, Any], logp: torch.Tensor, old_logp: torch.Tensor | None) -> torch.Tensor:
    """TRL's compute_loss with the model's forward stood in by the shared log-probabilities."""
    inputs = dict(inputs)
    if old_logp is not None:
        inputs["old_per_token_logps"] = old_logp  # as TRL computes them when a rollout is used more than once
    trainer._get_per_token_logps_and_entropies = lambda *args, **kwargs: (logp, torch.zeros_like(logp), None)
    try:
        return trainer.compute_loss(trainer.model, inputs)
    finally:
        del trainer._get_per_token_logps_and_entropies


def to_our_std(advantages: torch.Tensor, rewards: list[list[float]]) -> torch.Tensor:
    """TRL's group-scaled advantages divided by our std instead of its own (DESIGN.md: population std + 1e-6;
    TRL: sample std + 1e-4)."""
    grouped = torch.tensor(rewards, dtype=torch.float32)
    theirs = grouped.std(dim=1, unbiased=True, keepdim=True) + 1e-4
    ours = grouped.std(dim=1, unbiased=False, keepdim=True) + 1e-6
    return (advantages.view(len(rewards), K) * theirs / ours).flatten()


# ------------------------------------------------------------------ the comparisons

INFORMATIVE = [[1.0, 0.0, 0.25, 0.5], [0.3, 0.9, 0.9, -0.2], [2.0, 0.0, 1.0, 1.5]]


# Dr. GRPO never divides by the std (its point): TRL's dr_grpo is compared with scale_rewards "none", as its
# paper and TRL's docs run it.
@pytest.mark.parametrize(("objective", "scale_rewards"), [("dapo", "group"), ("dapo", "none"), ("grpo", "group"),
                                                          ("grpo", "none"), ("dr_grpo", "none")])
@pytest.mark.parametrize("mask_truncated", [True, False], ids=["mask-truncated", "keep-truncated"])
@pytest.mark.parametrize("later_update", [False, True], ids=["first-update", "later-update"])
def test_loss_and_gradient_equal_trls(trl_trainer, tiny, objective: str, scale_rewards: str, mask_truncated: bool,
                                      later_update: bool) -> None:
    trainer = trl_trainer(objective, scale_rewards, mask_truncated)
    pad_id = tiny.tokenizer.pad_token_id
    step = trainer._test_step = Step(INFORMATIVE, seed=7, stop_id=trainer.eos_token_ids[0], pad_id=pad_id)
    assert any(step.truncated(i) for i in range(len(step.completions)))
    assert len({len(c) for c in step.completions}) >= 3  # mixed lengths

    inputs = trl_inputs(trainer, step)
    if scale_rewards == "group":
        inputs["advantages"] = to_our_std(inputs["advantages"], step.rewards)
    theirs_theta = step.theta.clone().requires_grad_(True)
    ours_theta = step.theta.clone().requires_grad_(True)
    width = inputs["completion_ids"].shape[1]
    old = step.logp(step.old_theta, torch.Size((len(step.completions), width))) if later_update else None

    theirs = trl_loss(trainer, inputs, step.logp(theirs_theta, torch.Size((len(step.completions), width))), old)
    ours, our_mask = our_loss(objective, step.groups(), lambda shape: step.logp(ours_theta, shape),
                              (lambda shape: old) if later_update else None, scale_rewards, mask_truncated, pad_id)
    # The same tokens enter both losses: TRL's mask after its truncation masking is ours.
    assert torch.equal(our_mask, inputs["completion_mask"].float())
    if mask_truncated:
        assert float(our_mask.sum()) < sum(len(c) for c in step.completions)
    theirs.backward()
    ours.backward()
    assert float(ours) == pytest.approx(float(theirs), rel=1e-5, abs=1e-7)
    assert ours_theta.grad is not None and theirs_theta.grad is not None
    assert float(theirs_theta.grad.abs().max()) > 0
    torch.testing.assert_close(ours_theta.grad, theirs_theta.grad, rtol=1e-5, atol=1e-8)
    if later_update:  # the old policy differs: the clip is live on some tokens
        ratio = torch.exp(step.logp(step.theta, old.shape) - old)
        low, high = (EPS_LOW, EPS_HIGH) if objective == "dapo" else (GRPO_EPS, GRPO_EPS)
        assert bool(((ratio < 1 - low) | (ratio > 1 + high))[our_mask.bool()].any())


def test_the_comparison_fails_when_our_loss_is_wrong(trl_trainer, tiny, monkeypatch) -> None:
    """The reference can tell: DAPO divided by the sequence count instead of the token count differs from TRL."""
    trainer = trl_trainer("dapo", "none", True)
    pad_id = tiny.tokenizer.pad_token_id
    step = trainer._test_step = Step(INFORMATIVE, seed=7, stop_id=trainer.eos_token_ids[0], pad_id=pad_id)
    inputs = trl_inputs(trainer, step)
    width = inputs["completion_ids"].shape[1]
    theirs = trl_loss(trainer, inputs, step.logp(step.theta, torch.Size((len(step.completions), width))), None)
    monkeypatch.setattr(type(get_objective("dapo")), "denominator", lambda self, counts, settings: float(counts.rows))
    wrong, _ = our_loss("dapo", step.groups(), lambda shape: step.logp(step.theta, shape), None, "none", True, pad_id)
    assert float(wrong) != pytest.approx(float(theirs), rel=1e-3)


@pytest.mark.parametrize("scale_rewards", ["group", "none"])
def test_advantages_differ_only_by_the_std(trl_trainer, tiny, scale_rewards: str) -> None:
    """With "none" TRL's advantages are ours; with "group" they are ours once the std is converted (sample
    std + 1e-4 there, population std + 1e-6 here), so that conversion is the one difference."""
    trainer = trl_trainer("dapo", scale_rewards, False)
    pad_id = tiny.tokenizer.pad_token_id
    step = trainer._test_step = Step(INFORMATIVE, seed=3, stop_id=trainer.eos_token_ids[0], pad_id=pad_id)
    theirs = trl_inputs(trainer, step)["advantages"]
    ours = our_advantages(INFORMATIVE, scale_rewards)
    if scale_rewards == "none":
        torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-6)
    else:
        assert not torch.allclose(ours, theirs, atol=1e-3)  # the std differs: sqrt(K / (K - 1))
        torch.testing.assert_close(ours, to_our_std(theirs, INFORMATIVE), rtol=1e-5, atol=1e-6)


def test_an_all_equal_group_is_dropped_by_us_and_kept_at_zero_by_trl(trl_trainer, tiny) -> None:
    """TRL keeps a group whose rewards are all equal at zero advantage (its tokens still count in DAPO's
    denominator); we drop it before the update (dynamic sampling). Without it, TRL's loss is ours."""
    trainer = trl_trainer("dapo", "none", False)
    pad_id = tiny.tokenizer.pad_token_id
    rewards = [*INFORMATIVE, [0.5, 0.5, 0.5, 0.5]]
    step = trainer._test_step = Step(rewards, seed=11, stop_id=trainer.eos_token_ids[0], pad_id=pad_id)
    inputs = trl_inputs(trainer, step)
    assert torch.equal(inputs["advantages"][-K:], torch.zeros(K))  # TRL: kept, at zero
    assert our_kept_groups(rewards) == [True, True, True, False]  # ours: dropped
    width = inputs["completion_ids"].shape[1]
    with_equal = trl_loss(trainer, inputs, step.logp(step.theta, torch.Size((len(step.completions), width))), None)

    kept = Step(INFORMATIVE, seed=11, stop_id=step.stop_id, pad_id=pad_id)
    kept.completions, kept.theta = step.completions[:-K], step.theta[:-K]
    trainer._test_step = kept
    kept_inputs = trl_inputs(trainer, kept)
    kept_width = kept_inputs["completion_ids"].shape[1]
    without = trl_loss(trainer, kept_inputs, kept.logp(kept.theta, torch.Size((len(kept.completions), kept_width))),
                       None)
    ours, _ = our_loss("dapo", kept.groups(), lambda shape: kept.logp(kept.theta, shape), None, "none", False, pad_id)
    assert float(ours) == pytest.approx(float(without), rel=1e-5)
    # The equal group's tokens only dilute TRL's token mean: same sign, smaller by their share of the tokens.
    assert float(with_equal) == pytest.approx(float(without) * float(kept_inputs["num_items_in_batch"])
                                              / float(inputs["num_items_in_batch"]), rel=1e-5)
