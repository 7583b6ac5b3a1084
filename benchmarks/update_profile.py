"""Where one learner update's time goes on this CPU: matrix products against everything else.

Prints, per learner: updates/s without the profiler; the update's matrix-product FLOPs (counted by torch's
profiler); this machine's matrix-product ceiling (GFLOP/s of a 256 x 256 x 256 batched product, the networks'
hidden layer); the updates/s that ceiling allows if nothing but the products took time; how much of the
profiled update the products take and at what share of the ceiling they run; and the costliest other ops.

Why: issue 27 asked for 75% of the ceiling (~190 TD3+BC updates/s). This says what stands in the way: if the
products already run near the ceiling, the rest is per-op overhead (about a hundred small tensor ops, the autograd
engine, Adam), which eager PyTorch cannot shed without changing the algorithm's ops. Measure on a quiet machine:
``python benchmarks/update_profile.py --algos td3bc iql``. The profiler's own cost inflates the profiled update
(compare its milliseconds with 1000 / updates_per_s). Page faults: a short process like this one keeps returning
freed tensors' memory to the system and faulting it back (about 40 per TD3+BC update), which a campaign worker
hours into its run does not (0 measured from ``/proc/<pid>/stat`` over 10 s), so the rates here are, if anything,
a little below a real run's.
"""

from __future__ import annotations

import argparse
import json
import resource
import time

import torch
from torch.profiler import ProfilerActivity, profile

MATMULS = {"aten::mm", "aten::bmm", "aten::addmm", "aten::baddbmm"}


def ceiling_gflops(n: int = 256, seconds: float = 2.0) -> float:
    """GFLOP/s of one (1, n, n) x (1, n, n) batched product, the networks' hidden layer at batch n."""
    x, w = torch.randn(1, n, n), torch.randn(1, n, n)
    for _ in range(20):
        torch.bmm(x, w)
    k, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        torch.bmm(x, w)
        k += 1
    return 2 * n**3 * k / (time.perf_counter() - t0) / 1e9


def profile_updates(algo: str, batch: int, updates: int, seconds: float) -> dict:
    from stitchkit.bench import fake_batch, steps_per_second
    from stitchkit.train import make_algo

    device = torch.device("cpu")
    rate = steps_per_second(algo, 1, device, seconds, batch)
    model = make_algo(algo, 11, 3, [0], 1_000_000)
    b = fake_batch(algo, 1, batch, device)
    for i in range(20):
        model.update(b, i)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for i in range(updates):
        model.update(b, i)
    faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults) / updates
    with profile(activities=[ProfilerActivity.CPU], with_flops=True) as prof:
        for i in range(updates):
            model.update(b, i)
    events = prof.key_averages()
    total_us = sum(e.self_cpu_time_total for e in events)
    mm_us = sum(e.self_cpu_time_total for e in events if e.key in MATMULS)
    flops = sum(e.flops for e in events if e.key in MATMULS)
    others = sorted((e for e in events if e.key not in MATMULS), key=lambda e: -e.self_cpu_time_total)
    return {
        "algo": algo,
        "updates_per_s": round(rate, 1),
        "mflop_per_update": round(flops / updates / 1e6, 1),
        "page_faults_per_update": round(faults, 1),
        "profiled_ms_per_update": round(total_us / updates / 1e3, 3),
        "matmul_ms_per_update": round(mm_us / updates / 1e3, 3),
        "matmul_gflops": round(flops / (mm_us * 1e-6) / 1e9, 1),
        "top_other_ops": [
            {
                "op": e.key,
                "calls_per_update": round(e.count / updates, 1),
                "ms_per_update": round(e.self_cpu_time_total / updates / 1e3, 3),
            }
            for e in others[:6]
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--algos", nargs="+", default=["td3bc", "iql"])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--updates", type=int, default=200, help="updates profiled")
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds of the unprofiled rate")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)  # the campaign's setting: one thread per run
    ceiling = ceiling_gflops()
    print(f"matrix-product ceiling (1 x 256^3 bmm, 1 thread): {ceiling:.1f} GFLOP/s")
    rows = []
    for algo in args.algos:
        r = profile_updates(algo, args.batch, args.updates, args.seconds)
        r["ceiling_updates_per_s"] = round(ceiling * 1e3 / r["mflop_per_update"], 1)
        r["matmul_share_of_ceiling"] = round(r["matmul_gflops"] / ceiling, 3)
        rows.append(r)
        other = r["profiled_ms_per_update"] - r["matmul_ms_per_update"]
        print(
            f"{algo}: {r['updates_per_s']:.1f} updates/s; {r['mflop_per_update']:.0f} MFLOP of products per update, "
            f"{r['ceiling_updates_per_s']:.0f} updates/s if only they took time at the ceiling.\n"
            f"  profiled update {r['profiled_ms_per_update']:.2f} ms: products {r['matmul_ms_per_update']:.2f} ms "
            f"({r['matmul_gflops']:.0f} GFLOP/s, {r['matmul_share_of_ceiling']:.0%} of the ceiling), "
            f"everything else {other:.2f} ms; {r['page_faults_per_update']:.1f} page faults per update; "
            "costliest other ops:"
        )
        for o in r["top_other_ops"]:
            print(f"    {o['op']:<40}{o['calls_per_update']:>7.1f} calls {o['ms_per_update']:>8.3f} ms")
    if args.json:
        print(json.dumps({"ceiling_gflops": round(ceiling, 1), "rows": rows}))


if __name__ == "__main__":
    main()
