"""Small-sample variants: whole trajectories kept, chosen by a seed (TSRL's protocol, which TELS reuses).

TSRL keeps floor(N_episodes / ratio) episodes (ratio 200 for hopper-medium-expert gives about 11k transitions);
a transition budget instead keeps episodes in a seeded random order until the budget is met. Whole trajectories,
never cut ones, because stitching methods need the temporal structure.
"""

from __future__ import annotations

import numpy as np

from stitchkit.data.episodes import Episode
from stitchkit.seeding import numpy_rng


def subsample_episodes(
    episodes: list[Episode], seed: int, ratio: float | None = None, budget: int | None = None
) -> list[Episode]:
    """Keep ``floor(len(episodes) / ratio)`` random episodes, or the fewest random episodes whose transitions
    reach ``budget``. Kept episodes stay in their original order."""
    if (ratio is None) == (budget is None):
        raise ValueError("give exactly one of ratio (e.g. 200) or budget (e.g. 10_000 transitions)")
    order = numpy_rng(seed).permutation(len(episodes))
    if ratio is not None:
        if ratio < 1:
            raise ValueError(f"ratio must be >= 1 (keep 1/ratio of the episodes), got {ratio}")
        keep = order[: max(1, int(len(episodes) // ratio))]
    else:
        lengths = np.array([len(episodes[i]) for i in order])
        if budget <= 0 or budget > lengths.sum():
            raise ValueError(f"budget {budget} must be in 1..{lengths.sum()} (the dataset's transitions)")
        keep = order[: int(np.searchsorted(np.cumsum(lengths), budget)) + 1]
    return [episodes[i] for i in np.sort(keep)]
