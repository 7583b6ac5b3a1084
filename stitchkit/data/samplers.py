"""Samplers: uniform transitions, fixed-horizon windows, and the original:augmented mixture.

Augmentation papers train on a mixture of original and generated data at a ratio r = original : augmented
(DiffStitch's "data ratio"). :class:`MixedSampler` honours r exactly in every batch rather than in expectation, so
a small batch cannot drift to all-original or all-augmented by chance.
"""

from __future__ import annotations

import numpy as np

from stitchkit.data.episodes import Episode, FlatEpisodes, window_starts, windows
from stitchkit.seeding import numpy_rng


class TransitionSampler:
    """Uniform batches from a flat transition dict (see :func:`stitchkit.data.episodes.transitions`)."""

    def __init__(self, data: dict[str, np.ndarray], seed: int | np.random.Generator):
        self.data = data
        self.size = len(data["actions"])
        if self.size == 0:
            raise ValueError("cannot sample from an empty dataset")
        self.rng = numpy_rng(seed)

    def sample(self, batch_size: int) -> dict[str, np.ndarray]:
        idx = self.rng.integers(0, self.size, size=batch_size)
        return {k: v[idx] for k, v in self.data.items()}


def split_batch(batch_size: int, ratio: float) -> tuple[int, int]:
    """(original, augmented) counts of a batch at ratio r = original : augmented, exactly in every batch."""
    n_orig = int(round(batch_size * ratio / (ratio + 1.0)))
    return n_orig, batch_size - n_orig


class MixedSampler:
    """Batches with round(B * r / (r + 1)) original and the rest augmented transitions, r = original : augmented."""

    def __init__(
        self,
        original: dict[str, np.ndarray],
        augmented: dict[str, np.ndarray] | None,
        ratio: float,
        seed: int | np.random.Generator,
    ):
        if ratio <= 0:
            raise ValueError(f"ratio r = original : augmented must be > 0, got {ratio}")
        rng = numpy_rng(seed)
        self.rng = rng  # one generator for both parts: its state is the sampler's whole random state
        self.ratio = ratio
        self.original = TransitionSampler(original, rng)
        self.augmented = TransitionSampler(augmented, rng) if augmented is not None else None

    def split(self, batch_size: int) -> tuple[int, int]:
        if self.augmented is None:
            return batch_size, 0
        return split_batch(batch_size, self.ratio)

    def sample(self, batch_size: int) -> dict[str, np.ndarray]:
        n_orig, n_aug = self.split(batch_size)
        a = self.original.sample(n_orig)
        if n_aug == 0:
            return a | {"augmented": np.zeros(n_orig, np.float32)}
        b = self.augmented.sample(n_aug)
        keys = a.keys() & b.keys()
        out = {k: np.concatenate([a[k], b[k]]) for k in keys}
        out["augmented"] = np.concatenate([np.zeros(n_orig), np.ones(n_aug)]).astype(np.float32)
        return out


class WindowSampler:
    """Uniform batches of ``horizon``-step windows; they never cross an episode boundary, and run past an
    episode's end into zero padding (mask 0) only when ``pad`` is asked for."""

    def __init__(self, episodes: list[Episode], horizon: int, seed: int | np.random.Generator, pad: bool = False):
        self.episodes, self.horizon = episodes, horizon
        self.flat = FlatEpisodes(episodes)  # built once; every batch is then pure indexing
        self.starts = window_starts(episodes, horizon, pad)
        if len(self.starts) == 0:
            raise ValueError(f"no episode is {horizon} steps long; use pad=True or a shorter horizon")
        self.rng = numpy_rng(seed)

    def draw(self, batch_size: int) -> np.ndarray:
        """The (episode, step) rows of the next batch: the generator's only use, so batches of several samplers
        drawn first and gathered as one (:func:`gather`) are each sampler's own batches."""
        return self.starts[self.rng.integers(0, len(self.starts), size=batch_size)]

    def sample(self, batch_size: int) -> dict[str, np.ndarray]:
        rows = self.draw(batch_size)
        return windows(self.flat, rows, self.horizon) | {"episode": rows[:, 0], "start": rows[:, 1]}

    def sharing(self, seed: int | np.random.Generator) -> WindowSampler:
        """A sampler over the same episodes with its own generator, sharing the gathered arrays (one copy of the
        data for every seed of a batched run: eight copies had made an 8-seed DT batch three times slower)."""
        twin = object.__new__(WindowSampler)
        twin.episodes, twin.horizon, twin.flat, twin.starts = self.episodes, self.horizon, self.flat, self.starts
        twin.rng = numpy_rng(seed)
        return twin


def gather(samplers: list[WindowSampler], batch_size: int) -> dict[str, np.ndarray]:
    """One batch per sampler (sharing one :class:`FlatEpisodes`), stacked (S, B, ...), gathered in one indexing
    pass: the same arrays as stacking each sampler's ``sample`` (test), without the per-seed copies."""
    flat = samplers[0].flat
    if any(s.flat is not flat for s in samplers):  # checked before any generator moves
        raise ValueError("gather takes samplers that share their episodes (WindowSampler.sharing)")
    rows = np.concatenate([s.draw(batch_size) for s in samplers])
    out = windows(flat, rows, samplers[0].horizon)
    return {k: v.reshape(len(samplers), batch_size, *v.shape[1:]) for k, v in out.items()}
