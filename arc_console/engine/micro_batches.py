"""A step's kept groups cut into micro-batches for the update, with the step's counts that normalise its loss.

The update runs forward and backward one micro-batch at a time and accumulates the gradients, so its
activations and logits are those of `micro_groups` groups whatever the number of problems per step,
or of `micro_rows` candidates where a group's rows are cut further (objectives whose loss is a sum over
rows; the seed's preference rule compares rows of one group and never cuts one).
Everything that spans rows or groups is computed here over the whole step first: advantages are per
group, and the loss's denominator (the objective's: DAPO's is the step's loss tokens, GRPO's its sequences)
is the step's count, so the summed gradient equals that of one pass over every group.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from arc_console.engine.logprobs import Batch, build_batch
from arc_console.engine.objectives import group_advantages
from arc_console.engine.step_groups import Group


@dataclass
class MicroBatch:
    """Consecutive candidates of the step (whole groups, or a cut of them), as one padded batch."""

    batch: Batch
    advantages: torch.Tensor  # [rows], each candidate's group-normalised advantage
    accuracies: torch.Tensor  # [rows], each candidate's accuracy (the seed's preference rule ranks by it)
    loss_mask: torch.Tensor  # [rows, T]: the completion mask, less truncated rows under --mask-truncated


@dataclass
class StepCounts:
    """What the step's loss and figures are normalised by: counted over every micro-batch (each objective's
    denominator is one of them, objective_registry.py)."""

    groups: int
    rows: int
    loss_tokens: float
    completion_tokens: float



def group_slices(count: int, micro_groups: int) -> list[slice]:
    """Consecutive slices of `count` groups, `micro_groups` each (0: one slice of all of them)."""
    size = count if micro_groups <= 0 else micro_groups
    return [slice(start, start + size) for start in range(0, count, size)]


def row_slices(count: int, micro_rows: int) -> list[slice]:
    """Consecutive slices of `count` rows, at most `micro_rows` each and as even as can be (8 rows at 3: 3,
    3, 2, not a last pass of 1 row that would bring the compiled forward a shape of its own; 0: one slice)."""
    if micro_rows <= 0 or micro_rows >= count:
        return [slice(0, count)]
    passes = -(-count // micro_rows)
    sizes = [count // passes + (1 if i < count % passes else 0) for i in range(passes)]
    starts = [sum(sizes[:i]) for i in range(passes)]
    return [slice(start, start + size) for start, size in zip(starts, sizes)]


def micro_batches(groups: list[Group], micro_groups: int, scale_rewards: str, mask_truncated: bool, pad_id: int,
                  device: torch.device, micro_rows: int = 0) -> tuple[list[MicroBatch], StepCounts]:
    """The step's groups as micro-batches of `micro_groups` groups (0: all in one), each cut into batches of
    `micro_rows` candidates (0: uncut), and the step's counts."""
    rewards = torch.tensor([g.rewards for g in groups], dtype=torch.float32, device=device)
    advantages = group_advantages(rewards, scale_rewards)  # [G, K]: each group's own, so slicing keeps them
    parts = []
    for part in group_slices(len(groups), micro_groups):
        chosen = groups[part]
        prompts = [g.prompt_ids for g in chosen for _ in g.samples]
        samples = [s for g in chosen for s in g.samples]
        accuracies = torch.tensor([a for g in chosen for a in g.accuracies], device=device)
        part_advantages = advantages[part].flatten()
        for rows in row_slices(len(samples), micro_rows):
            parts.append(_micro_batch(prompts[rows], samples[rows], part_advantages[rows], accuracies[rows],
                                      mask_truncated, pad_id, device))
    counts = StepCounts(groups=len(groups), rows=sum(p.batch.input_ids.shape[0] for p in parts),
                        loss_tokens=float(sum(float(p.loss_mask.sum()) for p in parts)),
                        completion_tokens=float(sum(float(p.batch.completion_mask.sum()) for p in parts)))
    return parts, counts


def _micro_batch(prompts: list[list[int]], samples: list, advantages: torch.Tensor, accuracies: torch.Tensor,
                 mask_truncated: bool, pad_id: int, device: torch.device) -> MicroBatch:
    batch = build_batch(prompts, [s.completion_ids for s in samples], [s.temperature for s in samples], pad_id, device)
    loss_mask = batch.completion_mask
    if mask_truncated:
        # DAPO's overlong filtering: a truncated completion still shaped its group's advantages above,
        # but none of its tokens enters the loss or the token count.
        kept_rows = torch.tensor([not s.truncated for s in samples], device=loss_mask.device)
        loss_mask = loss_mask * kept_rows.unsqueeze(1).to(loss_mask.dtype)
    return MicroBatch(batch, advantages, accuracies, loss_mask)
