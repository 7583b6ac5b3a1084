"""Rendering speed: 100 hopper frames at 240x240 through mujoco.Renderer (issue goal: under 10 s on 2 cores)."""

from __future__ import annotations

import argparse
import json
import time

import gymnasium as gym
import numpy as np

import stitchkit  # noqa: F401  (chooses MUJOCO_GL)
from stitchkit.render import clear_cache, render_frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--size", type=int, default=240)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    env = gym.make("Hopper-v5")
    env.action_space.seed(0)
    ob, _ = env.reset(seed=0)
    obs = [ob]
    while len(obs) < args.frames:
        ob, _, term, trunc, _ = env.step(env.action_space.sample())
        obs.append(ob if not (term or trunc) else env.reset(seed=len(obs))[0])
    obs = np.array(obs)
    rows = {}
    for name, states in (
        ("hopper", obs),
        ("pointmaze-medium", np.c_[np.linspace(0, 20, args.frames), np.zeros(args.frames)]),
    ):
        clear_cache()
        t0 = time.perf_counter()
        render_frames(name, states, width=args.size, height=args.size)
        first = time.perf_counter() - t0
        t0 = time.perf_counter()
        render_frames(name, states, width=args.size, height=args.size)
        rows[name] = {
            "seconds": round(first, 3),
            "frames_per_s": round(args.frames / first, 1),
            "cached_seconds": round(time.perf_counter() - t0, 5),
        }
    print(f"{'env':<18}{'frames':>8}{'size':>8}{'seconds':>10}{'frames/s':>10}{'cached s':>10}")
    for name, r in rows.items():
        print(
            f"{name:<18}{args.frames:>8}{args.size:>8}{r['seconds']:>10.2f}{r['frames_per_s']:>10.1f}"
            f"{r['cached_seconds']:>10.4f}"
        )
    if args.json:
        print(json.dumps(rows))


if __name__ == "__main__":
    main()
