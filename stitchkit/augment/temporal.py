"""A temporal-distance representation: an encoder phi whose distances ||phi(s) - phi(g)|| count steps.

ASTRO picks stitch targets that are *reachable*: a state the planner can get to within its horizon. Euclidean
distance in state space does not say that - in a maze two points on either side of a wall are close but many
steps apart; a hopper mid-flight and one landing may be far apart in joint space yet one step from each other.
The kit learns the step count instead, from the one thing the data shows for sure: two states k steps apart on the
same trajectory are reachable from each other in (at most) k steps.

Training pairs (:func:`sample_pairs`): one episode, a state s_i, and s_j with j - i = k, k drawn uniformly in
[0, cap] most of the time and over the rest of the episode otherwise. The loss (:func:`distance_loss`) is an
expectile regression of ||phi(s_i) - phi(s_j)|| on min(k, cap) that leans to the low end, because k is only an
upper bound on the shortest way from s_i to s_j. Distances are in steps, so the reachability test is a plain
comparison with the planner's horizon.

Choices the ASTRO text leaves open, made here (see notebook 06): expectile regression on same-trajectory step
counts (HILP learns the same kind of space by temporal-difference learning on a goal-conditioned value, which
also composes distances across trajectories); a symmetric metric (a quasimetric would respect one-way dynamics);
CDF-normalized states as input, shared with the DiffStitch models.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from stitchkit.algos.common import check_finite
from stitchkit.augment.models import _mlp
from stitchkit.data.episodes import Episode
from stitchkit.progress import bar

EXPECTILE = 0.1  # the default low expectile of step counts the distance tracks (see distance_loss)


class TemporalDistance(nn.Module):
    """phi: S -> R^latent; ``forward(s, g)`` is the predicted number of steps between s and g."""

    def __init__(self, obs_dim: int, latent_dim: int = 32, hidden: int = 256):
        super().__init__()
        self.phi = _mlp(obs_dim, latent_dim, (hidden, hidden))

    def embed(self, s: torch.Tensor) -> torch.Tensor:
        return self.phi(s)

    def forward(self, s: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        return (self.phi(s) - self.phi(g)).norm(dim=-1)


def sample_pairs(
    lengths: np.ndarray, batch: int, cap: int, rng: np.random.Generator, far_fraction: float = 0.25
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(episode, i, k) for ``batch`` same-trajectory pairs s_i, s_{i+k}; ``lengths`` counts states per episode.

    Episodes are drawn in proportion to their length; k is uniform in [0, min(cap, room)] for most pairs and
    uniform over the whole rest of the episode for ``far_fraction`` of them (the hinge pairs)."""
    p = lengths / lengths.sum()
    e = rng.choice(len(lengths), size=batch, p=p)
    i = (rng.random(batch) * lengths[e]).astype(np.int64)
    room = lengths[e] - 1 - i
    far = rng.random(batch) < far_fraction
    kmax = np.where(far, room, np.minimum(cap, room))
    k = (rng.random(batch) * (kmax + 1)).astype(np.int64)
    return e, i, k


def distance_loss(d: torch.Tensor, k: torch.Tensor, cap: int, expectile: float = EXPECTILE) -> torch.Tensor:
    """Expectile regression of d on y = min(k, cap), in units of cap.

    A trajectory that went from s to g in k steps proves g reachable in *at most* k steps; a shorter way may exist
    elsewhere in the data (an OGBench maze episode loiters at its goal, so two states 150 steps apart on it can be
    one step apart in space). So a distance above k is penalized with weight 1 - expectile and one below it with
    weight expectile: the fit tracks the low end of the step counts seen for a pair, the shortest one. Pairs
    beyond the cap only push d up to the cap."""
    y = k.clamp(max=cap)
    u = y - d
    w = torch.where(u > 0, torch.full_like(u, expectile), torch.where(k < cap, 1 - expectile, 0.0))
    return (w * (u / cap) ** 2).mean()


def _states(episodes: list[Episode], normalize) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
    """All states (with each episode's final next state) stacked, their episode offsets and counts."""
    obs = np.concatenate([e.observations for e in episodes])
    lengths = np.array([len(e.observations) for e in episodes])
    offsets = np.r_[0, np.cumsum(lengths)[:-1]]
    return torch.as_tensor(normalize(obs), dtype=torch.float32), offsets, lengths


