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
ARMS = ("naive", "diffstitch", "astro", "naive-kept", "naive-blind")
ARM_OPTIONS: dict[str, dict[str, str]] = {  # arm -> its ``augment chain`` options
    "naive": {"joint": "naive"},
    "diffstitch": {"joint": "diffstitch"},
    "astro": {"joint": "astro"},
    "naive-kept": {"joint": "naive", "keep": "diffstitch"},  # DiffStitch's filter without its bridges
    "naive-blind": {"joint": "naive", "keep": "random"},  # a filter of the same size and hop counts, blind
}
AXES: dict[str, list[tuple[str, dict[str, Any], str]]] = {  # axis -> [(point, chain options, learner)]
    "gap": [(f"near {n:g}", {"near": n}, "gcbc") for n in (8.0, 6.0, 4.0, 2.5, 1.0)],  # the widest gaps first
    "walls": [(f"near 6, {w}", {"near": 6.0, "walls": w}, "gcbc") for w in ("clear", "cross")],
    "learners": [(f"gcivl, near {n:g}", {"near": n}, "gcivl") for n in (1.0, 6.0)],
    "joints": [
        (f"near 4, {a}-{b} fragments", {"near": 4.0, "hops_min": a, "hops_max": b}, "gcbc") for a, b in ((2, 3), (6, 8))
    ],
}


HOPPER = "stitchkit/hopper/medium-replay-v0"
LOCOMOTION_ARMS = ("naive", "diffstitch")  # the same pairs: glued, or DiffStitch's bridges
LOCOMOTION = [(f"hopper-mr, {algo}", algo) for algo in ("td3bc", "iql", "dt")]  # learners that read the joint


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
        full = {**options, **ARM_OPTIONS[arm]}
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


def measure_locomotion(point: str, arm: str, learner: str, seeds: int, profile: Profile) -> dict[str, Any]:
    """One row of the ``locomotion`` axis: ``learner`` on hopper medium-replay, alone (``original``) or with
    DiffStitch's stitched data, or with the very same pairs glued naively, at DiffStitch's ratio (4 : 1). TD3+BC and
    IQL bootstrap through every joint transition with its reward; Decision Transformer reads whole stitched
    trajectories (the paper's own example: DT 83.6 -> 96.1 on hopper-mr)."""
    from stitchkit import augment, stats
    from stitchkit.data import registry
    from stitchkit.train import run

    t0 = time.perf_counter()
    aug_id, summary = None, {}
    if arm != "original":
        ds_id = registry.augmented_id(HOPPER, "diffstitch")
        summary = augment.run("diffstitch", HOPPER, ds_id, profile, log=lambda *_: None)
        aug_id = ds_id
        if arm == "naive":
            aug_id = registry.augmented_id(HOPPER, "naive", "bm")
            augment.run("naive", HOPPER, aug_id, profile, log=lambda *_: None, pairs_from=ds_id)
    out = run(learner, HOPPER, seeds, profile, aug_id, ratio=4.0, progress=False)
    score = last_scores(out)
    mean, lo, hi = stats.bootstrap_ci(lambda s: float(stats.pooled(s).mean()), {"score": score}, seed=0)
    row = {"axis": "locomotion", "point": point, "arm": arm, "learner": learner, "options": None}
    row |= {"success": mean, "ci95": [lo, hi], "per_seed": score.tolist(), "control": None}
    if aug_id is not None:
        err = augment.oracle_errors("hopper", registry.load_episodes(aug_id, profile))
        row |= {"joints": summary.get("accepted"), "joint_oracle_error": float(np.median(err))}
    return row | {"seconds": round(time.perf_counter() - t0, 1)}


