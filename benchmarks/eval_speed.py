"""Evaluation speed: the kit's evaluator (only unfinished episodes step) against lockstep stepping (every
environment steps until the last episode ends, as ``gymnasium.vector.SyncVectorEnv`` with autoreset does), same
policy, same seeds, in one run. Prints episodes/s of each, the speed-up, and whether the returns are identical.

    .venv/bin/python benchmarks/eval_speed.py [--run data/runs/td3bc-...] [--members 3] [--episodes 10] [--json]

Without ``--run`` it trains TD3+BC on hopper medium-replay for ``--steps`` updates first (a policy whose episodes
end at different steps: the case that matters; an untrained policy falls at once everywhere).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch


def lockstep(ev, actor) -> np.ndarray:
    """The evaluator as it was: every env steps (autoreset) until all episodes ended; returns per env."""
    import gymnasium as gym

    from stitchkit.env_pool import seeded_globals

    S, E = ev.n_members, ev.episodes
    envs = gym.vector.SyncVectorEnv(
        [lambda: gym.make(ev.spec) for _ in range(S * E)], autoreset_mode=gym.vector.AutoresetMode.NEXT_STEP
    )
    with seeded_globals(ev.seed):
        for i, env in enumerate(envs.envs):
            env.action_space.seed(ev.seed + i % E)
        obs, _ = envs.reset(seed=[ev.seed + i % E for i in range(S * E)])
    ret, active = np.zeros(S * E), np.ones(S * E, bool)
    while active.any():
        with torch.no_grad():
            x = torch.as_tensor(ev.normalizer.normalize(obs).reshape(S, E, -1)).float()
            actions = actor.act(x).reshape(S * E, -1).numpy()
        obs, rewards, term, trunc, _ = envs.step(actions)
        ret += rewards * active
        active &= ~(term | trunc)
    envs.close()
    return ret.reshape(S, E)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", help="a trained run folder (data/runs/...); default: train TD3+BC briefly")
    p.add_argument("--dataset", default="stitchkit/hopper/medium-replay-v0")
    p.add_argument("--steps", type=int, default=5000)
    p.add_argument("--members", type=int, default=3, help="seeds of the policy trained without --run")
    p.add_argument("--episodes", type=int, default=10)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    torch.set_num_threads(1)

    from stitchkit.data import registry
    from stitchkit.data.episodes import transitions
    from stitchkit.data.normalizers import ZScore
    from stitchkit.evaluate import Evaluator
    from stitchkit.train import load_algo, run

    run_dir = args.run or run("td3bc", args.dataset, seeds=args.members, profile="lab", steps=args.steps)["run_dir"]
    model = load_algo(run_dir)
    dataset, seeds = json.loads((Path(run_dir) / "run.json").read_text())[1:5:3]
    norm = ZScore.fit(transitions(registry.load_episodes(dataset, "lab"))["observations"])  # as train.run fits it
    ev = Evaluator(dataset, norm, len(seeds), args.episodes, seed=0)
    t0 = time.perf_counter()
    kit = ev(model.actor)
    t_kit = time.perf_counter() - t0
    t0 = time.perf_counter()
    old = lockstep(ev, model.actor)
    t_old = time.perf_counter() - t0
    n = len(seeds) * args.episodes
    line = {
        "dataset": dataset,
        "run": str(run_dir),
        "episodes": n,
        "episodes_per_s_kit": n / t_kit,
        "episodes_per_s_lockstep": n / t_old,
        "speedup": t_old / t_kit,
        "same_returns": bool(np.array_equal(kit["return"], old.mean(1))),
    }
    print(
        f"{n} episodes: kit {line['episodes_per_s_kit']:.2f}/s, lockstep {line['episodes_per_s_lockstep']:.2f}/s, "
        f"{line['speedup']:.2f}x; same returns: {line['same_returns']}"
    )
    if args.json:
        print(json.dumps(line))


if __name__ == "__main__":
    main()
