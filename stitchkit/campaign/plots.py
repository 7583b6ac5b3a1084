"""A campaign's records drawn: learning curves with each seed, and a forest plot of what each augmenter adds over
the original data, with 95% intervals and the paper's difference marked. Read-only, like :mod:`.readings`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from stitchkit.campaign.readings import TAIL, paper_difference, scores
from stitchkit.campaign.records import TOP, Campaign, data_summaries, results_folder, short_id
from stitchkit.stats import difference_ci


def curves(recs: list[dict[str, Any]], metric: str = "d4rl_score") -> dict[tuple[str, str, str], tuple]:
    """{(dataset, algorithm, augmenter): (steps, (seeds, evaluations) array)} for plotting seed bands; seeds whose
    curves have different evaluation steps are cut to the common prefix."""
    out: dict[tuple[str, str, str], list] = {}
    for r in recs:
        c, cv = r["cell"], r["result"]["curve"]
        if metric in cv:
            out.setdefault((c["dataset"], c["algorithm"], c["augmenter"]), []).append((cv["step"], cv[metric]))
    result = {}
    for k, runs in out.items():
        n = min(len(s) for s, _ in runs)
        result[k] = (np.asarray(runs[0][0][:n]), np.asarray([v[:n] for _, v in runs], float))
    return result


def plot_curves(
    c: Campaign,
    recs: list[dict[str, Any]],
    dataset: str,
    metric: str = "d4rl_score",
    augmenters: tuple[str, ...] | None = None,
    axes=None,
    folder: Path | None = None,
):
    """Learning curves of one dataset, a panel per learner, a line per augmenter (the seeds' mean) with a band over
    its seeds (min to max) and each seed as a thin line; an arm without records is listed as not yet computed in
    the panel. On the D4RL scale, dotted lines mark the data's own best episode and best tenth's mean
    (:func:`data_summary`): a curve above them does better than copying the data."""
    import matplotlib.pyplot as plt

    cv = curves(recs, metric)
    ceiling = data_summaries(folder or results_folder(c)).get(dataset) if metric == "d4rl_score" else None
    if axes is None:
        _, axes = plt.subplots(1, len(c.grid.algorithms), figsize=(5 * len(c.grid.algorithms), 3.4), squeeze=False)
        axes = axes[0]
    for ax, algo in zip(axes, c.grid.algorithms):
        missing = []
        for a in augmenters or c.grid.augmenters:
            if (dataset, algo, a) not in cv:
                missing.append(a)
                continue
            steps, v = cv[(dataset, algo, a)]
            line = ax.plot(steps, v.mean(0), label=f"{a} (n={len(v)})")[0]
            ax.fill_between(steps, v.min(0), v.max(0), color=line.get_color(), alpha=0.2)
            for seed_curve in v:  # each seed thin: a band over seeds that split in two looks like one wide arm
                ax.plot(steps, seed_curve, color=line.get_color(), lw=0.6, alpha=0.5)
        if ceiling is not None:
            ax.axhline(ceiling["d4rl_best"], color="0.3", ls=":", lw=1, label="data's best episode")
            ax.axhline(ceiling["d4rl_top"], color="0.6", ls=":", lw=1, label=f"data's best {TOP:.0%} (mean)")
        if missing:
            ax.text(0.02, 0.97, "not yet computed: " + ", ".join(missing), transform=ax.transAxes, va="top", fontsize=8)
        ax.set(title=f"{algo} on {short_id(dataset)}", xlabel="updates", ylabel=metric.replace("_", " "))
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8, loc="lower right")
    return axes


FOREST_METRICS = {"d4rl_last": "last evaluation (the papers')", "d4rl_tail": f"mean of the last {TAIL} evaluations"}


def differences(
    c: Campaign, recs: list[dict[str, Any]], metric: str = "d4rl_last", augmenters: tuple[str, ...] | None = None
) -> list[dict[str, Any]]:
    """Per (dataset, learner, augmenter other than none): the augmented arm minus the original data's, its 95% Welch
    interval (:func:`stitchkit.stats.difference_ci`), the seeds on each side and the paper's difference; ``diff`` is
    None where either arm has fewer than two seeds (not yet computed)."""
    sc, out = scores(recs, metric), []
    for d in c.grid.datasets:
        for algo in c.grid.algorithms:
            for a in (x for x in augmenters or c.grid.augmenters if x != "none"):
                x, y = sc.get((d, algo, a), []), sc.get((d, algo, "none"), [])
                diff, lo, hi = difference_ci(x, y) if len(x) > 1 and len(y) > 1 else (None, None, None)
                paper = paper_difference(c, d, (algo, a), (algo, "none"))
                out.append(
                    dict(
                        dataset=d, algorithm=algo, augmenter=a, diff=diff, lo=lo, hi=hi, n=(len(x), len(y)), paper=paper
                    )
                )
    return out


def plot_forest(
    c: Campaign,
    recs: list[dict[str, Any]],
    augmenters: tuple[str, ...] | None = None,
    metrics: tuple[str, ...] = ("d4rl_last", "d4rl_tail"),
    ax=None,
):
    """A forest plot: a row per (dataset, learner, augmenter), the augmented arm minus the original data's on the
    D4RL scale with its 95% interval (one marker per metric), the paper's difference as a red cross, zero as a line.

    Why a picture and not a table of "mean [CI] (n) / paper X": the question is whether the interval of the
    *difference* excludes zero and whether it holds the paper's difference, and both are read at a glance here. A
    row whose interval crosses the line cannot tell the augmenter from seed spread; a red cross outside the bar means
    the effect here differs from the paper's at this many seeds."""
    import matplotlib.pyplot as plt

    rows = differences(c, recs, metrics[0], augmenters)
    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 0.45 * len(rows) + 1.2))
    labels = [f"{short_id(r['dataset'])} {r['algorithm']}: {r['augmenter']} - none" for r in rows]
    ys = np.arange(len(rows))[::-1]
    for k, metric in enumerate(metrics):
        offset = (k - (len(metrics) - 1) / 2) * 0.22
        for y, r in zip(ys, differences(c, recs, metric, augmenters)):
            if r["diff"] is None:
                continue
            ax.errorbar(
                r["diff"], y + offset, xerr=[[r["diff"] - r["lo"]], [r["hi"] - r["diff"]]], fmt="o", ms=4,
                color=f"C{k}", capsize=2, label=FOREST_METRICS.get(metric, metric),
            )  # fmt: skip
    for y, r in zip(ys, rows):
        if r["paper"] is not None:
            ax.plot(r["paper"], y, "x", color="red", ms=7, mew=2, label="the paper's difference")
        if r["diff"] is None:
            ax.text(0.01, y, f"not yet computed (seeds {r['n'][0]} and {r['n'][1]})", va="center", fontsize=8,
                    transform=ax.get_yaxis_transform())  # fmt: skip
    ax.axvline(0, color="0.4", lw=1)
    ax.set_yticks(ys, labels, fontsize=8)
    ax.set_xlabel("augmented minus original, D4RL-normalised: 95% Welch interval")
    handles, names = ax.get_legend_handles_labels()
    keep = dict(zip(names, handles))  # one legend entry per kind
    ax.legend(keep.values(), keep.keys(), fontsize=8, loc="best")
    return ax