def run(
    profile: str | Profile = "lab",
    axes: list[str] | None = None,
    seeds: int = 5,
    gap_seeds: int = 10,
    path: Path | None = None,
    log: Callable[[str], None] = print,
    arms: list[str] | None = None,
) -> list[dict[str, Any]]:
    """Measure every missing row of ``axes`` (the gap axis with ``gap_seeds`` seeds; only ``arms`` if given),
    appending each to ``path`` as it finishes; returns all rows. A point whose chains nothing qualifies for is a row
    with its error. Processes may share ``path`` (one arm each, on separate cores): each append re-reads the file
    under a lock, so no process overwrites another's rows."""
    prof = get_profile(profile)
    path = path or rows_path(prof)
    rows = load_rows(prof, path)
    done = {(r["axis"], r["point"], r["arm"], r["learner"], len(r["per_seed"])) for r in rows}
    todo = []
    for axis in axes or [*AXES, "locomotion"]:
        if axis == "locomotion":
            todo += [
                (axis, point, arm, algo, None) for point, algo in LOCOMOTION for arm in ("original", *LOCOMOTION_ARMS)
            ]
            continue
        if axis not in AXES:
            raise ValueError(f"unknown axis {axis!r}; accepted: {', '.join([*AXES, 'locomotion'])}")
        learners = sorted({algo for _, _, algo in AXES[axis]})
        todo += [(axis, "original fragments", "original", algo, None) for algo in learners]
        todo += [(axis, point, arm, algo, options) for point, options, algo in AXES[axis] for arm in ARMS]
    for axis, point, arm, algo, options in todo:
        n = gap_seeds if axis == "gap" else seeds
        if (axis, point, arm, algo, n) in done or (arms and arm not in arms):
            continue
        try:
            if axis == "locomotion":
                r = measure_locomotion(point, arm, algo, n, prof)
            else:
                r = measure(axis, point, arm, algo, n, prof, options)
        except ValueError as err:  # e.g. no chain qualified: the row says so rather than stopping the search
            r = {"axis": axis, "point": point, "arm": arm, "learner": algo, "options": options}
            r |= {"error": str(err)[:300], "per_seed": [None] * n}
        rows = _append_row(prof, path, r)
        log(format_row(r))
    return rows


