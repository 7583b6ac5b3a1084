"""Where do generated bridges beat naive joints? (issue 28) A measured search on the maze, GCBC by default.

Each point of an axis builds chains of the maze's fragments (``stitchkit augment chain``) whose joints are glued
naively or bridged by DiffStitch's or ASTRO's models, trains the learner on original + chains (1 : 4) and on the
original fragments alone, N seeds, and prints the mean success on OGBench's five long tasks with a 95% bootstrap
interval over seeds, beside what the joints are: how far they jump (``gap``), the share that cross a wall, and the
physics oracle's median error on them (``stitchkit.augment.chains.joint_report``). Axes:

* ``gap``: the hand-over distance ``near`` (maze units; a cell is 4) from 1 to 8, with ``--gap-seeds`` (10) seeds;
* ``walls``: at ``near`` 6, joints whose straight segment crosses a wall against joints that stay clear;
* ``learners``: GCIVL, whose value bootstraps through the joint transition, at ``near`` 1 and 6;
* ``joints``: how many joints a chain holds (2-3 fragments against 6-8), at ``near`` 4.

Rows are appended to ``results/bridge_matters/<profile>.json`` as they finish (committed, read by notebook 02), and a
rerun skips the rows already there, so the search continues across sessions.

    .venv/bin/python benchmarks/bridge_matters.py --profile lab --seeds 5 [--axes gap walls] [--json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path

import numpy as np

MAZE = "stitchkit/pointmaze-medium/stitch-v0"
RATIO = 0.25  # original : chained (ChainConfig's)
ARMS = ("naive", "diffstitch", "astro")
AXES = {  # axis -> [(point label, chain options, learner)]
    "gap": [(f"near {n}", {"near": n}, "gcbc") for n in (1.0, 6.0, 4.0, 8.0, 2.5)],  # the pilot's two ends first
    "walls": [(f"near 6, {w}", {"near": 6.0, "walls": w}, "gcbc") for w in ("clear", "cross")],
    "learners": [(f"gcivl, near {n}", {"near": n}, "gcivl") for n in (1.0, 6.0)],
    "joints": [
        (f"near 4, {a}-{b} fragments", {"near": 4.0, "hops_min": a, "hops_max": b}, "gcbc") for a, b in ((2, 3), (6, 8))
    ],
}


def chain_id(options: dict) -> str:
    tag = "bm" + hashlib.sha1(json.dumps(options, sort_keys=True).encode()).hexdigest()[:8]
    return MAZE.replace("-v0", f"-chain-{tag}-v0")


def success(out: dict) -> tuple[np.ndarray, float]:
    last = max(r["step"] for r in out["curves"])
    final = [r for r in out["curves"] if r["step"] == last]
    return np.array([r["score"] for r in final]), float(np.mean([r["control"] for r in final]))


def row(axis: str, point: str, arm: str, algo: str, seeds: int, profile, options: dict | None) -> dict:
    """One (axis, point, arm): build the chains (cached), train, measure."""
    from stitchkit import augment, stats
    from stitchkit.train import run

    t0 = time.perf_counter()
    aug_id, summary = None, {}
    if options is not None:
        full = {**options, "joint": arm}
        aug_id = chain_id(full)
        summary = augment.run("chain", MAZE, aug_id, profile, log=lambda *_: None, **full)
    out = run(algo, MAZE, seeds, profile, aug_id, ratio=RATIO, progress=False)
    score, control = success(out)
    mean, lo, hi = stats.bootstrap_ci(lambda s: float(stats.pooled(s).mean()), {"long": score}, seed=0)
    keys = ("joints", "joint_gap", "joint_wall_share", "joint_oracle_error", "chains", "joint_qualification_rate")
    return {
        "axis": axis,
        "point": point,
        "arm": arm,
        "learner": algo,
        "options": options,
        "success": mean,
        "ci95": [lo, hi],
        "per_seed": score.tolist(),
        "control": control,
        **{k: summary[k] for k in keys if k in summary},
        "seconds": round(time.perf_counter() - t0, 1),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--profile", default="lab")
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--gap-seeds", type=int, default=10, help="seeds of the gap axis (the pilot's confirmation)")
    p.add_argument("--axes", nargs="+", default=list(AXES), choices=list(AXES))
    p.add_argument("--out", type=Path, help="results file (default: results/bridge_matters/<profile>.json)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()

    import torch

    from stitchkit.paths import project_root
    from stitchkit.profiles import get_profile

    torch.set_num_threads(1)
    prof = get_profile(args.profile)
    path = args.out or project_root() / "results" / "bridge_matters" / f"{prof.name}.json"
    rows = json.loads(path.read_text()) if path.exists() else []
    done = {(r["axis"], r["point"], r["arm"], r["learner"], len(r["per_seed"])) for r in rows}
    todo = []
    for axis in args.axes:
        learners = sorted({algo for _, _, algo in AXES[axis]})
        todo += [(axis, "original fragments", "original", algo, None) for algo in learners]
        todo += [(axis, point, arm, algo, options) for point, options, algo in AXES[axis] for arm in ARMS]
    for axis, point, arm, algo, options in todo:
        seeds = args.gap_seeds if axis == "gap" else args.seeds
        if (axis, point, arm, algo, seeds) in done:
            continue
        try:
            r = row(axis, point, arm, algo, seeds, prof, options)
        except ValueError as err:  # e.g. no chain qualified: the row says so rather than stopping the search
            r = {
                "axis": axis,
                "point": point,
                "arm": arm,
                "learner": algo,
                "options": options,
                "error": str(err)[:300],
                "per_seed": [None] * seeds,
            }
        rows.append(r)
        path.parent.mkdir(parents=True, exist_ok=True)
        from stitchkit.files import atomic_write_text

        atomic_write_text(path, json.dumps(rows, indent=1) + "\n")
        print(format_row(r), flush=True)
    print(
        f"\n{prof.name}, {args.gap_seeds} seeds on the gap axis, {args.seeds} on the others; success on the five "
        "long tasks, mean [95% bootstrap CI]; joints: gap, "
        "share through a wall, median oracle error"
    )
    for r in rows:
        print(format_row(r))
    if args.json:
        print(json.dumps({"profile": prof.name, "seeds": args.seeds, "rows": rows}))


def format_row(r: dict) -> str:
    head = f"{r['axis']:<9}{r['point']:<26}{r['learner']:<7}{r['arm']:<11}"
    if "error" in r:
        return head + f"  error: {r['error'][:80]}"
    text = head + f"{r['success']:6.1f} [{r['ci95'][0]:5.1f}, {r['ci95'][1]:5.1f}]  control {r['control']:5.1f}"
    if "joint_gap" in r:
        text += (
            f"  gap {r['joint_gap']:4.1f}  wall {100 * r['joint_wall_share']:3.0f}%  "
            f"oracle {r['joint_oracle_error']:.3f}"
        )
    return text + f"  ({r['seconds']:.0f} s)"


if __name__ == "__main__":
    main()
