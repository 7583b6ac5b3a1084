"""Statistics for a benchmark table: what the papers report, and what a few seeds can honestly support.

Papers report **mean ± standard deviation** over seeds; the kit does too, next to the tools of Agarwal et al.,
*Deep RL at the Edge of the Statistical Precipice* (NeurIPS 2021; the ``rliable`` library):

* :func:`iqm` - the **interquartile mean**: the mean of the middle 50% of runs. As robust to one lucky or unlucky
  seed as the median, but it uses half the runs rather than one or two.
* :func:`bootstrap_ci` - a **stratified bootstrap** confidence interval: runs are resampled with replacement
  *within* each task (dataset x algorithm), so every task keeps its weight.
* :func:`probability_of_improvement` - P(X > Y): the chance that a run of method X beats a run of method Y on the
  same task (the Mann-Whitney U statistic / (n m), ties counting one half), averaged over tasks.

Scores arrive as ``{task: array of run scores}`` per method; tasks must match between methods being compared.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Scores = dict[str, np.ndarray]  # task -> (runs,) scores


def iqm(x: np.ndarray) -> float:
    """Mean of the middle 50% of ``x`` (all runs pooled): scipy's ``trim_mean(x, 0.25)``, written out so the rule is
    visible - sort, drop the lowest and highest quarter (fractional runs at the cut count fractionally)."""
    x = np.sort(np.asarray(x, np.float64).ravel())
    n = len(x)
    if n == 0:
        return float("nan")
    lo, hi = 0.25 * n, 0.75 * n
    w = np.clip(np.minimum(np.arange(1, n + 1), hi) - np.maximum(np.arange(n), lo), 0, 1)
    return float((w * x).sum() / w.sum())


def pooled(scores: Scores) -> np.ndarray:
    return np.concatenate([np.asarray(v, np.float64).ravel() for v in scores.values()]) if scores else np.zeros(0)


def probability_of_improvement(x: Scores, y: Scores) -> float:
    """P(X > Y) averaged over the tasks both have: for each task, the share of (run of X, run of Y) pairs where X
    scores higher, ties counting one half."""
    tasks = sorted(set(x) & set(y))
    if not tasks:
        raise ValueError(f"no common task between {sorted(x)} and {sorted(y)}")
    out = []
    for t in tasks:
        a, b = np.asarray(x[t], float)[:, None], np.asarray(y[t], float)[None, :]
        out.append(float(((a > b) + 0.5 * (a == b)).mean()))
    return float(np.mean(out))


def bootstrap_ci(
    statistic: Callable[..., float], *scores: Scores, reps: int = 2000, alpha: float = 0.05, seed: int = 0
) -> tuple[float, float, float]:
    """(point estimate, low, high): the percentile interval of ``statistic(*scores)`` over ``reps`` stratified
    bootstrap resamples (runs resampled with replacement within each task, independently per method)."""
    rng = np.random.default_rng(seed)
    point = statistic(*scores)
    reps_out = np.empty(reps)
    for r in range(reps):
        resampled = [
            {t: v[rng.integers(0, len(v), len(v))] for t, v in ((t, np.asarray(v, float)) for t, v in s.items())}
            for s in scores
        ]
        reps_out[r] = statistic(*resampled)
    lo, hi = np.quantile(reps_out, [alpha / 2, 1 - alpha / 2])
    return float(point), float(lo), float(hi)


def iqm_ci(scores: Scores, reps: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """IQM of all runs of all tasks with its 95% stratified bootstrap interval."""
    return bootstrap_ci(lambda s: iqm(pooled(s)), scores, reps=reps, seed=seed)


def improvement_ci(x: Scores, y: Scores, reps: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """P(X > Y) with its 95% stratified bootstrap interval."""
    return bootstrap_ci(probability_of_improvement, x, y, reps=reps, seed=seed)


def rank_marks(values: list[float], higher_is_better: bool = True) -> list[str]:
    """'best' / 'second' / '' per value (NaN never ranks), for marking a Table-1-shaped row."""
    v = np.array([x if np.isfinite(x) else np.nan for x in values], float)
    order = [i for i in np.argsort(-v if higher_is_better else v, kind="stable") if np.isfinite(v[i])]
    marks = [""] * len(values)
    distinct = sorted({v[i] for i in order}, reverse=higher_is_better)
    if len(distinct) < 2:  # a row of ties ranks nothing
        return marks
    for i in order:
        if v[i] == distinct[0]:
            marks[i] = "best"
        elif len(distinct) > 1 and v[i] == distinct[1]:
            marks[i] = "second"
    return marks
