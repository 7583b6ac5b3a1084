"""Behaviour policies for the D4RL-style locomotion datasets: SAC actors, trained once, committed small.

D4RL and Minari collected their MuJoCo data with SAC agents, sampling actions stochastically from the
tanh-Gaussian. The kit trains SAC with stable-baselines3 (``train_sac``, an optional extra) and keeps only the
actor of each checkpoint, in float16, under ``data/policies/<env>/``; a ``manifest.json`` beside them records the
steps and the measured return of every checkpoint. Building a dataset needs nothing but torch:
:class:`SquashedGaussianActor` reproduces SB3's actor from those weights.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from stitchkit.files import atomic_torch_save, atomic_write_json
from stitchkit.paths import policies_dir

#: the three D4RL locomotion tasks, as Gymnasium v5 ids
LOCOMOTION_ENVS = {"hopper": "Hopper-v5", "halfcheetah": "HalfCheetah-v5", "walker2d": "Walker2d-v5"}
LOG_STD_MIN, LOG_STD_MAX = -20.0, 2.0  # SB3's clamp


class SquashedGaussianActor(nn.Module):
    """SAC's actor: a = tanh(mu + std * eps), rescaled to the action bounds. Parameter names match SB3's."""

    def __init__(self, obs_dim: int, act_dim: int, low: np.ndarray, high: np.ndarray, hidden: int = 256):
        super().__init__()
        self.latent_pi = nn.Sequential(nn.Linear(obs_dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU())
        self.mu = nn.Linear(hidden, act_dim)
        self.log_std = nn.Linear(hidden, act_dim)
        self.register_buffer("low", torch.as_tensor(low, dtype=torch.float32))
        self.register_buffer("high", torch.as_tensor(high, dtype=torch.float32))

    @torch.no_grad()
    def act(self, obs: np.ndarray, generator: torch.Generator | None, deterministic: bool = False) -> np.ndarray:
        """Actions for a batch of observations; stochastic (as the datasets were collected) unless told otherwise."""
        h = self.latent_pi(torch.as_tensor(obs, dtype=torch.float32))
        mu = self.mu(h)
        if not deterministic:
            std = self.log_std(h).clamp(LOG_STD_MIN, LOG_STD_MAX).exp()
            mu = mu + std * torch.randn(mu.shape, generator=generator)
        a = torch.tanh(mu)
        return (self.low + (a + 1.0) * 0.5 * (self.high - self.low)).numpy()


@dataclass(frozen=True)
class Checkpoint:
    env: str
    step: int
    mean_return: float  # stochastic actions, as the datasets are collected
    path: Path


def manifest_path(env: str, root: Path | None = None) -> Path:
    return (root or policies_dir()) / env / "manifest.json"


def list_checkpoints(env: str, root: Path | None = None) -> list[Checkpoint]:
    """The committed checkpoints of ``env`` in training order."""
    path = manifest_path(env, root)
    if not path.exists():
        raise FileNotFoundError(
            f"no behaviour policies for {env!r} under {path.parent}; train them with "
            f"`stitchkit data train-policy {env}` (needs the 'policies' extra)"
        )
    meta = json.loads(path.read_text())
    return [Checkpoint(env, c["step"], c["mean_return"], path.parent / c["file"]) for c in meta["checkpoints"]]


def load_actor(ckpt: Checkpoint) -> SquashedGaussianActor:
    blob = torch.load(ckpt.path, map_location="cpu", weights_only=True)
    actor = SquashedGaussianActor(blob["obs_dim"], blob["act_dim"], blob["low"].numpy(), blob["high"].numpy())
    actor.load_state_dict({k: v.float() for k, v in blob["state_dict"].items()}, strict=False)
    return actor.eval()


def evaluate_actor(
    actor: SquashedGaussianActor, env_id: str, episodes: int, seed: int, deterministic: bool = False
) -> np.ndarray:
    """Returns of ``episodes`` episodes, run side by side in a vector env."""
    import gymnasium as gym

    envs = gym.vector.SyncVectorEnv(
        [lambda: gym.make(env_id) for _ in range(episodes)], autoreset_mode=gym.vector.AutoresetMode.SAME_STEP
    )
    gen = torch.Generator().manual_seed(seed)
    obs, _ = envs.reset(seed=[seed + i for i in range(episodes)])
    returns, done = np.zeros(episodes), np.zeros(episodes, bool)
    while not done.all():
        obs, rew, term, trunc, _ = envs.step(actor.act(obs, gen, deterministic))
        returns += rew * ~done
        done |= term | trunc
    envs.close()
    return returns


def export_actor(model, path: Path) -> None:
    """Save an SB3 SAC model's actor alone, in float16 (a few hundred KB)."""
    space = model.action_space
    sd = {
        k: v.detach().to(torch.float16).cpu()
        for k, v in model.actor.state_dict().items()
        if k.startswith(("latent_pi.", "mu.", "log_std."))
    }
    blob = {
        "state_dict": sd,
        "obs_dim": model.observation_space.shape[0],
        "act_dim": space.shape[0],
        "low": torch.as_tensor(space.low),
        "high": torch.as_tensor(space.high),
    }
    atomic_torch_save(path, blob)


