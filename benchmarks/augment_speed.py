"""DiffStitch's generation speed: accepted stitched transitions per second and acceptance rate, per sampler.

    python benchmarks/augment_speed.py [--dataset ID] [--profile lab] [--iterations 8] [--json]

Trains (or reloads from ``data/checkpoints/diffstitch/``) the profile's models for the dataset, then runs the same
number of stitching iterations with the full ancestral sampler (K steps) and with the strided DDIM sampler
(the profile's ``strided_steps``), same seed, on the device ``STITCHKIT_DEVICE`` names (CPU by default).
Each iteration stitches ``stitch_batch`` bridges: two sampling passes (imagine, then stitch), one batched
similarity search over ``candidates`` targets, one batched dynamics check.
"""

from __future__ import annotations

import argparse
import json

import torch

from stitchkit.augment import diffstitch as ds
from stitchkit.data import registry
from stitchkit.device import get_device
from stitchkit.envs import env_name_of
from stitchkit.paths import data_dir
from stitchkit.profiles import get_profile


def measure(dataset_id: str, profile: str, iterations: int, seed: int = 0) -> list[dict]:
    prof = get_profile(profile)
    eps = registry.load_episodes(dataset_id, prof, build_missing=True)
    ckpt = data_dir() / "checkpoints" / "diffstitch" / ds.config_key(dataset_id, prof, seed, False)
    models = ds.train_models(eps, prof, seed, checkpoint_dir=ckpt)
    dev = get_device()
    for m in (models.diffusion, models.inverse, models.reward, models.dynamics):
        m.to(dev)
    rows = []
    for sampler in ("full", "strided"):
        cfg = ds.DiffStitchConfig(sampler=sampler, seed=seed)
        res = ds.stitch(
            models, eps, env_name_of(dataset_id), prof, cfg, dataset_id, budget=10**12, max_iterations=iterations
        )
        st = res.stats
        rows.append(
            {
                "dataset": dataset_id,
                "profile": prof.name,
                "device": str(dev),
                "sampler": sampler,
                "denoising_steps": ds.SIZES.of(prof).diffusion_steps
                if sampler == "full"
                else ds.SIZES.of(prof).strided_steps,
                "iterations": st["iterations"],
                "bridges": st["generated"],
                "accepted": st["accepted"],
                "acceptance_rate": round(st["acceptance_rate"], 4),
                "seconds": st["seconds"],
                "accepted_transitions": st["accepted_transitions"],
                "accepted_transitions_per_s": round(st["accepted_transitions_per_s"], 2),
            }
        )
    full, fast = rows
    fast["speedup"] = round(fast["accepted_transitions_per_s"] / max(full["accepted_transitions_per_s"], 1e-9), 2)
    fast["acceptance_vs_full"] = round(fast["acceptance_rate"] / max(full["acceptance_rate"], 1e-9), 3)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--dataset", action="append", help="dataset id (repeatable); default: the maze and hopper medium-replay"
    )
    ap.add_argument("--profile", default="lab")
    ap.add_argument("--iterations", type=int, default=8)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    datasets = args.dataset or ["stitchkit/pointmaze-medium/stitch-v0", "stitchkit/hopper/medium-replay-v0"]
    rows = [r for d in datasets for r in measure(d, args.profile, args.iterations)]
    print(f"{'dataset':40} {'sampler':8} {'steps':>5} {'bridges':>7} {'accept':>7} {'trans/s':>9} {'speedup':>7}")
    for r in rows:
        print(
            f"{r['dataset']:40} {r['sampler']:8} {r['denoising_steps']:>5} {r['bridges']:>7} "
            f"{r['acceptance_rate']:>7.3f} {r['accepted_transitions_per_s']:>9.1f} {r.get('speedup', ''):>7}"
        )
    if args.json:
        print(json.dumps(rows))


if __name__ == "__main__":
    main()
