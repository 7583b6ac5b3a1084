"""Statistics for a benchmark table: what the papers report, and what a few seeds can honestly support.

Papers report **mean ± standard deviation** over seeds; the kit does too, next to the tools of Agarwal et al.,
*Deep RL at the Edge of the Statistical Precipice* (NeurIPS 2021; the ``rliable`` library):

* :func:`iqm` - the **interquartile mean**: the mean of the middle 50% of runs. As robust to one lucky or unlucky
  seed as the median, but it uses half the runs rather than one or two.
* :func:`bootstrap_ci` - a **stratified bootstrap** confidence interval: runs are resampled with replacement
  *within* each task (dataset x algorithm), so every task keeps its weight.
* :func:`mean_ci`, :func:`difference_ci` - a mean's 95% Student-t interval over seeds, and the difference of
  two means with its 95% Welch interval (the campaign's reading of a direction at 3 seeds).
* :func:`seeds_needed` - how many seeds per arm a difference of a given size needs to show, at the spread the
  seeds so far have (the two-sample sample-size formula).
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


# ------------------------------------------------------------- Student-t intervals: a mean and a difference
T975 = {  # Student's t 97.5% quantile by degrees of freedom
    **{1: 12.71, 2: 4.30, 3: 3.18, 4: 2.78, 5: 2.57, 6: 2.45, 7: 2.36, 8: 2.31, 9: 2.26, 10: 2.23},
    **{20: 2.086, 30: 2.042, 60: 2.000, 120: 1.980, 10**9: 1.960},
}


def t975(df: float) -> float:
    """Student's t 97.5% quantile at ``df`` degrees of freedom, read off :data:`T975` (linear between its rows:
    Welch's df is not a whole number). No scipy: the kit's one statistical table is small enough to keep."""
    keys = sorted(T975)
    return float(np.interp(df, keys, [T975[k] for k in keys]))


def mean_ci(x: list[float]) -> tuple[float, float, float]:
    """Mean and its 95% Student-t interval over seeds. With 3 seeds the interval is wide (t = 4.30): a bootstrap
    over 3 values would only span their range and claim more certainty than 3 runs hold."""
    a = np.asarray(x, float)
    m = float(a.mean())
    if len(a) < 2:
        return m, float("nan"), float("nan")
    half = t975(len(a) - 1) * float(a.std(ddof=1)) / np.sqrt(len(a))
    return m, m - half, m + half


def difference_ci(x: list[float], y: list[float]) -> tuple[float, float, float]:
    """mean(x) - mean(y) and its 95% Welch interval (unequal spreads, Welch-Satterthwaite df). Why beside the two
    intervals: two 95% intervals can overlap while the difference's interval still excludes 0, so overlap alone
    under-reads an effect; the difference's interval is the test of the direction."""
    a, b = np.asarray(x, float), np.asarray(y, float)
    diff = float(a.mean() - b.mean())
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se = float(np.sqrt(va + vb))
    if se == 0.0:
        return diff, diff, diff
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    half = t975(df) * se
    return diff, diff - half, diff + half


Z975, Z80 = 1.959964, 0.841621  # standard normal quantiles: a two-sided 95% test, 80% power


def seeds_needed(x: list[float], y: list[float], effect: float) -> int:
    """Seeds per arm at which a true difference of ``effect`` between x's and y's means would show (its 95%
    interval excluding 0) in 4 campaigns of 5, if the seeds keep the spread they have so far: the two-sample
    sample-size formula ``n = (z_0.975 + z_0.80)^2 (sd_x^2 + sd_y^2) / effect^2``, rounded up, at least 2. Why: an
    interval that spans 0 at 3 seeds says "not shown", and this says whether 3 seeds could ever have shown the
    paper's effect. It uses normal quantiles, so at a handful of seeds (t's heavier tails) it reads a seed or two
    low, and a spread read off 3 seeds is itself loose (its 95% interval runs from about half to six times the
    measured one): an order of magnitude, not a plan."""
    if effect == 0:
        raise ValueError("seeds_needed: a difference of 0 can never show; pass the effect size to detect")
    a, b = np.asarray(x, float), np.asarray(y, float)
    spread = float(a.var(ddof=1) + b.var(ddof=1))
    return max(2, int(np.ceil((Z975 + Z80) ** 2 * spread / effect**2)))
