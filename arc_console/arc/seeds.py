"""Every seed derived from the user's one: a step's, a task's, an augmentation's, all from (seed, ...) alone.

A resumed run, a task answered after others, a rank that draws another's slot: each derives the same
seed from the same parts, whatever ran before. (The sampling key of a candidate is the counter-based
hash decoding/device_sampling.sampling_key, made to be computed on the device as well.)
"""

from __future__ import annotations

import hashlib
import random


def _digest(parts: tuple[object, ...]) -> int:
    text = ":".join(str(part) for part in parts)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def derived_seed(*parts: object) -> int:
    """A 63-bit seed for torch.manual_seed from parts such as (salt, seed, task id): the first 8 bytes of
    the SHA-256 of the parts joined by ':'."""
    return _digest(parts) % (2**63)


def derived_rng(*parts: object) -> random.Random:
    """A Python generator of its own from the parts, leaving the global random state untouched."""
    return random.Random(_digest(parts))


def step_seed(seed: int, step: int) -> int:
    """The seed a training step starts from (torch's and Python's global generators)."""
    return (seed * 1_000_003 + step) % (2**63)
