"""What the dataset check costs (issue 30): :func:`stitchkit.data.validate.check_episodes` against the load it
guards, on the largest dataset of a profile, median of several rounds.

    .venv/bin/python benchmarks/validate_cost.py --profile lab [--dataset stitchkit/hopper/medium-replay-v0]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--profile", default="lab")
    p.add_argument("--dataset", default="stitchkit/hopper/medium-replay-v0")
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args()

    from stitchkit.data import registry
    from stitchkit.data.validate import action_bounds, check_episodes

    registry.load_episodes(args.dataset, args.profile, build_missing=True)  # built and warm
    load, check = [], []
    for _ in range(args.rounds):
        t0 = time.perf_counter()
        eps = registry.load_episodes(args.dataset, args.profile)  # includes the check
        t1 = time.perf_counter()
        check_episodes(args.dataset, eps, *action_bounds(registry.load_minari(args.dataset, args.profile).action_space))
        t2 = time.perf_counter()
        load.append(t1 - t0)
        check.append(t2 - t1)
    steps = sum(len(e) for e in eps)
    out = {
        "dataset": args.dataset,
        "transitions": steps,
        "load_seconds": round(statistics.median(load), 3),
        "check_seconds": round(statistics.median(check), 4),
    }
    out["check_share_of_load"] = round(out["check_seconds"] / out["load_seconds"], 3)
    print(
        f"{args.dataset}: {steps} transitions; load {out['load_seconds']} s, of which the check "
        f"{out['check_seconds']} s ({100 * out['check_share_of_load']:.1f}%)"
    )
    print(json.dumps(out))


if __name__ == "__main__":
    main()
