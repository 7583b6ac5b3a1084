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


def best_episodes(episodes: list[Episode], fraction: float) -> list[Episode]:
    """The ``fraction`` of ``episodes`` with the highest returns (at least one), in their original order: CORL's
    "10% BC" data (its ``frac``), the usual check of how much a dataset's best behaviour is worth."""
    keep = max(1, round(fraction * len(episodes)))
    chosen = set(sorted(range(len(episodes)), key=lambda i: episodes[i].ret, reverse=True)[:keep])
    return [e for i, e in enumerate(episodes) if i in chosen]


def corl_segments(episodes: list[Episode], max_len: int = 1000) -> list[tuple[float, int]]:
    """(return, transitions) of each "trajectory" CORL's 10%-BC ranks, as its ``keep_best_trajectories`` cuts
    ``d4rl.qlearning_dataset``: the data as one stream without the time-limit steps (``qlearning_dataset`` drops
    them), cut only where the MDP terminated or after ``max_len`` transitions (CORL's ``max_traj_len``), summed
    undiscounted (its configs' ``discount: 1.0``).

    Why: :func:`best_episodes` ranks whole episodes, which is what "the best 10% of trajectories" says; CORL's code
    does not cut at a time limit, so episodes a replay buffer cut short are joined with the next one before they
    are ranked. Reading the kit's 10%-BC beside CORL's needs to know how much that changes the chosen data."""
    segments, ret, n = [], 0.0, 0
    for ep in episodes:
        for r, done, cut in zip(ep.rewards, ep.terminations, ep.truncations):
            if cut:
                continue
            ret, n = ret + float(r), n + 1
            if done or n == max_len:
                segments.append((ret, n))
                ret, n = 0.0, 0
    return segments  # a last unfinished run of steps is dropped, as CORL drops it


def top_share(episodes: list[Episode], fraction: float) -> dict[str, dict[str, float]]:
    """What the best ``fraction`` holds when ranked by whole episodes (the kit's 10%-BC data) and by CORL's
    segments (:func:`corl_segments`): count, transitions and reward per transition of each choice."""
    kit = best_episodes(episodes, fraction)
    segs = sorted(corl_segments(episodes), reverse=True)
    segs = segs[: max(1, int(fraction * len(segs)))]  # CORL: int(frac * n), at least one
    kit_steps = sum(len(e) for e in kit)
    seg_steps = sum(n for _, n in segs)
    return {
        "episodes (kit)": {"kept": len(kit), "transitions": kit_steps, "per_step": sum(e.ret for e in kit) / kit_steps},
        "segments (CORL)": {
            "kept": len(segs),
            "transitions": seg_steps,
            "per_step": sum(r for r, _ in segs) / seg_steps,
        },
    }


def by_return(episodes: list[Episode], budget: int, seed: int) -> list[Episode]:
    """About ``budget`` transitions of whole episodes that keep the return distribution (:func:`by_return_indices`)."""
    keep = by_return_indices([e.ret for e in episodes], [len(e) for e in episodes], budget, seed)
    return [episodes[i] for i in keep]


def by_return_indices(returns, lengths, budget: int, seed: int) -> list[int]:
    """Which whole episodes make about ``budget`` transitions while keeping the return distribution: the episodes
    sorted by return are taken at evenly spaced ranks (a systematic sample with a seeded start), so every return
    quantile keeps its share of episodes. A random subset of a few hundred episodes could miss the rare best ones,
    which decide what 10%-BC and the stitching methods can reach. Indices in the original order; all of them when
    the budget covers the data. Needs only returns and lengths, so a recording is cut before it is replayed."""
    returns, lengths = np.asarray(returns, float), np.asarray(lengths, int)
    total, n_all = int(lengths.sum()), len(lengths)
    if budget >= total:
        return list(range(n_all))
    if budget <= 0:
        raise ValueError(f"budget must be positive, got {budget}")
    order = np.argsort(returns, kind="stable")
    start = numpy_rng(seed).random()
    fraction = budget / total
    for _ in range(50):  # grow the sampled fraction until the transitions reach the budget
        n = min(n_all, max(1, int(round(fraction * n_all))))
        ranks = np.minimum(((np.arange(n) + start) * n_all / n).astype(int), n_all - 1)
        keep = np.unique(order[ranks])
        got = int(lengths[keep].sum())
        if got >= budget or n == n_all:
            break
        fraction *= budget / max(got, 1) * 1.01
    return [int(i) for i in keep]
