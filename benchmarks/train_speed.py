"""Gradient steps per second of each evaluator, one seed and S seeds batched, on the current device.

On a GPU, small MLP updates are launch-bound, so S batched seeds cost little more than one; on a CPU they are
FLOP-bound and batching saves little. Synthetic hopper-sized data (obs 11, act 3); DT uses K=20 windows.
"""

from __future__ import annotations

import argparse
import json

import torch

from stitchkit.bench import steps_per_second  # the same probe the benchmark's time estimate uses
from stitchkit.device import get_device


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--algos", nargs="+", default=["bc", "td3bc", "iql", "cql", "dt"])
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--dt-batch", type=int, default=64)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    device = get_device()
    rows = []
    for algo in args.algos:
        batch = args.dt_batch if algo == "dt" else args.batch
        one = steps_per_second(algo, 1, device, args.seconds, batch)
        many = steps_per_second(algo, args.seeds, device, args.seconds, batch)
        rows.append(
            {
                "algo": algo,
                "steps_per_s_1": round(one, 1),
                f"steps_per_s_{args.seeds}": round(many, 1),
                "time_ratio": round(one / many, 2),
                "seed_steps_per_s": round(many * args.seeds, 1),
            }
        )
    print(f"device {device}, torch threads {torch.get_num_threads()}, batch {args.batch} (DT {args.dt_batch})")
    print(f"{'algo':<8}{'1 seed steps/s':>16}{f'{args.seeds} seeds steps/s':>18}{'time x':>9}{'seed-steps/s':>14}")
    for r in rows:
        print(
            f"{r['algo']:<8}{r['steps_per_s_1']:>16.1f}{r[f'steps_per_s_{args.seeds}']:>18.1f}{r['time_ratio']:>9.2f}"
            f"{r['seed_steps_per_s']:>14.1f}"
        )
    if args.json:
        print(json.dumps({"device": str(device), "rows": rows}))


if __name__ == "__main__":
    main()
