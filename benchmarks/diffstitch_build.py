"""How large a DiffStitch generator one CPU core can build in a budget (issue 44: "the largest generator whose build
fits about 4 hours of one core"), measured here before any build starts.

For each candidate U-Net (horizon 100, return-conditioned as released), on synthetic episodes of the dataset's
state size (speed does not depend on the data):
- one training step at batch 64, float32 and bfloat16 autocast (``train_diffusion(bf16=...)``);
- one EMA forward at the stitch batch (64), from which one stitching iteration's U-Net cost follows: two sampling
  passes (imagine, then inpaint the bridge) x the sampler's steps x 2 forwards (classifier-free guidance);
- the three small models (inverse dynamics, reward, dynamics ensemble) at ``--model-steps``.

Then the plan: the iterations needed for ``--volume`` x the dataset's transitions at the accepted transitions per
iteration of the last committed build (``results/campaign/builds/``), and the diffusion training steps the rest of
``--hours`` pays for. The generation estimate counts only U-Net forwards (an upper bound for the second pass,
which runs only on the sources with a similar target; a lower bound for everything else in the loop).

    .venv/bin/python benchmarks/diffstitch_build.py [--transitions 402000] [--volume 2] [--hours 4] [--json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import time
from functools import partial
from pathlib import Path

import torch

from stitchkit.augment import diffstitch as ds
from stitchkit.augment.diffusion import diffusion_from_sizes
from stitchkit.augment.models import DynamicsEnsemble, InverseDynamics, RewardModel, fit_seconds
from stitchkit.profiles import get_profile
from stitchkit.progress import quiet

CANDIDATES = [(32, (1, 2, 4)), (64, (1, 2, 4)), (64, (1, 4, 8)), (96, (1, 4, 8)), (128, (1, 4, 8))]
BUILD = Path(__file__).resolve().parents[1] / "results" / "campaign" / "builds" / "hopper-medium-replay-diffstitch.json"


def timed(fn, repeats: int) -> float:
    fn()  # warm-up
    t = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - t) / repeats


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--obs-dim", type=int, default=11, help="state size (hopper 11, walker2d 17)")
    p.add_argument("--act-dim", type=int, default=3)
    p.add_argument("--transitions", type=int, default=402_000, help="the dataset's transitions (hopper-mr, full)")
    p.add_argument("--volume", type=float, default=2.0, help="generated transitions as a multiple of the dataset")
    p.add_argument("--hours", type=float, default=4.0, help="the build's budget on one core")
    p.add_argument("--model-steps", type=int, default=20_000, help="steps of each small model")
    p.add_argument("--steps", type=int, default=3, help="timed training steps per precision")
    p.add_argument("--json", action="store_true")
    p.add_argument("--largest", type=int, default=128, help="skip U-Nets wider than this")
    args = p.parse_args()
    torch.set_num_threads(1)
    from unet_speed import episodes  # the synthetic episodes of benchmarks/unet_speed.py

    build = json.loads(BUILD.read_text())[-1]["summary"]
    per_iteration = build["accepted_transitions"] / build["iterations"]
    iterations = math.ceil(args.volume * args.transitions / per_iteration)
    base = ds.SIZES.of(get_profile("full"))
    eps = episodes(20, 2 * base.horizon, args.obs_dim, args.act_dim)
    cdf, data = ds.model_data(eps, 0)
    with quiet():
        small = sum(
            fit_seconds(m, data, args.model_steps, base.model_batch, members, "cpu", 20)
            for m, members in (
                (InverseDynamics(args.obs_dim, args.act_dim), None),
                (RewardModel(args.obs_dim, args.act_dim), None),
                (DynamicsEnsemble(args.obs_dim, args.act_dim, base.ensemble, 5), base.ensemble),
            )
        )
    rows = []
    for dim, mults in (c for c in CANDIDATES if c[0] <= args.largest):
        sz = dataclasses.replace(base, unet_dim=dim, unet_mults=mults)
        model = diffusion_from_sizes(args.obs_dim, sz, returns_condition=True)
        train = {}
        with quiet():
            for bf16 in (False, True):
                one = dataclasses.replace(sz, diffusion_train_steps=args.steps)
                run = partial(ds.train_diffusion, model, eps, cdf, one, return_scale=1.0, bf16=bf16)
                train["bf16" if bf16 else "float32"] = timed(run, 1) / args.steps
        x = torch.randn(sz.stitch_batch, sz.horizon, args.obs_dim)
        kk = torch.zeros(sz.stitch_batch, dtype=torch.long)
        with torch.no_grad():
            fwd = timed(partial(model.ema, x, kk, torch.ones(sz.stitch_batch), use_dropout=False), 3)
        best = min(train, key=train.get)
        row = {"unet": f"{dim} x {mults}", "params_m": sum(q.numel() for q in model.net.parameters()) / 1e6}
        row |= {f"train_s_{k}": v for k, v in train.items()} | {"forward_s": fwd}
        for sampler, steps in (("strided", base.strided_steps), ("full", base.diffusion_steps)):
            gen = iterations * 2 * steps * 2 * fwd
            left = args.hours * 3600 - gen - small
            row[f"gen_h_{sampler}"] = gen / 3600
            row[f"train_steps_{sampler}"] = max(0, int(left / train[best]))
        row["precision"] = best
        rows.append(row)
        print(json.dumps(row), flush=True)  # each candidate as it is measured: the largest take minutes
    print(
        f"DiffStitch builds on one core (torch threads 1), H {base.horizon}, state {args.obs_dim}: "
        f"{args.volume:g} x {args.transitions:,} transitions = {iterations:,} iterations at "
        f"{per_iteration:.0f} accepted per iteration (last build); small models {small / 3600:.2f} h; "
        f"budget {args.hours:g} h"
    )
    head = [
        "U-Net",
        "params M",
        "train s/step fp32",
        "bf16",
        "fwd s (B 64)",
        "gen h strided",
        "steps strided",
        "gen h full",
        "steps full",
    ]
    print(" | ".join(head))
    for r in rows:
        print(
            f"{r['unet']} | {r['params_m']:.2f} | {r['train_s_float32']:.3f} | {r['train_s_bf16']:.3f} | "
            f"{r['forward_s']:.4f} | {r['gen_h_strided']:.2f} | {r['train_steps_strided']:,} | "
            f"{r['gen_h_full']:.1f} | {r['train_steps_full']:,}"
        )
    if args.json:
        print(json.dumps({"iterations": iterations, "per_iteration": per_iteration, "small_s": small, "rows": rows}))


if __name__ == "__main__":
    main()
