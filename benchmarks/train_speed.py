"""Gradient steps per second of each evaluator, one seed and S seeds batched, on the current device.

On a GPU, small MLP updates are launch-bound, so S batched seeds cost little more than one; on a CPU they are
FLOP-bound and batching saves little. Synthetic hopper-sized data (obs 11, act 3); DT uses K=20 windows.

``--compare REF`` measures the kit at git revision REF (checked out into a temporary worktree) and the working
tree *in one run*, interleaved round by round in fresh processes, so both see the same machine load; it prints
the median of the rounds for each side and the speed-up. This is how a speed change is reported (a shared
2-core VM drifts by 10-20% over minutes, more than most changes are worth).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROBE = """
import json, sys, torch
torch.set_num_threads({threads})
from stitchkit.bench import steps_per_second
from stitchkit.device import get_device
print(json.dumps(steps_per_second({algo!r}, {seeds}, get_device(), {seconds}, {batch})))
"""


def probe(src: Path, algo: str, seeds: int, seconds: float, batch: int, threads: int) -> float:
    """Steps/s of ``algo`` measured by the kit found at ``src`` (its own process: a clean import of that code)."""
    code = PROBE.format(algo=algo, seeds=seeds, seconds=seconds, batch=batch, threads=threads)
    env = {**os.environ, "PYTHONPATH": str(src), "OMP_NUM_THREADS": str(threads)}
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=src, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def compare(ref: str, args: argparse.Namespace) -> list[dict]:
    """Each round measures REF then the working tree (then swaps the order), per algo and seed count."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "before"
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(tree), ref], cwd=ROOT, check=True, capture_output=True
        )
        try:
            for algo in args.algos:
                batch = args.dt_batch if algo == "dt" else args.batch
                for seeds in sorted({1, args.seeds}):
                    before, after = [], []
                    for r in range(args.rounds):
                        order = [(tree, before), (ROOT, after)]
                        for src, out in order if r % 2 == 0 else order[::-1]:
                            out.append(probe(src, algo, seeds, args.seconds, batch, args.threads))
                    b, a = statistics.median(before), statistics.median(after)
                    rows.append(
                        {
                            "algo": algo,
                            "seeds": seeds,
                            "before": round(b, 1),
                            "after": round(a, 1),
                            "speedup": round(a / b, 3),
                            "before_rounds": before,
                            "after_rounds": after,
                        }
                    )
                    print(f"{algo:<8}{seeds:>6}{b:>12.1f}{a:>12.1f}{a / b:>10.2f}x", flush=True)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, capture_output=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--algos", nargs="+", default=["bc", "td3bc", "iql", "cql", "dt"])
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--dt-batch", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the campaign runs one per core)")
    parser.add_argument("--compare", metavar="REF", help="also measure git revision REF, interleaved, in one run")
    parser.add_argument("--rounds", type=int, default=5, help="with --compare: rounds per side (median reported)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.compare:
        print(
            f"before = {args.compare}, after = working tree; {args.threads} thread(s), batch {args.batch}, "
            f"median of {args.rounds} interleaved rounds of {args.seconds:g} s (steps/s)"
        )
        print(f"{'algo':<8}{'seeds':>6}{'before':>12}{'after':>12}{'speed-up':>11}")
        rows = compare(args.compare, args)
        if args.json:
            print(json.dumps({"compare": args.compare, "threads": args.threads, "rows": rows}))
        return
    import torch

    from stitchkit.bench import steps_per_second  # the same probe the benchmark's time estimate uses
    from stitchkit.device import get_device

    torch.set_num_threads(args.threads)
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
