"""Normalizers: z-score (CORL's offline RL algorithms), the per-dimension empirical CDF (DiffStitch), and CORL's
reward scale (IQL and CQL on some locomotion datasets).

Both are fit on data and invert exactly: ``unnormalize(normalize(x)) == x`` (within float precision; the CDF
normalizer within the data's range, since values outside it are clipped to its ends).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class ZScore:
    """x -> (x - mean) / (std + eps); eps 1e-3 as CORL, so constant dimensions do not blow up."""

    mean: np.ndarray
    std: np.ndarray
    eps: float = 1e-3

    @classmethod
    def fit(cls, x: np.ndarray, eps: float = 1e-3) -> ZScore:
        x = np.asarray(x, np.float64).reshape(-1, np.shape(x)[-1])
        return cls(x.mean(0), x.std(0), eps)

    def normalize(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mean) / (self.std + self.eps)).astype(np.float32)

    def unnormalize(self, y: np.ndarray) -> np.ndarray:
        return (y * (self.std + self.eps) + self.mean).astype(np.float32)


@dataclass
class EmpiricalCDF:
    """Each dimension mapped through its empirical CDF to [-1, 1] (DiffStitch's ``CDFNormalizer``).

    Why: state dimensions of locomotion data are heavy-tailed (velocities) or nearly discrete (contacts); the CDF
    spreads every dimension evenly over [-1, 1], the range a diffusion model's clipped samples live in. The map
    is piecewise linear between ``knots`` quantiles, so it is exactly invertible. Constant dimensions map to 0.
    """

    knots_x: list[np.ndarray]  # per dimension: increasing data values
    knots_p: list[np.ndarray]  # per dimension: their cumulative probabilities in [0, 1]

    @classmethod
    def fit(cls, x: np.ndarray, max_knots: int = 1001) -> EmpiricalCDF:
        x = np.asarray(x, np.float64).reshape(-1, np.shape(x)[-1])
        kx, kp = [], []
        for col in x.T:
            values, counts = np.unique(col, return_counts=True)
            cum = np.cumsum(counts) / col.size
            if len(values) > max_knots:  # keep a quantile grid: same map, fewer knots
                idx = np.unique(np.linspace(0, len(values) - 1, max_knots).round().astype(int))
                values, cum = values[idx], cum[idx]
            kx.append(values)
            kp.append(cum)
        return cls(kx, kp)

    def normalize(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, np.float64)
        out = np.zeros_like(x)
        for d, (vx, vp) in enumerate(zip(self.knots_x, self.knots_p)):
            if len(vx) > 1:
                out[..., d] = 2.0 * np.interp(x[..., d], vx, vp) - 1.0
        return out.astype(np.float32)

    def unnormalize(self, y: np.ndarray) -> np.ndarray:
        y = np.asarray(y, np.float64)
        out = np.zeros_like(y)
        for d, (vx, vp) in enumerate(zip(self.knots_x, self.knots_p)):
            out[..., d] = np.interp((y[..., d] + 1.0) / 2.0, vp, vx) if len(vx) > 1 else vx[0]
        return out.astype(np.float32)


def return_range_scale(returns: np.ndarray, max_episode_steps: int = 1000) -> float:
    """CORL's reward normalisation (``modify_reward`` with ``normalize_reward: true``): rewards are multiplied by
    ``max_episode_steps / (max return - min return)`` over the dataset's episodes, so its returns span 1000.

    Why it matters: IQL weighs each action by exp(beta * advantage), so beta only means what its authors tuned it to
    mean (beta 3) on rewards of that scale; with raw rewards the advantage weights are sharper (hopper's
    medium-replay returns span about 2,300 here: the scale is 0.44). CORL switches it on where its configs say
    (IQL on hopper medium and medium-replay, CQL on hopper medium), and the kit's learners declare the same."""
    returns = np.asarray(returns, float)
    span = float(returns.max() - returns.min()) if returns.size else 0.0
    if not np.isfinite(span) or span <= 0:
        raise ValueError(f"reward normalisation needs episodes of different returns; their range is {span}")
    return max_episode_steps / span