def _append_row(profile: Profile, path: Path, row: dict[str, Any]) -> list[dict[str, Any]]:
    """Add ``row`` to the rows file as it is now (another process may have added some since this one started)."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        rows = load_rows(profile, path) + [row]
        atomic_write_text(path, json.dumps(rows, indent=1) + "\n")
    return rows


def format_row(r: dict[str, Any]) -> str:
    head = f"{r['axis']:<11}{r['point']:<26}{r['learner']:<7}{r['arm']:<14}"
    if "error" in r:
        return head + f"  error: {r['error'][:80]}"
    text = head + f"{r['success']:6.1f} [{r['ci95'][0]:5.1f}, {r['ci95'][1]:5.1f}]"
    if r.get("control") is not None:
        text += f"  control {r['control']:5.1f}"
    if "joint_gap" in r:
        text += f"  gap {r['joint_gap']:4.1f}  wall {100 * r['joint_wall_share']:3.0f}%"
    if "joint_oracle_error" in r:
        text += f"  oracle {r['joint_oracle_error']:.3f}"
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
                f"**{verdict}** (naive joints: "
                + (f"{100 * naive['joint_wall_share']:.0f}% through a wall, " if "joint_wall_share" in naive else "")
                + f"oracle error {naive.get('joint_oracle_error', float('nan')):.2f} vs the bridges' "
                f"{b.get('joint_oracle_error', float('nan')):.2f})"
            )
    return out


def _at(rows: list[dict[str, Any]], axis: str, point: str, arm: str, learner: str = "gcbc") -> dict | None:
    for r in rows:
        if (r["axis"], r["point"], r["arm"], r["learner"]) == (axis, point, arm, learner) and "error" not in r:
            return r
    return None


def _score(r: dict[str, Any]) -> str:
    return f"{r['success']:.1f} [{r['ci95'][0]:.1f}, {r['ci95'][1]:.1f}]"


def _relation(a: dict[str, Any], b: dict[str, Any]) -> str:
    """How ``a`` stands to ``b``: the difference of the means, and whether the 95% intervals are apart (a 10-point
    lead whose intervals overlap is not called a tie, nor a win)."""
    gap = a["success"] - b["success"]
    if a["ci95"][0] > b["ci95"][1]:
        return f"{gap:+.1f}, above, intervals apart"
    if a["ci95"][1] < b["ci95"][0]:
        return f"{gap:+.1f}, below, intervals apart"
    return f"{gap:+.1f}, intervals overlap"


PARTS = ("gap", "walls", "filter", "astro", "gcivl", "locomotion")  # the findings :func:`explain` can state


def explain(rows: list[dict[str, Any]], parts: tuple[str, ...] = PARTS) -> list[str]:
    """Notebook 02's reading of the search, generated from the rows (a finding whose rows are missing is left
    out): what the gap and the walls cost naive joints, whether DiffStitch's win comes from its bridges or from
    the chains it keeps, and what ASTRO's reachability rule changed. ``parts``: which findings, in order."""
    out: dict[str, str] = {}
    gaps = sorted(
        (r["options"]["near"], r) for r in rows if (r["axis"], r["arm"]) == ("gap", "naive") and "error" not in r
    )
    if len(gaps) >= 2:
        (n0, a), (n1, b) = gaps[0], gaps[-1]
        line = (
            f"**The gap.** Naive chains fall from {_score(a)} at `near` {n0:g} to {_score(b)} at {n1:g}, as their "
            f"joints jump from {a['joint_gap']:.1f} to {b['joint_gap']:.1f} maze units and the share through a wall "
            f"rises from {100 * a['joint_wall_share']:.0f}% to {100 * b['joint_wall_share']:.0f}%."
        )
        ds = _at(rows, "gap", f"near {n1:g}", "diffstitch")
        if ds:
            line += f" DiffStitch's chains hold at {_score(ds)} there."
        out["gap"] = line
    clear, cross = _at(rows, "walls", "near 6, clear", "naive"), _at(rows, "walls", "near 6, cross", "naive")
    if clear and cross:
        out["walls"] = (
            f"**The walls.** At the same hand-over distance (`near` 6), naive joints that stay clear of walls teach "
            f"{_score(clear)}, joints that cross one {_score(cross)} (clear against crossing: "
            f"{_relation(clear, cross)}): a wall-crossing "
            "joint labels every goal behind the wall reachable from every state before it, in a few steps."
        )
        for side in ("clear", "cross"):
            arms = {a: _at(rows, "walls", f"near 6, {side}", a) for a in ARMS if a != "naive"}
            listed = ", ".join(f"{a} {_score(r)}" for a, r in arms.items() if r)
            if listed:
                out["walls"] += (
                    f" Joints {'clear of' if side == 'clear' else 'through'} walls, the other arms: {listed}."
                )
    split = []  # per gap point: bridged, the same chains glued, a blind subset, all naive chains
    for n1, r in gaps:
        ds, kept, blind = (_at(rows, "gap", f"near {n1:g}", a) for a in ("diffstitch", "naive-kept", "naive-blind"))
        if ds and kept and blind:
            split.append((n1, ds, kept, blind, r))
    if split:
        lines = [
            f"`near` {n:g}: DiffStitch keeps {100 * ds['joint_qualification_rate']:.0f}% of the chains; bridged they "
            f"teach {_score(ds)}, glued {_score(kept)} ({_relation(kept, ds)}); a blind subset {_score(blind)}, "
            f"all chains glued {_score(r)}"
            for n, ds, kept, blind, r in split
        ]
        filt = [
            n
            for n, ds, kept, blind, r in split
            if kept["ci95"][1] >= ds["ci95"][0] and kept["ci95"][0] > blind["ci95"][1]
        ]
        bridge = [n for n, ds, kept, _, _ in split if kept["ci95"][1] < ds["ci95"][0]]
        verdict = []
        if filt:
            verdict.append(
                f"at `near` {', '.join(f'{n:g}' for n in filt)} the chains DiffStitch keeps teach as much glued as "
                "bridged, and far more than a blind subset of the same size: there the model pays as a *judge* of "
                "which joints to trust, not through the states it generates"
            )
        if bridge:
            verdict.append(
                f"at `near` {', '.join(f'{n:g}' for n in bridge)} the bridges themselves add: the same chains glued "
                "teach less than bridged, with the intervals apart"
            )
        if not verdict:
            verdict.append("no point separates the filter from the bridges with the intervals apart")
        out["filter"] = (
            "**The filter or the bridge?** Per gap point (DiffStitch's chains, the same chains glued naively "
            "(`naive-kept`), a random subset of as many chains per joint count (`naive-blind`), all naive chains):\n\n"
            + "\n".join(f"- {line}" for line in lines)
            + "\n\nSo "
            + "; ".join(verdict)
            + "."
        )
    astro = []
    for n1, _ in gaps:
        now, before, ds = (_at(rows, "gap", f"near {n1:g}", a) for a in ("astro", "astro-clamped", "diffstitch"))
        if now and before and ds:
            astro.append((n1, now, before, ds))
    if astro:
        lines = [
            f"`near` {n:g}: before {_score(before)} keeping {100 * before['joint_qualification_rate']:.0f}% of the "
            f"chains; now {_score(now)} keeping {100 * now['joint_qualification_rate']:.0f}%; DiffStitch {_score(ds)} "
            f"keeping {100 * ds['joint_qualification_rate']:.0f}%"
            for n, now, before, ds in astro
        ]
        lifted = [n for n, now, before, _ in astro if now["ci95"][0] > before["ci95"][1]]
        out["astro"] = (
            "**ASTRO.** The kit's chains used to clamp a target beyond the planner's longest bridge to that length "
            "instead of dropping it, and the planner then 'reached' it through the learned model, so almost every "
            "chain was accepted. ASTRO's own rule - an unreachable target is no target - now applies:\n\n"
            + "\n".join(f"- {line}" for line in lines)
            + "\n\n"
            + (
                f"The fix lifted ASTRO at `near` {', '.join(f'{n:g}' for n in lifted)} (intervals apart): there the "
                "acceptance, not the planner, was what held it back."
                if lifted
                else "The fix did not lift ASTRO beyond the intervals at any point."
            )
        )
    orig = _at(rows, "learners", "original fragments", "original", "gcivl")
    ivl_lines = []
    for n in (1, 6):
        at = {a: _at(rows, "learners", f"gcivl, near {n:g}", a, "gcivl") for a in ARMS}
        if at["naive"]:
            line = f"- `near` {n:g}: " + ", ".join(f"{a} {_score(r)}" for a, r in at.items() if r)
            for a in ("diffstitch", "astro"):
                if at[a]:
                    line += f"; {a} against naive: {_relation(at[a], at['naive'])}"
            if at["diffstitch"] and at["naive-kept"]:
                line += f"; DiffStitch against its own chains glued: {_relation(at['diffstitch'], at['naive-kept'])}"
            ivl_lines.append(line)
    if orig and ivl_lines:
        out["gcivl"] = (
            "**A learner that reads the joint.** GCIVL's value bootstraps through each joint transition: a glued "
            "joint hands it the value of a state the action cannot reach. On the original fragments it scores "
            f"{_score(orig)}; on chains:\n\n" + "\n".join(ivl_lines)
        )
    loco = []
    for point, algo in LOCOMOTION:
        at = {a: _at(rows, "locomotion", point, a, algo) for a in ("original", *LOCOMOTION_ARMS)}
        if all(at.values()):
            loco.append(
                f"- {algo}: original {_score(at['original'])}, DiffStitch {_score(at['diffstitch'])}, the same pairs "
                f"glued {_score(at['naive'])} (DiffStitch against glued: {_relation(at['diffstitch'], at['naive'])})"
            )
    if loco:
        out["locomotion"] = (
            "**Learners that read the joint, on hopper.** TD3+BC and IQL bootstrap through every joint transition "
            "and its reward; Decision Transformer reads the whole stitched trajectory. DiffStitch's stitched data "
            "against the very same pairs glued by one transition (kit score, `lab` budget):\n\n" + "\n".join(loco)
        )
    return [out[p] for p in parts if p in out]


