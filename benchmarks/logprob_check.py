"""How closely the rollout engine's log-probs of its sampled tokens agree with the trainer's own forward pass."""

from __future__ import annotations

import torch

from arc_console.engine.logprobs import build_batch, completion_logprobs


def max_logprob_difference(policy, rollout, temps: list[float], chunk: int) -> float:
    """Largest |engine log-prob - trainer log-prob| over the sampled tokens."""
    samples = rollout.samples
    batch = build_batch([rollout.prompt_ids[s.group] for s in samples], [s.completion_ids for s in samples],
                        [s.temperature for s in samples], policy.tokenizer.pad_token_id, policy.device)
    policy.for_training()
    trainer, _ = completion_logprobs(policy, batch, chunk, with_grad=False)
    worst = 0.0
    for row, sample in enumerate(samples):
        engine = torch.tensor(sample.logprobs, device=trainer.device)
        worst = max(worst, (engine - trainer[row, : sample.num_tokens]).abs().max().item())
    return worst
