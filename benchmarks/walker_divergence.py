"""Why TD3+BC's critic diverged on the kit's earlier walker2d medium-replay (issue 43): TD3+BC trained on that data
and on the D4RL-recipe data at the same size (both `lab`, about 100k transitions), with the critic read every
``--every`` updates on a fixed sample of the data's own transitions:

- ``q_data``: mean Q(s, a) at the data's actions; ``q_policy``: mean Q(s, pi(s)) at the actor's;
- ``gap``: their difference (how far the critic values actions the data does not hold above those it does);
- ``q_max``: the largest Q(s, pi(s)) in the sample, against ``return_bound``, the largest discounted return any
  state of the data could have (max reward / (1 - gamma)) - a critic above it values something no policy can get;
- ``action_gap``: mean |pi(s) - a|, how far the actor has moved from the data's actions.

The earlier data are rebuilt exactly by the commit that made them (``--old-commit``, checked out in a git worktree
under /tmp and run in a subprocess); their fingerprint is checked against the closed campaign's ``data.json``.
Writes ``results/parity/divergence.json`` (merged, one entry per data and seed).

    .venv/bin/python benchmarks/walker_divergence.py --data old --steps 200000 [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "results" / "parity" / "divergence.json"
DATASET = "stitchkit/walker2d/medium-replay-v0"
OLD_COMMIT = "4da5042"  # the last commit before the D4RL recipe (b285e01) replaced the checkpoint rollouts

EXPORT = """
import sys, numpy as np
from stitchkit.data import registry
eps = registry.load_episodes(sys.argv[1], "lab", build_missing=True, log=lambda *_: None)
keys = ("observations", "actions", "rewards", "terminations", "truncations")
np.savez_compressed(sys.argv[2], lengths=np.array([len(e) for e in eps]),
    fingerprint=np.array(registry.fingerprint(sys.argv[1])),
    **{k: np.concatenate([getattr(e, k) for e in eps]) for k in keys})
"""


def old_episodes(commit: str):
    """The earlier walker data, built by the commit that made them, as the current kit's episodes."""
    from stitchkit.data.episodes import Episode

    tree, data = Path(f"/tmp/stitchkit-{commit}"), Path(f"/tmp/stitchkit-{commit}-data")
    if not tree.exists():
        subprocess.run(["git", "worktree", "add", "--detach", str(tree), commit], cwd=ROOT, check=True)
    npz = data / "walker2d-mr-lab.npz"
    if not npz.exists():
        data.mkdir(parents=True, exist_ok=True)
        env = os.environ | {
            "PYTHONPATH": str(tree),
            "STITCHKIT_DATA": str(data),
            "MINARI_DATASETS_PATH": str(data / "minari"),
        }
        subprocess.run([sys.executable, "-c", EXPORT, DATASET, str(npz)], cwd=tree, env=env, check=True)
    z = np.load(npz)
    fingerprint = str(z["fingerprint"])
    expected = json.loads((ROOT / "results" / "campaign" / "data.json").read_text())[DATASET]["fingerprint"]
    if fingerprint != expected:
        raise SystemExit(f"rebuilt data {fingerprint} is not the campaign's {expected}")
    ends = np.cumsum(z["lengths"])
    obs_ends = ends + np.arange(1, len(ends) + 1)  # each episode holds one more observation than actions
    out, o0, a0 = [], 0, 0
    for i, (n, oe) in enumerate(zip(z["lengths"], obs_ends)):
        out.append(
            Episode(
                z["observations"][o0:oe],
                z["actions"][a0 : a0 + n],
                z["rewards"][a0 : a0 + n],
                z["terminations"][a0 : a0 + n],
                z["truncations"][a0 : a0 + n],
                id=i,
            )
        )
        o0, a0 = oe, a0 + n
    return out, fingerprint


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", choices=("old", "new"), required=True)
    p.add_argument("--old-commit", default=OLD_COMMIT)
    p.add_argument("--steps", type=int, default=200_000)
    p.add_argument("--every", type=int, default=5_000)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    torch.set_num_threads(1)
    from stitchkit.algos.common import SeedBatchSampler
    from stitchkit.algos.td3bc import value_gap
    from stitchkit.data import registry
    from stitchkit.data.episodes import transitions
    from stitchkit.data.normalizers import ZScore
    from stitchkit.train import make_algo

    if args.data == "old":
        episodes, fingerprint = old_episodes(args.old_commit)
    else:
        episodes = registry.load_episodes(DATASET, "lab", build_missing=True, log=lambda *_: None)
        fingerprint = registry.fingerprint(DATASET)
    tr = transitions(episodes)
    norm = ZScore.fit(tr["observations"])
    obs_dim, act_dim = tr["observations"].shape[1], tr["actions"].shape[1]
    algo = make_algo("td3bc", obs_dim, act_dim, [args.seed], args.steps, dataset_id=DATASET, hidden=(256, 256))
    sampler = SeedBatchSampler(episodes, None, [args.seed], 1.0, norm)
    probe = SeedBatchSampler(episodes, None, [args.seed + 1000], 1.0, norm).sample(10_000)  # fixed, apart
    gamma = float(algo.discount)
    bound = float(tr["rewards"].max()) / (1 - gamma)
    rows, t0 = [], time.perf_counter()
    for step in range(1, args.steps + 1):
        losses = algo.update(sampler.sample(256), step - 1)
        if step % args.every == 0:
            gap = value_gap(algo, probe["observations"], probe["actions"])
            with torch.no_grad():
                pi = algo.actor(probe["observations"])
                q_max = float(torch.minimum(*algo.critic(probe["observations"], pi)).max())
            rows.append(
                {
                    "step": step,
                    "critic_loss": float(losses["critic_loss"].mean()),
                    **gap,
                    "q_max": q_max,
                    "action_gap": float((pi - probe["actions"]).abs().mean()),
                }
            )
            r = rows[-1]
            print(
                f"{args.data} s{args.seed} {step:>7}: critic {r['critic_loss']:10.2f}  Q(s,a) {r['q_data']:8.1f}  "
                f"Q(s,pi) {r['q_policy']:8.1f}  max {r['q_max']:9.1f} (bound {bound:.0f})  |pi-a| "
                f"{r['action_gap']:.3f}  {time.perf_counter() - t0:.0f} s",
                flush=True,
            )
    lengths = np.array([len(e) for e in episodes])
    entry = {
        "data": args.data,
        "fingerprint": fingerprint,
        "seed": args.seed,
        "episodes": len(episodes),
        "transitions": int(lengths.sum()),
        "median_length": float(np.median(lengths)),
        "terminal_share": float(tr["terminals"].mean()),
        "return_bound": bound,
        "steps": args.steps,
        "rows": rows,
        "seconds": round(time.perf_counter() - t0, 1),
        "machine": "cpu, one torch thread",
    }
    known = json.loads(OUT.read_text()) if OUT.exists() else {}
    known[f"{args.data}-s{args.seed}"] = entry
    tmp = OUT.with_suffix(".tmp")
    tmp.write_text(json.dumps(known, indent=1, sort_keys=True) + "\n")
    tmp.replace(OUT)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