def last_scores(result: dict[str, Any]) -> np.ndarray:
    """A :func:`stitchkit.train.run` result's score at its last evaluation, one per seed."""
    last = max(r["step"] for r in result["curves"])
    return np.array([r["score"] for r in result["curves"] if r["step"] == last], float)


def model_needed(method: str, bridged: dict[str, Any], glued: dict[str, Any], margin: float = 10.0) -> str:
    """Notebooks 05 and 06's "is the model needed?" reading, generated from two runs of one learner: the method's
    stitched data against the same pairs glued naively (``augment naive --option pairs_from=...``), same data, same
    ratio. The bridges pay when the method leads by at least ``margin`` points and the 95% bootstrap interval of the
    difference (seeds resampled) excludes 0."""
    from stitchkit import stats

    a, b = last_scores(bridged), last_scores(glued)
    diff, lo, hi = stats.bootstrap_ci(
        lambda x, y: float(stats.pooled(x).mean() - stats.pooled(y).mean()), {"a": a}, {"b": b}, seed=0
    )
    if diff >= margin and lo > 0:
        verdict = "the generated bridges pay"
    elif diff <= -margin and hi < 0:
        verdict = "the naive joints do better"
    elif lo > 0 or hi < 0:
        verdict = f"apart, but under the {margin:g}-point bar"
    else:
        verdict = f"not told apart (the bar: {margin:g} points, interval clear of 0)"
    return (
        f"{bridged['algo']}: {method} {a.mean():.1f} ± {a.std():.1f} vs the same pairs glued naively "
        f"{b.mean():.1f} ± {b.std():.1f} ({len(a)} seeds): {diff:+.1f} points, 95% interval [{lo:+.1f}, {hi:+.1f}]: "
        f"**{verdict}**"
    )


