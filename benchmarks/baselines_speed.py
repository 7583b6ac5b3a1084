"""SER's and TATU's generation speed: synthetic transitions per second (SER, per sampler step count) and kept model
transitions per second (TATU).

    python benchmarks/baselines_speed.py [--dataset ID] [--profile lab] [--samples 5000] [--json]

Trains (or reloads from ``data/checkpoints/ser/`` and ``data/checkpoints/tatu/``) the profile's models for the
dataset, then times generation only, on the device ``STITCHKIT_DEVICE`` names (CPU by default). SER is timed at
the profile's sampler steps and at SynthER's 128; TATU with its default settings.
"""

from __future__ import annotations

import argparse
import json
import time

from stitchkit.augment import ser, tatu
from stitchkit.data import registry
from stitchkit.device import get_device
from stitchkit.envs import env_name_of
from stitchkit.paths import data_dir
from stitchkit.profiles import get_profile


def measure(dataset_id: str, profile: str, samples: int, seed: int = 0) -> list[dict]:
    prof = get_profile(profile)
    dev = str(get_device())
    eps = registry.load_episodes(dataset_id, prof, build_missing=True)
    root = data_dir() / "checkpoints"
    rows = []
    sm = ser.train_models(eps, prof, seed, root / "ser" / ser.config_key(dataset_id, prof, seed), device=dev)
    for steps in sorted({ser.SIZES.of(prof).sample_steps, 128}):
        t0 = time.perf_counter()
        ser.sample_transitions(sm, samples, ser.SERConfig(seed=seed), steps, device=dev)
        sec = time.perf_counter() - t0
        rows.append(
            {
                "dataset": dataset_id,
                "profile": prof.name,
                "device": dev,
                "method": "ser",
                "setting": f"{steps} sampler steps",
                "transitions": samples,
                "seconds": round(sec, 2),
                "transitions_per_s": round(samples / sec, 1),
            }
        )
    tm = tatu.train_models(eps, prof, seed, root / "tatu" / tatu.config_key(dataset_id, prof, seed), device=dev)
    res = tatu.generate(
        tm, eps, env_name_of(dataset_id), prof, tatu.TATUConfig(seed=seed, transitions=samples), device=dev
    )
    rows.append(
        {
            "dataset": dataset_id,
            "profile": prof.name,
            "device": dev,
            "method": "tatu",
            "setting": f"H={res.config.horizon}, pessimism {res.config.pessimism}",
            "transitions": res.stats["accepted_transitions"],
            "seconds": res.stats["seconds"],
            "transitions_per_s": res.stats["accepted_transitions_per_s"],
        }
    )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", action="append", help="dataset id (repeatable); default: hopper medium-replay")
    ap.add_argument("--profile", default="lab")
    ap.add_argument("--samples", type=int, default=5000)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rows = [
        r for d in args.dataset or ["stitchkit/hopper/medium-replay-v0"] for r in measure(d, args.profile, args.samples)
    ]
    print(f"{'dataset':36} {'method':6} {'setting':26} {'transitions':>11} {'seconds':>8} {'trans/s':>9}")
    for r in rows:
        print(
            f"{r['dataset']:36} {r['method']:6} {r['setting']:26} {r['transitions']:>11} {r['seconds']:>8} "
            f"{r['transitions_per_s']:>9.1f}"
        )
    if args.json:
        print(json.dumps(rows))


if __name__ == "__main__":
    main()
