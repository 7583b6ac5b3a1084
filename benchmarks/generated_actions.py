"""How the actions of an augmented dataset's generated transitions compare with the behaviour's own.

Why: TD3+BC's policy loss is a behaviour-cloning term on every batch, so it copies whatever actions the generated
transitions carry (DiffStitch's come from its inverse dynamics model, SER's from its diffusion model, TATU's from
its behaviour VAE). A labeller that shrinks actions toward the mean would pull the policy toward softer actions
without any reward model or qualification noticing.

Prints, per dataset: generated transitions, their mean reward per step, mean |action|, the share at the bounds
(|a| > 0.99) and each action dimension's spread, beside the parent data's; then the physics oracle's median one-step
error of a seeded sample of generated transitions with their actions scaled by k (clipped to [-1, 1]). Where the
error is least at k > 1, the stored actions are too small for the state changes they sit between; least at k = 1,
they fit them, and smaller actions mean gentler generated motion. Build the datasets first (a campaign's builds).

    STITCHKIT_DATA=$PWD/data/full MINARI_DATASETS_PATH=$PWD/data/full/minari \
      .venv/bin/python benchmarks/generated_actions.py stitchkit/hopper/medium-replay-diffstitch-campaign-v0
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from stitchkit.data import registry
from stitchkit.data.episodes import generated_transitions
from stitchkit.oracle import PhysicsOracle

SCALES = (0.8, 1.0, 1.25, 1.5)


def action_stats(a: np.ndarray, r: np.ndarray) -> dict[str, float | list[float]]:
    return {
        "n": len(a),
        "reward": round(float(r.mean()), 3),
        "mean_abs": round(float(np.abs(a).mean()), 3),
        "at_bounds": round(float(np.mean(np.abs(a) > 0.99)), 3),
        "std": [round(float(s), 3) for s in a.std(0)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("datasets", nargs="+", help="augmented dataset ids (their parents are read from their ids)")
    parser.add_argument("--profile", default="full")
    parser.add_argument("--n", type=int, default=5_000, help="generated transitions the oracle checks per scale")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = []
    for out_id in args.datasets:
        meta = registry.read_metadata(out_id)["stitchkit"]["augment"]
        parent, env = meta["parent"], registry.parse_id(out_id).env
        eps = registry.load_episodes(out_id, args.profile, build_missing=False, log=lambda *_: None)
        gen = generated_transitions(eps)
        parent_eps = registry.load_episodes(parent, args.profile, log=lambda *_: None)
        orig, orig_r = (np.concatenate([getattr(e, k) for e in parent_eps]) for k in ("actions", "rewards"))
        pick = np.sort(np.random.default_rng(0).choice(len(gen["actions"]), min(args.n, len(gen["actions"])), False))
        s, a, s_next = (gen[k][pick] for k in ("observations", "actions", "next_observations"))
        oracle = PhysicsOracle(env)
        try:
            err = {k: round(float(np.median(oracle.check(s, np.clip(a * k, -1, 1), s_next).norm)), 4) for k in SCALES}
        finally:
            oracle.close()
        rows.append(
            {
                "id": out_id,
                "generated": action_stats(gen["actions"], gen["rewards"]),
                "parent": action_stats(orig, orig_r),
                "oracle": err,
            }
        )
    for r in rows:
        g, p = r["generated"], r["parent"]
        print(f"{r['id']} ({g['n']:,} generated, parent {p['n']:,})")
        print(f"  reward per step  generated {g['reward']:.3f}   parent {p['reward']:.3f}")
        print(f"  mean |a|   generated {g['mean_abs']:.3f}   parent {p['mean_abs']:.3f}")
        print(f"  at bounds  generated {g['at_bounds']:.3f}   parent {p['at_bounds']:.3f}")
        print(f"  std / dim  generated {g['std']}   parent {p['std']}")
        print("  oracle median error, actions x k: " + ", ".join(f"k={k:g}: {v:.4f}" for k, v in r["oracle"].items()))
    if args.json:
        print(json.dumps(rows))


if __name__ == "__main__":
    main()
