"""Physics-oracle error on original transitions of each built locomotion dataset, and on naive stitches.

Prints, per dataset: transitions checked, how many touch the velocity clip, the median / 90th-percentile /
max error of the unclipped ones, and the median error of the glued transition of naive stitches between
random episode pairs. Build the datasets first (`stitchkit data build ...`).
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from stitchkit.augment.naive import naive_stitch
from stitchkit.data import registry
from stitchkit.data.locomotion import NAMES
from stitchkit.oracle import PhysicsOracle


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--profile", default=None)
    parser.add_argument("--n", type=int, default=10_000, help="transitions checked per dataset")
    parser.add_argument("--stitches", type=int, default=200)
    parser.add_argument("--envs", nargs="+", default=["hopper", "halfcheetah", "walker2d"])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    rows = []
    for env in args.envs:
        oracle = PhysicsOracle(env)
        for name in NAMES:
            ds = f"stitchkit/{env}/{name}-v0"
            eps = registry.load_episodes(ds, args.profile)
            # the stored float64 states (transitions() casts to float32 for training, which adds ~1e-7 of rounding)
            obs = np.concatenate([e.observations[:-1] for e in eps])
            nxt = np.concatenate([e.observations[1:] for e in eps])
            act = np.concatenate([e.actions for e in eps])
            idx = rng.choice(len(act), size=min(args.n, len(act)), replace=False)
            res = oracle.check(obs[idx], act[idx], nxt[idx])
            glue = []
            for _ in range(args.stitches):
                i, j = rng.choice(len(eps), 2, replace=len(eps) < 2)
                a, b = eps[i], eps[j]
                ta, tb = rng.integers(len(a)), rng.integers(len(b))
                g = naive_stitch(a, ta, b, tb)
                glue.append(
                    oracle.check(
                        g.observations[ta : ta + 1], g.actions[ta : ta + 1], g.observations[ta + 1 : ta + 2]
                    ).norm[0]
                )
            rows.append({"dataset": ds, **res.summary(), "naive_median": float(np.median(glue))})
        oracle.close()
    print(f"{'dataset':<34}{'n':>7}{'clipped':>8}{'median':>10}{'p90':>10}{'max':>10}{'naive med':>11}")
    for r in rows:
        print(
            f"{r['dataset']:<34}{r['n']:>7}{r['n_clipped']:>8}{r['median']:>10.1e}{r['p90']:>10.1e}"
            f"{r['max']:>10.1e}{r['naive_median']:>11.2e}"
        )
    if args.json:
        print(json.dumps(rows))


if __name__ == "__main__":
    main()
