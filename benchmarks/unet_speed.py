"""DiffStitch's U-Net training speed, float32 against bfloat16 autocast (``train_diffusion(bf16=True)``, issue 32),
at a profile's sizes (``full`` by default: H 100, 128 channels, (1, 4, 8), batch 64) on synthetic hopper-sized
episodes (the speed does not depend on the data). The two precisions alternate in ``--rounds`` blocks of
``--steps`` steps each, so a change in the machine's load falls on both.

    python benchmarks/unet_speed.py [--profile full] [--steps 10] [--rounds 3] [--device cpu] [--json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time

import numpy as np
import torch

from stitchkit.augment import diffstitch as ds
from stitchkit.augment.diffusion import diffusion_from_sizes
from stitchkit.data.episodes import Episode
from stitchkit.profiles import get_profile
from stitchkit.progress import quiet


def episodes(n: int, length: int, obs_dim: int = 11, act_dim: int = 3, seed: int = 0) -> list[Episode]:
    rng = np.random.default_rng(seed)
    return [
        Episode(
            rng.normal(size=(length + 1, obs_dim)),
            rng.uniform(-1, 1, (length, act_dim)),
            rng.normal(size=length),
            np.zeros(length, bool),
            np.zeros(length, bool),
            id=i,
        )
        for i in range(n)
    ]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--profile", default="full")
    p.add_argument("--steps", type=int, default=10, help="training steps per timed block")
    p.add_argument("--rounds", type=int, default=3, help="blocks per precision, alternating")
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    cuda = args.device.startswith("cuda")
    if not cuda:
        torch.set_num_threads(1)
    sz = dataclasses.replace(ds.SIZES.of(get_profile(args.profile)), diffusion_train_steps=args.steps)
    eps = episodes(20, 2 * sz.horizon)
    cdf, _ = ds.model_data(eps, 0)
    model = diffusion_from_sizes(eps[0].observations.shape[1], sz).to(args.device)
    seconds: dict[str, list[float]] = {"float32": [], "bf16": []}
    with quiet():
        for bf16 in (False, True):  # warm-up
            ds.train_diffusion(
                model, eps, cdf, dataclasses.replace(sz, diffusion_train_steps=2), device=args.device, bf16=bf16
            )
        for _ in range(args.rounds):
            for name, bf16 in (("float32", False), ("bf16", True)):
                torch.cuda.synchronize() if cuda else None
                t0 = time.perf_counter()
                ds.train_diffusion(model, eps, cdf, sz, device=args.device, bf16=bf16)
                torch.cuda.synchronize() if cuda else None
                seconds[name].append(time.perf_counter() - t0)
    rates = {k: args.steps * len(v) / sum(v) for k, v in seconds.items()}
    print(
        f"U-Net ({args.profile}: H {sz.horizon}, dim {sz.unet_dim}, mults {sz.unet_mults}, batch {sz.diffusion_batch}) "
        f"on {args.device}: float32 {rates['float32']:.2f} steps/s, bf16 {rates['bf16']:.2f} steps/s "
        f"({rates['bf16'] / rates['float32']:.2f}x), {args.rounds} x {args.steps} steps each, alternating"
    )
    if args.json:
        print(json.dumps({"profile": args.profile, "device": args.device, "steps_per_s": rates}))


if __name__ == "__main__":
    main()
