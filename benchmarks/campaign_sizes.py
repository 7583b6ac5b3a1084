"""How long the campaign's augmented-data builds will take on this machine, before starting them: each method's
model training timed by its own ``estimate_train_seconds`` probe at the campaign's sizes (``[sizes]`` of
``stitchkit/grids/campaign.toml`` over its base profile) and at the base profile's, side by side. This is how the
campaign's generator sizes were chosen (the largest whose build takes about an hour of one core); the generation
loop's own time is recorded by each real build in ``results/campaign/builds/``. SER's sampling, the other half of its
build, is timed here too (1,000 samples at the sizes' sampler steps, scaled to its ``samples``); DiffStitch's
generation has its own probe, ``benchmarks/diffstitch_build.py``.

    .venv/bin/python benchmarks/campaign_sizes.py [--campaign campaign-d4rl --campaign-only] [--json]
    (a `full`-based campaign reads data/full/: STITCHKIT_DATA=data/full MINARI_DATASETS_PATH=data/full/minari)
"""

from __future__ import annotations

import argparse
import json
import time

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
    parser.add_argument("--campaign-only", action="store_true", help="skip the base profile's (slow at full) sizes")
    args = parser.parse_args()
    torch.set_num_threads(1)
    c = records.load(args.campaign)
    base, sized = get_profile(c.profile_name), c.profile()
    episodes = registry.load_episodes(args.dataset, base, build_missing=True, log=lambda *_: None)
    rows = []
    with quiet():
        for name, est in ESTIMATES.items():
            row = {"method": name, "campaign": round(est(episodes, sized))}
            rows.append(row if args.campaign_only else {**row, base.name: round(est(episodes, base))})
    print(f"model training, seconds on this machine (one thread), {args.dataset}")
    print(f"{'method':<12}{base.name:>10}{'campaign':>12}")
    for r in rows:
        print(f"{r['method']:<12}{r.get(base.name, '-'):>10}{r['campaign']:>12}")
    sz = ser.SIZES.of(sized)  # SER's sampling, the other half of its build: an untrained EDM samples as fast
    edm = ser.EDM(2 * episodes[0].observations.shape[1] + episodes[0].actions.shape[1] + 2, sz.width, sz.depth)
    t0, n = time.perf_counter(), 1000
    edm.sample(n, ser.SERConfig(), sz.sample_steps, torch.Generator().manual_seed(0), "cpu")
    per = (time.perf_counter() - t0) / n
    rows.append({"method": "ser sampling", "campaign": round(per * sz.samples)})
    print(f"SER sampling: {per * 1e3:.2f} ms per sample at {sz.sample_steps} steps, {sz.samples:,} samples: "
          f"{per * sz.samples / 3600:.2f} h")  # fmt: skip
    if args.json:
        print(json.dumps({"dataset": args.dataset, "rows": rows}))


if __name__ == "__main__":
    main()