ARM_LABELS = {
    "original": "original fragments",
    "naive": "naive joints",
    "diffstitch": "DiffStitch bridges",
    "astro": "ASTRO bridges",
    "naive-kept": "naive joints, chains DiffStitch keeps",
    "naive-blind": "naive joints, a blind subset of that size",
    "astro-clamped": "ASTRO before the reachability fix",
}


def table(rows: list[dict[str, Any]]) -> str:
    """Every row as one markdown table: success with its interval and seeds, the chains kept of those planned,
    and what the joints are."""
    out = [
        "| axis | point | learner | arm | success [95% CI] (n) | chains kept | gap | through a wall | oracle error |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        score = (
            f"error: {r['error'][:60]}"
            if "error" in r
            else f"{r['success']:.1f} [{r['ci95'][0]:.1f}, {r['ci95'][1]:.1f}] ({len(r['per_seed'])})"
        )
        kept = "-"
        if r.get("chains") is not None:
            rate = r.get("joint_qualification_rate")
            kept = f"{r['chains']}" + (f" ({100 * rate:.0f}%)" if rate is not None else "")
        joints = (
            f"{r['joint_gap']:.1f} | {100 * r['joint_wall_share']:.0f}% | {r['joint_oracle_error']:.2f}"
            if "joint_gap" in r
            else f"- | - | {r['joint_oracle_error']:.2f}"
            if "joint_oracle_error" in r
            else "- | - | -"
        )
        out.append(f"| {r['axis']} | {r['point']} | {r['learner']} | {r['arm']} | {score} | {kept} | {joints} |")
    return "\n".join(out)


