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
from stitchkit.data.episodes import transitions
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
            t = transitions(eps)
            idx = rng.choice(len(t["actions"]), size=min(args.n, len(t["actions"])), replace=False)
            res = oracle.check(t["observations"][idx], t["actions"][idx], t["next_observations"][idx])
            glue = []
            for _ in range(args.stitches):
                i, j = rng.choice(len(eps), 2, replace=len(eps) < 2)
                a, b = eps[i], eps[j]
                ta, tb = rng.integers(len(a)), rng.integers(len(b))
                g = naive_stitch(a, ta, b, tb)
                glue.append(oracle.check(g.observations[ta:ta + 1], g.actions[ta:ta + 1],
                                         g.observations[ta + 1:ta + 2]).norm[0])
            rows.append({"dataset": ds, **res.summary(), "naive_median": float(np.median(glue))})
        oracle.close()
    print(f"{'dataset':<34}{'n':>7}{'clipped':>8}{'median':>10}{'p90':>10}{'max':>10}{'naive med':>11}")
    for r in rows:
        print(f"{r['dataset']:<34}{r['n']:>7}{r['n_clipped']:>8}{r['median']:>10.1e}{r['p90']:>10.1e}"
              f"{r['max']:>10.1e}{r['naive_median']:>11.2e}")
    if args.json:
        print(json.dumps(rows))


if __name__ == "__main__":
    main()