def split_episodes(n: int, seed: int = 0, held_out: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Train and held-out episode indices (whole episodes are held out, so held-out pairs are unseen states)."""
    perm = np.random.default_rng([seed, 41]).permutation(n)
    k = max(1, int(round(held_out * n))) if n > 1 else 0
    return np.sort(perm[k:]), np.sort(perm[:k])


def train_distance(
    episodes: list[Episode],
    normalize,
    steps: int,
    batch: int,
    cap: int,
    latent_dim: int = 32,
    hidden: int = 256,
    lr: float = 1e-3,
    seed: int = 0,
    device: str = "cpu",
    log_every: int = 0,
    expectile: float = EXPECTILE,
) -> tuple[TemporalDistance, list[dict]]:
    """Fit a :class:`TemporalDistance` on same-trajectory pairs of ``episodes``; returns it and its loss curve."""
    torch.manual_seed(seed)
    x, offsets, lengths = _states(episodes, normalize)
    x = x.to(device)
    model = TemporalDistance(x.shape[1], latent_dim, hidden).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    rng = np.random.default_rng([seed, 43])
    curve, every, running = [], log_every or max(1, steps // 25), []
    shown = bar(steps, "temporal distance")
    for step in range(1, steps + 1):
        shown.update()
        e, i, k = sample_pairs(lengths, batch, cap, rng)
        a = torch.as_tensor(offsets[e] + i, device=device)
        b = torch.as_tensor(offsets[e] + i + k, device=device)
        loss = distance_loss(model(x[a], x[b]), torch.as_tensor(k, dtype=torch.float32, device=device), cap, expectile)
        check_finite({"temporal distance loss": loss}, step)
        opt.zero_grad()
        loss.backward()
        opt.step()
        running.append(loss.item())
        if step % every == 0 or step == steps:
            curve.append({"step": step, "loss": float(np.mean(running))})
            running = []
    shown.close()
    model.eval()
    return model, curve


def _rank(x: np.ndarray) -> np.ndarray:
    r = np.empty(len(x))
    r[np.argsort(x, kind="stable")] = np.arange(len(x))
    return r


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Rank correlation: does a larger distance mean more steps, whatever the scale?"""
    return float(np.corrcoef(_rank(a), _rank(b))[0, 1])


def auc(score: np.ndarray, positive: np.ndarray) -> float:
    """Probability that a random positive scores lower than a random negative (ties count half)."""
    pos, neg = score[positive], score[~positive]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    r = _rank(np.concatenate([pos, neg])) + 1
    return float(1 - (r[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


@torch.no_grad()
def distance_quality(
    model: TemporalDistance, episodes: list[Episode], normalize, cap: int, horizon: int, n: int = 4096, seed: int = 0
) -> dict[str, Any]:
    """How well learned and Euclidean distance predict true step counts on pairs of ``episodes`` (held out).

    Pairs are k in [1, cap] steps apart on one trajectory. For each distance: Spearman correlation with k, the
    mean absolute error in steps after the best affine fit k ~ a*d + b (so Euclidean distance gets its best
    scale), and the AUC of "reachable within ``horizon`` steps"."""
    x, offsets, lengths = _states(episodes, normalize)
    rng = np.random.default_rng([seed, 47])
    e, i, k = sample_pairs(lengths, 4 * n, cap, rng, far_fraction=0.0)
    keep = k >= 1
    e, i, k = e[keep][:n], i[keep][:n], k[keep][:n]
    a, b = x[offsets[e] + i], x[offsets[e] + i + k]
    dist = next(model.parameters()).device
    learned = model(a.to(dist), b.to(dist)).cpu().numpy()
    euclid = (a - b).norm(dim=-1).numpy()
    out: dict[str, Any] = {"pairs": int(len(k)), "horizon": horizon}
    for name, d in (("learned", learned), ("euclidean", euclid)):
        coef = np.polyfit(d, k, 1)
        out[name] = {
            "spearman": spearman(d, k),
            "mae_steps": float(np.abs(np.polyval(coef, d) - k).mean()),
            "auc_reachable": auc(d, k <= horizon),
        }
    out["raw"] = {"k": k, "learned": learned, "euclidean": euclid}
    return out
