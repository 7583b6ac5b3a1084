"""The goal-conditioned stitching lesson (notebook 02), measured: GCBC on the maze's original fragments vs the same
fragments chained (naive joints, DiffStitch bridges, ASTRO bridges) vs goal swapping, same steps and network for
every arm, N seeds; chains mixed 1 original : 4 chained (``ChainConfig.ratio``).

    .venv/bin/python benchmarks/goal_lesson.py --profile lab --seeds 5 [--algo gcbc] [--json]
    .venv/bin/python benchmarks/goal_lesson.py --profile lab --beyond   # budgets past notebook 02's sweep
    .venv/bin/python benchmarks/goal_lesson.py --profile lab --sweep    # notebook 02's sweep: its committed record

Prints each arm's mean success on OGBench's five long tasks with a 95% bootstrap interval over seeds, and the
control tasks' mean. Trained runs and built datasets are cached in data/: a rerun only prints.
"""

from __future__ import annotations

import argparse
import json
import os

import numpy as np

MAZE = "stitchkit/pointmaze-medium/stitch-v0"
RATIO = 0.25  # original : chained, ChainConfig's suggested ratio
ARMS = {  # name: (augmented dataset and the `augment chain` options that build it, learner options)
    "original": (None, {}, {}),
    "chain (naive joints)": ("stitchkit/pointmaze-medium/stitch-chain-naive-v0", {"joint": "naive"}, {}),
    "chain (DiffStitch bridges)": ("stitchkit/pointmaze-medium/stitch-chain-ds-v0", {"joint": "diffstitch"}, {}),
    "chain (ASTRO bridges)": ("stitchkit/pointmaze-medium/stitch-chain-astro-v0", {"joint": "astro"}, {}),
    "goal swapping": (None, {}, {"actor_p_swap": 0.5, "swap_size": 2.0}),
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--profile", default="lab")
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--algo", default="gcbc")
    p.add_argument("--processes", type=int, default=2, help="arms trained side by side")
    p.add_argument("--json", action="store_true")
    p.add_argument("--beyond", action="store_true", help="where the original arm catches up: bigger budgets, 3 seeds")
    p.add_argument(
        "--sweep",
        action="store_true",
        help="notebook 02's capacity sweep, 3 seeds: writes results/goal_sweep/<profile>.json",
    )
    args = p.parse_args()
    if args.sweep:
        return sweep(args.profile, args.processes)
    if args.beyond:
        return beyond(args.profile, args.processes)

    from stitchkit import augment, stats
    from stitchkit.profiles import get_profile
    from stitchkit.train import run_many

    prof = get_profile(args.profile)
    for aug_id, build, _ in ARMS.values():  # the stitched datasets first (cached once built)
        if aug_id:
            augment.run("chain", MAZE, aug_id, prof, log=lambda *_: None, **build)
    jobs = [
        dict(algo_name=args.algo, dataset_id=MAZE, seeds=args.seeds, profile=prof, augmented_id=aug_id, **options)
        | ({"ratio": RATIO} if aug_id else {})
        for aug_id, _, options in ARMS.values()
    ]
    rows = {}
    for name, out in zip(ARMS, run_many(jobs, processes=args.processes)):  # two arms at a time on two cores
        last = max(r["step"] for r in out["curves"])
        final = [r for r in out["curves"] if r["step"] == last]
        score = np.array([r["score"] for r in final])
        control = np.array([r["control"] for r in final])
        mean, lo, hi = stats.bootstrap_ci(lambda s: float(stats.pooled(s).mean()), {"long": score}, seed=0)
        rows[name] = {
            "success": mean,
            "ci95": [lo, hi],
            "per_seed": score.tolist(),
            "control": float(control.mean()),
            "tasks": {f"task{t}": float(np.mean([r[f"task{t}"] for r in final])) for t in range(1, 6)},
        }
    print(f"{args.algo}, profile {prof.name}, {args.seeds} seeds: success on the five long tasks (95% bootstrap CI)")
    for name, r in rows.items():
        print(
            f"  {name:<28} {r['success']:5.1f} [{r['ci95'][0]:5.1f}, {r['ci95'][1]:5.1f}]   control {r['control']:5.1f}"
        )
    if args.json:
        print(json.dumps({"algo": args.algo, "profile": prof.name, "seeds": args.seeds, "arms": rows}))


BEYOND = {  # past notebook 02's sweep (2x128 and 2x256 up to 20k): longer, and deeper
    "original, 2x128, 60k steps": dict(hidden=(128, 128), steps=60_000),
    "original, 3x256, 40k steps": dict(hidden=(256, 256, 256), steps=40_000),
    "DiffStitch chains, 3x256, 20k steps": dict(
        hidden=(256, 256, 256), steps=20_000, augmented_id="stitchkit/pointmaze-medium/stitch-chain-ds-v0", ratio=RATIO
    ),
}


def beyond(profile: str, processes: int) -> None:
    """GCBC's mean success on the long tasks along each run's evaluations (3 seeds)."""
    from stitchkit import augment
    from stitchkit.train import run_many

    aug_id, build, _ = ARMS["chain (DiffStitch bridges)"]
    augment.run("chain", MAZE, aug_id, profile, log=lambda *_: None, **build)
    jobs = [dict(algo_name="gcbc", dataset_id=MAZE, seeds=3, profile=profile, **kw) for kw in BEYOND.values()]
    for name, out in zip(BEYOND, run_many(jobs, processes=processes)):
        steps = sorted({r["step"] for r in out["curves"]})
        curve = {s: round(float(np.mean([r["score"] for r in out["curves"] if r["step"] == s]))) for s in steps}
        print(f"{name}: " + ", ".join(f"{s // 1000}k {v}%" for s, v in curve.items()))


def sweep(profile: str, processes: int, seeds: int = 3) -> None:
    """Run notebook 02's capacity sweep and write its record (cached runs are reused)."""
    import platform
    import subprocess
    import time

    from stitchkit import capacity_sweep

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    source = (
        f"benchmarks/goal_lesson.py --profile {profile} --sweep at {commit}, {time.strftime('%Y-%m-%d', time.gmtime())}"
        f", {platform.machine()} with {os.cpu_count()} cores, {processes} runs at a time"
    )
    rec = capacity_sweep.run(profile, seeds=seeds, processes=processes, source=source)
    print(capacity_sweep.table(rec))
    print("\n".join(capacity_sweep.verdicts(rec)))
    print(f"written {capacity_sweep.record_path(profile)} ({rec['seconds']} s)")


if __name__ == "__main__":
    main()
