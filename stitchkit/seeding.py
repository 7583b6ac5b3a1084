"""Same seed, same result: every random draw in the kit takes a seed or a generator made here."""

from __future__ import annotations

import random

import numpy as np
import torch


def seed_everything(seed: int) -> np.random.Generator:
    """Seed Python, NumPy's legacy global state and torch (CPU and CUDA); return a fresh NumPy generator.

    Library code should not rely on the global states: pass the returned generator (or one from
    :func:`numpy_rng` / :func:`torch_rng`) down instead. Seeding the globals only guards third-party code.
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return numpy_rng(seed)


def numpy_rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    """A NumPy generator from a seed (or pass a generator through unchanged)."""
    if seed is None:
        raise ValueError("a seed is required: stitchkit never draws from an unseeded generator")
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def torch_rng(seed: int, device: str | torch.device = "cpu") -> torch.Generator:
    """A torch generator on ``device`` seeded with ``seed``."""
    gen = torch.Generator(device=device)
    gen.manual_seed(seed)
    return gen