def plot_gap(rows: list[dict[str, Any]], ax=None, arms: tuple[str, ...] = (*ARMS, "astro-clamped")):
    """The gap axis: success against ``near``, a line per joint type with its 95% interval, the original
    fragments as a band, and the joints' median oracle error on a second axis (dashed)."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4))
    gap = [r for r in rows if r["axis"] == "gap" and "error" not in r]
    err_ax = ax.twinx()
    for i, arm in enumerate(arms):
        pts = sorted((r["options"]["near"], r) for r in gap if r["arm"] == arm)
        if not pts:
            continue
        x = [n + 0.06 * (i - 2) for n, _ in pts]  # a small offset per arm keeps the intervals readable
        y = [r["success"] for _, r in pts]
        lo = [r["success"] - r["ci95"][0] for _, r in pts]
        hi = [r["ci95"][1] - r["success"] for _, r in pts]
        style = dict(ls=":", alpha=0.5) if arm == "astro-clamped" else {}
        ax.errorbar(x, y, yerr=[lo, hi], marker="o", capsize=3, color=f"C{i}", label=ARM_LABELS[arm], **style)
        if arm in ("naive", "diffstitch", "astro"):
            err_ax.plot(x, [r.get("joint_oracle_error", np.nan) for _, r in pts], ls="--", color=f"C{i}", alpha=0.5)
    orig = [r for r in gap if r["arm"] == "original"]
    if orig:
        ax.axhspan(*orig[0]["ci95"], color="grey", alpha=0.2, label="original fragments (95% CI)")
    ax.set(xlabel="hand-over distance `near` (maze units; a cell is 4)", ylabel="long-task success (%)")
    err_ax.set_ylabel("joint oracle error (dashed)")
    err_ax.set_yscale("log")
    ax.legend(fontsize=7, loc="lower left")
    return ax


def plot_axes(rows: list[dict[str, Any]], axes_names: tuple[str, ...] = ("walls", "learners", "joints", "locomotion")):
    """The other axes of the search, one panel each: per point, a bar per arm with its 95% interval (the original
    data as a grey band where the axis has one)."""
    import matplotlib.pyplot as plt

    present = [a for a in axes_names if any(r["axis"] == a and "error" not in r for r in rows)]
    if not present:
        return None
    fig, panels = plt.subplots(1, len(present), figsize=(4.6 * len(present), 3.6), squeeze=False)
    arms = ("original", *ARMS)
    for ax, axis in zip(panels[0], present):
        here = [r for r in rows if r["axis"] == axis and "error" not in r]
        points = list(dict.fromkeys((r["point"], r["learner"]) for r in here if r["arm"] != "original"))
        width = 0.8 / len(arms)
        for j, arm in enumerate(arms):
            xs, ys, errs = [], [], []
            for i, (point, learner) in enumerate(points):
                match = [r for r in here if (r["arm"], r["learner"]) == (arm, learner)]
                match = [r for r in match if arm == "original" or r["point"] == point]
                if match:
                    r = match[0]
                    xs.append(i + (j - len(arms) / 2 + 0.5) * width)
                    ys.append(r["success"])
                    errs.append([r["success"] - r["ci95"][0], r["ci95"][1] - r["success"]])
            if xs:
                color = "0.6" if arm == "original" else f"C{ARMS.index(arm)}"
                ax.bar(xs, ys, width, yerr=np.array(errs).T, capsize=2, color=color, label=ARM_LABELS[arm])
        ax.set_xticks(range(len(points)), [p.replace(", ", "\n") for p, _ in points], fontsize=7)
        ax.set_title(axis, fontsize=9)
        ax.set_ylabel("kit score" if axis == "locomotion" else "long-task success (%)", fontsize=8)
    panels[0][0].legend(fontsize=6, loc="upper right")
    fig.tight_layout()
    return fig


def plot_joints(ax, env: str, episodes, title: str = "") -> dict[str, int]:
    """The joints of chained episodes on the maze map: each joint (a glued transition, or a bridge's path) in red
    where it passes through a wall, grey where it stays clear, with a dot where it leaves. A red joint is what a
    naive chain teaches wrongly: hindsight relabelling makes every state after it a goal that every state before
    it reaches in a few steps, through the wall. Returns the counts drawn."""
    from stitchkit.augment.chains import joint_spans
    from stitchkit.data.maze import wall_map
    from stitchkit.render import draw_maze

    walls = wall_map(env.split("-", 1)[1])  # read once, not per joint
    draw_maze(ax, env)
    counts = {"joints": 0, "through a wall": 0}
    for ep in episodes:
        for a, b in joint_spans(ep):
            xy = ep.observations[a : b + 1, :2]
            bad = bool(walls.crosses(xy[:-1], xy[1:]).any())
            counts["joints"] += 1
            counts["through a wall"] += bad
            color, lw, z = ("tab:red", 1.2, 3) if bad else ("0.55", 0.6, 2)
            ax.plot(xy[:, 0], xy[:, 1], "-", color=color, lw=lw, alpha=0.8, zorder=z)
            ax.plot(*xy[0], ".", color=color, ms=3, zorder=z)
    ax.set_title(title or f"{counts['through a wall']} of {counts['joints']} joints through a wall", fontsize=9)
    return counts


__all__ = [
    "ARMS",
    "ARM_LABELS",
    "ARM_OPTIONS",
    "AXES",
    "chain_id",
    "explain",
    "format_row",
    "last_scores",
    "load_rows",
    "measure",
    "model_needed",
    "plot_axes",
    "plot_gap",
    "plot_joints",
    "run",
    "table",
    "verdicts",
]
