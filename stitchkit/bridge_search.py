"""Where do generated bridges beat naive joints? A measured search on the maze (issue 28).

Why: on notebook 02's chains, joints glued with one physically impossible transition teach GCBC as much as joints
bridged by DiffStitch's or ASTRO's models, so a student could conclude that the generative model is unnecessary.
The papers' argument is that stitched data must be dynamics-consistent to help. This module searches for where
that argument bites, along axes that change what the joints are or who reads them:

* ``gap``: the hand-over distance ``near`` (maze units; a cell is 4) from 1 to 8 - a naive joint jumps farther;
* ``walls``: at ``near`` 6, joints whose straight segment crosses a wall against joints that stay clear - a naive
  joint through a wall labels goals behind it reachable;
* ``learners``: GCIVL, whose value bootstraps through the joint transition itself (GCBC only imitates the real
  actions around it), at ``near`` 1 and 6;
* ``joints``: how many joints a chain holds (2-3 fragments against 6-8), at ``near`` 4.

Each point builds chains with each joint type (``stitchkit augment chain --option joint=naive|diffstitch|astro``),
trains the learner on original + chains (1 : 4) with N seeds, and records the long tasks' success with a 95%
bootstrap interval, beside what the joints are (:func:`stitchkit.augment.chains.joint_report`: gap, share through a
wall, the physics oracle's median error). Rows are appended to ``results/bridge_matters/<profile>.json`` in the
checkout (committed) as they finish; a rerun skips the rows already there. ``benchmarks/bridge_matters.py`` runs it;
notebook 02 reads the rows.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from stitchkit.files import atomic_write_text
from stitchkit.paths import project_root
from stitchkit.profiles import Profile, get_profile

MAZE = "stitchkit/pointmaze-medium/stitch-v0"
RATIO = 0.25  # original : chained (ChainConfig's)
ARMS = ("naive", "diffstitch", "astro")
AXES: dict[str, list[tuple[str, dict[str, Any], str]]] = {  # axis -> [(point, chain options, learner)]
    "gap": [(f"near {n:g}", {"near": n}, "gcbc") for n in (1.0, 6.0, 4.0, 8.0, 2.5)],  # the pilot's two ends first
    "walls": [(f"near 6, {w}", {"near": 6.0, "walls": w}, "gcbc") for w in ("clear", "cross")],
    "learners": [(f"gcivl, near {n:g}", {"near": n}, "gcivl") for n in (1.0, 6.0)],
    "joints": [
        (f"near 4, {a}-{b} fragments", {"near": 4.0, "hops_min": a, "hops_max": b}, "gcbc") for a, b in ((2, 3), (6, 8))
    ],
}


def rows_path(profile: str | Profile) -> Path:
    return project_root() / "results" / "bridge_matters" / f"{get_profile(profile).name}.json"


def load_rows(profile: str | Profile = "lab", path: Path | None = None) -> list[dict[str, Any]]:
    """The rows measured so far (an empty list when none: read-only, never an error)."""
    path = path or rows_path(profile)
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return []


def chain_id(options: dict[str, Any]) -> str:
    """The chained dataset's id for these ``augment chain`` options (a tag from their hash)."""
    tag = "bm" + hashlib.sha1(json.dumps(options, sort_keys=True).encode()).hexdigest()[:8]
    return MAZE.replace("-v0", f"-chain-{tag}-v0")


def measure(
    axis: str, point: str, arm: str, learner: str, seeds: int, profile: Profile, options: dict | None
) -> dict[str, Any]:
    """One row: build the chains (cached), train ``learner`` with ``seeds`` seeds, measure the joints and the
    long tasks' success."""
    from stitchkit import augment, stats
    from stitchkit.train import run

    t0 = time.perf_counter()
    aug_id, summary = None, {}
    if options is not None:
        full = {**options, "joint": arm}
        aug_id = chain_id(full)
        summary = augment.run("chain", MAZE, aug_id, profile, log=lambda *_: None, **full)
    out = run(learner, MAZE, seeds, profile, aug_id, ratio=RATIO, progress=False)
    last = max(r["step"] for r in out["curves"])
    final = [r for r in out["curves"] if r["step"] == last]
    score = np.array([r["score"] for r in final])
    mean, lo, hi = stats.bootstrap_ci(lambda s: float(stats.pooled(s).mean()), {"long": score}, seed=0)
    keys = ("joints", "joint_gap", "joint_wall_share", "joint_oracle_error", "chains", "joint_qualification_rate")
    return {
        "axis": axis,
        "point": point,
        "arm": arm,
        "learner": learner,
        "options": options,
        "success": mean,
        "ci95": [lo, hi],
        "per_seed": score.tolist(),
        "control": float(np.mean([r["control"] for r in final])),
        **{k: summary[k] for k in keys if k in summary},
        "seconds": round(time.perf_counter() - t0, 1),
    }