def train_sac(
    env: str,
    total_steps: int,
    seed: int = 0,
    checkpoint_every: int = 10_000,
    eval_episodes: int = 5,
    root: Path | None = None,
    log=print,
) -> list[Checkpoint]:
    """Train SAC (SB3 defaults, ``learning_starts=10_000`` as Minari) and export the actor every
    ``checkpoint_every`` steps, step 0 (the random initial policy) included.

    Long runs resume: beside each exported actor the full SB3 model and its replay buffer are saved under
    ``<data>/checkpoints/sac/<env>/`` (not committed), and a rerun continues from the last checkpoint. An
    uninterrupted run is deterministic for a seed on one machine; a resumed one continues the same training but
    not bit for bit (SB3 does not restore every random state)."""
    import gymnasium as gym
    from stable_baselines3 import SAC
    from stable_baselines3.common.callbacks import BaseCallback

    from stitchkit.paths import data_dir

    env_id = LOCOMOTION_ENVS[env]
    out = (root or policies_dir()) / env
    out.mkdir(parents=True, exist_ok=True)
    state = data_dir() / "checkpoints" / "sac" / env
    state.mkdir(parents=True, exist_ok=True)
    meta = {
        "env": env,
        "env_id": env_id,
        "algorithm": "SAC (stable-baselines3 defaults)",
        "seed": seed,
        "total_steps": total_steps,
        "checkpoint_every": checkpoint_every,
        "eval_episodes": eval_episodes,
        "checkpoints": [],
    }
    old = json.loads(manifest_path(env, root).read_text()) if manifest_path(env, root).exists() else None
    resume = old and old["seed"] == seed and (state / "model.zip").exists() and (state / "buffer.pkl").exists()
    torch.manual_seed(seed)
    if resume:
        model = SAC.load(state / "model.zip", env=gym.make(env_id))
        model.load_replay_buffer(state / "buffer.pkl")
        meta["checkpoints"] = [c for c in old["checkpoints"] if c["step"] <= model.num_timesteps]
        log(f"{env}: resuming at step {model.num_timesteps}")
    else:
        model = SAC("MlpPolicy", gym.make(env_id), seed=seed, learning_starts=min(10_000, total_steps // 2), verbose=0)
    t0 = time.time()

    def save(step: int) -> None:
        file = f"actor_{step:07d}.pt"
        export_actor(model, out / file)
        ret = evaluate_actor(load_actor(Checkpoint(env, step, 0.0, out / file)), env_id, eval_episodes, seed=1000)
        meta["checkpoints"].append(
            {"step": step, "file": file, "mean_return": float(ret.mean()), "std_return": float(ret.std())}
        )
        model.save(state / "model.tmp.zip")
        model.save_replay_buffer(state / "buffer.tmp.pkl")
        (state / "model.tmp.zip").replace(state / "model.zip")
        (state / "buffer.tmp.pkl").replace(state / "buffer.pkl")
        atomic_write_json(out / "manifest.json", meta)  # last: the manifest only names finished checkpoints
        log(f"{env} step {step:>7}: return {ret.mean():8.1f} ± {ret.std():6.1f}  ({time.time() - t0:6.0f} s)")

    class Every(BaseCallback):
        def _on_step(self) -> bool:
            if self.num_timesteps % checkpoint_every == 0:
                save(self.num_timesteps)
            return True

    if not resume:
        save(0)
    remaining = total_steps - model.num_timesteps
    if remaining > 0:
        model.learn(total_timesteps=remaining, callback=Every(), reset_num_timesteps=not resume)
    return list_checkpoints(env, root)
