"""Updates per second of the SAC that records medium-replay (``stitchkit.data.sac``) beside stable-baselines3's, on
one thread, at rlkit's sizes (256-256, batch 256), on Hopper-v5's shapes; and the replay speed of a committed
recording (transitions per second), which is what a fresh clone pays to build medium-replay.

    OMP_NUM_THREADS=1 python benchmarks/sac_speed.py --updates 500
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch


def kit(updates: int) -> float:
    from stitchkit.data.sac import SAC

    agent = SAC(11, 3, -np.ones(3), np.ones(3), seed=0)
    g = torch.Generator().manual_seed(0)
    batch = [torch.randn(256, 11, generator=g), torch.rand(256, 3, generator=g) * 2 - 1, torch.randn(256, generator=g)]
    batch += [torch.randn(256, 11, generator=g), torch.zeros(256)]
    agent.update(*batch)
    t0 = time.perf_counter()
    for _ in range(updates):
        agent.update(*batch)
    return updates / (time.perf_counter() - t0)


def sb3(updates: int) -> float:
    import gymnasium as gym
    from stable_baselines3 import SAC

    model = SAC("MlpPolicy", gym.make("Hopper-v5"), learning_starts=300, verbose=0, seed=0)
    model.learn(400)  # fills the buffer past learning_starts
    t0 = time.perf_counter()
    model.train(gradient_steps=updates, batch_size=256)
    return updates / (time.perf_counter() - t0)


def replay_speed(env: str) -> float | None:
    from stitchkit.data import replay

    try:
        rec, _ = replay.published_recording(env)
    except FileNotFoundError:
        return None
    keep = list(range(min(300, len(rec["lengths"]))))
    t0 = time.perf_counter()
    episodes = replay._replay_arrays(env, rec, keep)
    return sum(len(e) for e in episodes) / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--updates", type=int, default=500)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"kit SAC: {kit(args.updates):.1f} updates/s")
    print(f"SB3 SAC: {sb3(args.updates):.1f} updates/s")
    for env in ("hopper", "walker2d", "halfcheetah"):
        speed = replay_speed(env)
        print(f"replay {env}: " + ("no published recording" if speed is None else f"{speed:,.0f} transitions/s"))


if __name__ == "__main__":
    main()
