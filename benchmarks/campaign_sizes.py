"""How long the campaign's augmented-data builds will take on this machine, before starting them: each method's
model training timed by its own ``estimate_train_seconds`` probe at the campaign's sizes (``[sizes]`` of
``stitchkit/grids/campaign.toml`` over its base profile) and at the base profile's, side by side. This is how the
campaign's generator sizes were chosen (the largest whose build takes about an hour of one core); the generation
loop's own time is recorded by each real build in ``results/campaign/builds/``.

    .venv/bin/python benchmarks/campaign_sizes.py [--dataset stitchkit/hopper/medium-replay-v0] [--json]
"""

from __future__ import annotations

import argparse
import json

import torch

from stitchkit.augment import diffstitch, ser, tatu
from stitchkit.campaign import records
from stitchkit.data import registry
from stitchkit.profiles import get_profile
from stitchkit.progress import quiet

ESTIMATES = {
    "diffstitch": diffstitch.estimate_train_seconds,
    "ser": ser.estimate_train_seconds,
    "tatu": tatu.estimate_train_seconds,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--campaign", default="campaign")
    parser.add_argument("--dataset", default="stitchkit/hopper/medium-replay-v0")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    c = records.load(args.campaign)
    base, sized = get_profile(c.profile_name), c.profile()
    episodes = registry.load_episodes(args.dataset, base, build_missing=True, log=lambda *_: None)
    rows = []
    with quiet():
        for name, est in ESTIMATES.items():
            rows.append(
                {"method": name, base.name: round(est(episodes, base)), "campaign": round(est(episodes, sized))}
            )
    print(f"model training, seconds on this machine (one thread), {args.dataset}")
    print(f"{'method':<12}{base.name:>10}{'campaign':>12}")
    for r in rows:
        print(f"{r['method']:<12}{r[base.name]:>10}{r['campaign']:>12}")
    if args.json:
        print(json.dumps({"dataset": args.dataset, "rows": rows}))


if __name__ == "__main__":
    main()