def run(
    profile: str | Profile = "lab",
    axes: list[str] | None = None,
    seeds: int = 5,
    gap_seeds: int = 10,
    path: Path | None = None,
    log: Callable[[str], None] = print,
) -> list[dict[str, Any]]:
    """Measure every missing row of ``axes`` (the gap axis with ``gap_seeds`` seeds), appending each to ``path``
    as it finishes; returns all rows. A point whose chains nothing qualifies for is a row with its error."""
    prof = get_profile(profile)
    path = path or rows_path(prof)
    rows = load_rows(prof, path)
    done = {(r["axis"], r["point"], r["arm"], r["learner"], len(r["per_seed"])) for r in rows}
    todo = []
    for axis in axes or list(AXES):
        if axis not in AXES:
            raise ValueError(f"unknown axis {axis!r}; accepted: {', '.join(AXES)}")
        learners = sorted({algo for _, _, algo in AXES[axis]})
        todo += [(axis, "original fragments", "original", algo, None) for algo in learners]
        todo += [(axis, point, arm, algo, options) for point, options, algo in AXES[axis] for arm in ARMS]
    for axis, point, arm, algo, options in todo:
        n = gap_seeds if axis == "gap" else seeds
        if (axis, point, arm, algo, n) in done:
            continue
        try:
            r = measure(axis, point, arm, algo, n, prof, options)
        except ValueError as err:  # e.g. no chain qualified: the row says so rather than stopping the search
            r = {"axis": axis, "point": point, "arm": arm, "learner": algo, "options": options}
            r |= {"error": str(err)[:300], "per_seed": [None] * n}
        rows.append(r)
        atomic_write_text(path, json.dumps(rows, indent=1) + "\n")
        log(format_row(r))
    return rows


def format_row(r: dict[str, Any]) -> str:
    head = f"{r['axis']:<9}{r['point']:<26}{r['learner']:<7}{r['arm']:<11}"
    if "error" in r:
        return head + f"  error: {r['error'][:80]}"
    text = head + f"{r['success']:6.1f} [{r['ci95'][0]:5.1f}, {r['ci95'][1]:5.1f}]  control {r['control']:5.1f}"
    if "joint_gap" in r:
        text += (
            f"  gap {r['joint_gap']:4.1f}  wall {100 * r['joint_wall_share']:3.0f}%  "
            f"oracle {r['joint_oracle_error']:.3f}"
        )
    return text + f"  ({r['seconds']:.0f} s, n={len(r['per_seed'])})"


def verdicts(rows: list[dict[str, Any]], margin: float = 10.0) -> list[str]:
    """Per point, generated from the rows: does a generated bridge beat the naive joint by at least ``margin``
    points with the 95% intervals apart (the issue's bar for teaching it)?"""
    out = []
    points = list(dict.fromkeys((r["axis"], r["point"], r["learner"]) for r in rows if r["arm"] == "naive"))
    for axis, point, learner in points:
        at = {r["arm"]: r for r in rows if (r["axis"], r["point"], r["learner"]) == (axis, point, learner)}
        naive = at.get("naive")
        if naive is None or "error" in naive:
            continue
        for arm in ("diffstitch", "astro"):
            b = at.get(arm)
            if b is None or "error" in b:
                continue
            diff, apart = b["success"] - naive["success"], b["ci95"][0] > naive["ci95"][1]
            verdict = "bridges pay" if diff >= margin and apart else "not shown"
            out.append(
                f"- {axis}, {point} ({learner}): {arm} {b['success']:.1f} [{b['ci95'][0]:.1f}, {b['ci95'][1]:.1f}] vs "
                f"naive {naive['success']:.1f} [{naive['ci95'][0]:.1f}, {naive['ci95'][1]:.1f}], {diff:+.1f}: "
                f"**{verdict}** (naive joints: {100 * naive.get('joint_wall_share', 0):.0f}% through a wall, "
                f"oracle error {naive.get('joint_oracle_error', float('nan')):.2f} vs the bridges' "
                f"{b.get('joint_oracle_error', float('nan')):.2f})"
            )
    return out


def plot_gap(rows: list[dict[str, Any]], ax=None):
    """The gap axis: success against ``near``, a line per joint type with its 95% interval, the original
    fragments as a band, and the joints' median oracle error on a second axis (dashed)."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.6))
    gap = [r for r in rows if r["axis"] == "gap" and "error" not in r]
    err_ax = ax.twinx()
    for i, arm in enumerate(ARMS):
        pts = sorted((r["options"]["near"], r) for r in gap if r["arm"] == arm)
        if not pts:
            continue
        x = [n for n, _ in pts]
        y = [r["success"] for _, r in pts]
        lo = [r["success"] - r["ci95"][0] for _, r in pts]
        hi = [r["ci95"][1] - r["success"] for _, r in pts]
        ax.errorbar(x, y, yerr=[lo, hi], marker="o", capsize=3, color=f"C{i}", label=f"{arm} joints")
        err_ax.plot(x, [r.get("joint_oracle_error", np.nan) for _, r in pts], ls="--", color=f"C{i}", alpha=0.6)
    orig = [r for r in gap if r["arm"] == "original"]
    if orig:
        ax.axhspan(*orig[0]["ci95"], color="grey", alpha=0.2, label="original fragments (95% CI)")
    ax.set(xlabel="hand-over distance `near` (maze units; a cell is 4)", ylabel="long-task success (%)")
    err_ax.set_ylabel("joint oracle error (dashed)")
    err_ax.set_yscale("log")
    ax.legend(fontsize=8, loc="lower left")
    return ax


__all__ = ["ARMS", "AXES", "chain_id", "format_row", "load_rows", "measure", "plot_gap", "run", "verdicts"]
