"""Build (if missing) and tabulate the 15 locomotion datasets at a profile: steps, episodes, mean and best episode
return, the kit's normalized score (Minari's: its own random and expert references) and the approximate D4RL score
(D4RL's published references), and each environment's behaviour checkpoints. Prints build times too."""

from __future__ import annotations

import argparse
import json
import time

from stitchkit.data import registry
from stitchkit.data.d4rl import d4rl_score
from stitchkit.data.locomotion import NAMES, choose_checkpoints


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--profile", default="lab")
    parser.add_argument("--envs", nargs="+", default=["hopper", "halfcheetah", "walker2d"])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows, experts = [], {}
    for env in args.envs:
        c = choose_checkpoints(env)
        experts[env] = {
            k: {"step": v.step, "mean_return": round(v.mean_return, 1), "return_100": v.return_100}
            for k, v in c.items()
        }
        for name in NAMES:
            ds = f"stitchkit/{env}/{name}-v0"
            t0 = time.perf_counter()
            registry.build(ds, args.profile, log=lambda *_: None)
            built = time.perf_counter() - t0
            info = registry.info(ds, args.profile)
            best = max(e.ret for e in registry.load_episodes(ds, args.profile))
            rows.append(
                {
                    "dataset": ds,
                    "steps": info["steps"],
                    "episodes": info["episodes"],
                    "return_mean": round(info["return_mean"], 1),
                    "return_best": round(float(best), 1),
                    "normalized": round(info["normalized_score_mean"], 1),
                    "d4rl": round(float(d4rl_score(env, info["return_mean"])), 1),
                    "ref_min": round(info["ref_min_score"], 1),
                    "ref_max": round(info["ref_max_score"], 1),
                    "seconds": round(built, 1),
                }
            )
    print(
        f"{'dataset':<36}{'steps':>9}{'episodes':>9}{'mean return':>12}{'best':>9}{'kit score':>10}{'D4RL':>7}"
        f"{'build s':>9}"
    )
    for r in rows:
        print(
            f"{r['dataset']:<36}{r['steps']:>9}{r['episodes']:>9}{r['return_mean']:>12.1f}{r['return_best']:>9.1f}"
            f"{r['normalized']:>10.1f}{r['d4rl']:>7.1f}{r['seconds']:>9.1f}"
        )
    print("\nbehaviour checkpoints (step: training-time return of a few stochastic episodes [100-episode mean]):")
    for env, c in experts.items():
        print(
            f"  {env:<12}"
            + "  ".join(
                f"{k} @ {v['step']}: {v['mean_return']}" + (f" [{v['return_100']:.1f}]" if v["return_100"] else "")
                for k, v in c.items()
            )
        )
    if args.json:
        print(json.dumps({"datasets": rows, "checkpoints": experts}))


if __name__ == "__main__":
    main()
