"""ASTRO's planner: deviation per Rollout Deviation Feedback iteration, acceptance and bridges planned per second.

    python benchmarks/rdf_planner.py [--dataset ID] [--profile lab] [--iterations 4] [--json]

Loads (or trains) the profile's ASTRO models for each dataset and runs a few stitching iterations, once with the
feedback loop off (open-loop inverse-dynamics actions, what DiffStitch's wrap-up would execute) and once with it,
same seed and pairs, on the device ``STITCHKIT_DEVICE`` names (CPU by default).
"""

from __future__ import annotations

import argparse
import json

import torch

from stitchkit.augment import astro
from stitchkit.augment import diffstitch as ds
from stitchkit.data import registry
from stitchkit.device import get_device
from stitchkit.envs import env_name_of
from stitchkit.paths import data_dir
from stitchkit.profiles import get_profile


def measure(dataset_id: str, profile: str, iterations: int, seed: int = 0) -> list[dict]:
    prof = get_profile(profile)
    eps = registry.load_episodes(dataset_id, prof, build_missing=True)
    root = data_dir() / "checkpoints"
    dev = str(get_device())
    models = astro.train_models(
        eps,
        prof,
        seed,
        checkpoint_dir=root / "astro" / astro.config_key(dataset_id, prof, seed),
        diffstitch_dir=root / "diffstitch" / ds.config_key(dataset_id, prof, seed, False),
        device=dev,
    )
    rows = []
    for feedback in (False, True):
        res = astro.stitch(
            models,
            eps,
            env_name_of(dataset_id),
            prof,
            astro.AstroConfig(seed=seed, feedback=feedback),
            dataset_id,
            budget=10**12,
            max_iterations=iterations,
        )
        st = res.stats
        rows.append(
            {
                "dataset": dataset_id,
                "profile": prof.name,
                "device": dev,
                "feedback": feedback,
                "pairs": st["generated"] - st["no_reachable_target"],
                "accepted": st["accepted"],
                "acceptance_rate": round(st["acceptance_rate"], 4),
                "seconds": st["seconds"],
                "pairs_per_s": round((st["generated"] - st["no_reachable_target"]) / max(st["seconds"], 1e-9), 2),
                "deviation_first": round(st["rdf_mean_deviation"][0], 5) if st["rdf_mean_deviation"] else None,
                "deviation_last": round(st["rdf_mean_deviation"][-1], 5) if st["rdf_mean_deviation"] else None,
            }
        )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--dataset", action="append", help="dataset id (repeatable); default: the maze and hopper medium-replay"
    )
    ap.add_argument("--profile", default="lab")
    ap.add_argument("--iterations", type=int, default=4)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    datasets = args.dataset or ["stitchkit/pointmaze-medium/stitch-v0", "stitchkit/hopper/medium-replay-v0"]
    rows = [r for d in datasets for r in measure(d, args.profile, args.iterations)]
    print(f"{'dataset':40} {'feedback':8} {'pairs':>6} {'accept':>7} {'pairs/s':>8} {'dev first':>10} {'dev last':>10}")
    for r in rows:
        print(
            f"{r['dataset']:40} {r['feedback']!s:8} {r['pairs']:>6} {r['acceptance_rate']:>7.3f} "
            f"{r['pairs_per_s']:>8.1f} {r['deviation_first']!s:>10} {r['deviation_last']!s:>10}"
        )
    if args.json:
        print(json.dumps(rows))


if __name__ == "__main__":
    main()
