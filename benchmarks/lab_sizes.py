"""Pick `lab` sizes by measurement: score and wall time of a learner over network widths and step budgets.

    .venv/bin/python benchmarks/lab_sizes.py --dataset stitchkit/hopper/medium-replay-v0 --algos td3bc iql \
        --widths 64 128 256 --steps 5000 10000 20000
    .venv/bin/python benchmarks/lab_sizes.py --dataset stitchkit/hopper/medium-replay-v0 \
        --augmented stitchkit/hopper/medium-replay-diffstitch-v0 --ratio 4 --widths 64 256

The smallest width and step count at which the lesson's effect still shows is the `lab` size (a notebook must
run in 12 minutes on a 2-core laptop); this prints the evidence: for each (learner, width, steps, arm) the last
evaluation's mean with a 95% bootstrap CI over seeds, and the run's wall time. With ``--augmented`` every
configuration is trained on the original data and on original + augmented, so the effect is read per size.
Runs go two at a time (``train.run_many``) and are cached, so a rerun with one more width trains only that width.
One JSON line last.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", required=True)
    p.add_argument("--augmented", help="an augmented dataset: each size is trained with and without it")
    p.add_argument("--ratio", type=float, default=4.0, help="original : augmented (with --augmented)")
    p.add_argument("--algos", nargs="+", default=["td3bc", "iql"])
    p.add_argument("--widths", nargs="+", type=int, default=[64, 128, 256], help="two hidden layers of this width")
    p.add_argument("--steps", nargs="+", type=int, default=[10_000])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--profile", default="lab")
    p.add_argument("--processes", type=int, default=2)
    args = p.parse_args()

    from stitchkit.stats import bootstrap_ci
    from stitchkit.train import run_many

    arms = {"original": {}} | (
        {"augmented": {"augmented_id": args.augmented, "ratio": args.ratio}} if args.augmented else {}
    )
    keys, jobs = [], []
    for algo in args.algos:
        for width in args.widths:
            for steps in args.steps:
                for arm, extra in arms.items():
                    keys.append((algo, width, steps, arm))
                    jobs.append(
                        dict(
                            algo_name=algo,
                            dataset_id=args.dataset,
                            seeds=args.seeds,
                            profile=args.profile,
                            steps=steps,
                            hidden=(width, width),
                            progress=False,
                            **extra,
                        )
                    )
    t0 = time.perf_counter()
    results = run_many(jobs, processes=args.processes)
    rows = []
    print(f"{'learner':8}{'width':>7}{'steps':>8} {'arm':10}{'last (95% CI)':>26}")
    for (algo, width, steps, arm), res in zip(keys, results):
        last = res["score"]["last"]
        mean, lo, hi = bootstrap_ci(lambda s: float(np.mean(s["x"])), {"x": last})
        rows.append({"algo": algo, "width": width, "steps": steps, "arm": arm, "last": last, "ci": [lo, hi]})
        print(f"{algo:8}{width:>7}{steps:>8} {arm:10}{mean:>10.1f} [{lo:6.1f}, {hi:6.1f}]")
    print(
        json.dumps(
            {
                "dataset": args.dataset,
                "augmented": args.augmented,
                "rows": rows,
                "seconds": round(time.perf_counter() - t0, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
