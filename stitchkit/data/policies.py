"""Behaviour policies for the D4RL-style locomotion datasets: tanh-Gaussian actors, trained once, committed small.

D4RL and Minari collected their MuJoCo data with SAC agents, sampling actions stochastically from the
tanh-Gaussian. The kit trains sb3-contrib's TQC (the default: it reaches D4RL's expert returns in fewer steps, which
a CPU budget needs) or stable-baselines3's SAC (:func:`train_policy`, an optional extra; resumable) and keeps only
the actor of each checkpoint, in float16, under ``data/policies/<env>/``; a ``manifest.json`` beside them records
the algorithm, the steps and the measured return of every checkpoint. Building a dataset needs nothing but torch:
:class:`SquashedGaussianActor` reproduces the actor (TQC's and SAC's are the same network) from those weights.
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from stitchkit.files import atomic_torch_save, atomic_write_bytes, atomic_write_json
from stitchkit.paths import policies_dir

#: the three D4RL locomotion tasks, as Gymnasium v5 ids
LOCOMOTION_ENVS = {"hopper": "Hopper-v5", "halfcheetah": "HalfCheetah-v5", "walker2d": "Walker2d-v5"}
LOG_STD_MIN, LOG_STD_MAX = -20.0, 2.0  # SB3's clamp
MEDIUM_FRACTION = 1 / 3  # D4RL: the medium policy reaches about a third of the expert's return


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
    mean_return: float  # stochastic actions, as the datasets are collected (a few episodes, during training)
    path: Path
    return_100: float | None = None  # the 100-episode mean, measured for the expert candidates when published
    std_return: float = 0.0  # the spread of those few training-time episodes


def pick_checkpoints(ckpts: list[Checkpoint]) -> dict[str, Checkpoint]:
    """random = the first checkpoint, expert = the best, medium = the one before it nearest
    ``MEDIUM_FRACTION`` of the way from random to expert.

    The best is judged on 100 episodes where checkpoints have them (:func:`publish_policies` measures its
    candidates): a 5-episode score during training is noisy enough to crown a lucky checkpoint."""
    measured = [c for c in ckpts if c.return_100 is not None]
    if measured:
        expert = max(measured, key=lambda c: (c.return_100, c.step))
        top = expert.return_100
    else:
        expert = max(ckpts, key=lambda c: (c.mean_return, c.step))
        top = expert.mean_return
    base = ckpts[0].mean_return  # the random actor's return: fractions are of the improvement over it
    target = base + MEDIUM_FRACTION * (top - base)
    medium = min((c for c in ckpts if c.step <= expert.step), key=lambda c: abs(c.mean_return - target))
    return {"random": ckpts[0], "medium": medium, "expert": expert}


def manifest_path(env: str, root: Path | None = None, name: str | None = None) -> Path:
    return (root or policies_dir()) / (name or env) / "manifest.json"


def list_checkpoints(env: str, root: Path | None = None, name: str | None = None) -> list[Checkpoint]:
    """The checkpoints of ``env`` in training order: the committed ones, or a training run's (``root``/``name``)."""
    path = manifest_path(env, root, name)
    if not path.exists():
        raise FileNotFoundError(
            f"no behaviour policies for {env!r} under {path.parent}; train them with "
            f"`stitchkit data train-policy {env}` (needs the 'policies' extra)"
        )
    meta = json.loads(path.read_text())
    return [
        Checkpoint(
            env, c["step"], c["mean_return"], path.parent / c["file"], c.get("return_100"), c.get("std_return", 0.0)
        )
        for c in meta["checkpoints"]
    ]


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


#: behaviour-policy learners: SB3's SAC, and sb3-contrib's TQC (truncated quantile critics), which reaches
#: higher MuJoCo returns in the same steps (RL Zoo: Hopper 3.7k vs 2.6k, HalfCheetah 12k vs 9.5k at 1M steps)
POLICY_ALGOS = ("tqc", "sac")


def run_dir(env: str, algo: str, seed: int) -> Path:
    """Where a behaviour-policy run keeps its full state and every exported actor (git-ignored, under data/)."""
    from stitchkit.paths import data_dir

    return data_dir() / "checkpoints" / "policies" / f"{env}-{algo}-s{seed}"


#: per-environment settings of new runs, from the TQC paper (Kuznetsov et al. 2020, its table of dropped quantiles
#: per network: Hopper 5, HalfCheetah 0, Walker2d 2; sb3-contrib's default is 2). A run keeps the settings it started
#: with (they are saved in its model); the kit's first TQC runs (seed 0) started with the default 2 everywhere.
TQC_SETTINGS = {
    "hopper": {"top_quantiles_to_drop_per_net": 5},
    "halfcheetah": {"top_quantiles_to_drop_per_net": 0},
    "walker2d": {"top_quantiles_to_drop_per_net": 2},
}


def _learner(algo: str):
    if algo == "sac":
        from stable_baselines3 import SAC

        return SAC
    if algo == "tqc":
        from sb3_contrib import TQC

        return TQC
    raise ValueError(f"unknown behaviour-policy algorithm {algo!r}; accepted: {', '.join(POLICY_ALGOS)}")


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("stable-baselines3", "sb3-contrib", "gymnasium", "mujoco", "torch"):
        with contextlib.suppress(PackageNotFoundError):
            out[pkg] = version(pkg)
    return out


def train_policy(
    env: str,
    total_steps: int,
    algo: str = "tqc",
    seed: int = 0,
    checkpoint_every: int = 10_000,
    eval_episodes: int = 5,
    learning_starts: int = 10_000,
    threads: int = 1,
    log=print,
) -> list[Checkpoint]:
    """Train a behaviour policy with SB3 defaults (``learning_starts=10_000`` as Minari), exporting the actor every
    ``checkpoint_every`` steps (step 0, the random initial policy, included) into :func:`run_dir`.

    Why resumable: a 1M-step run takes hours on a laptop core. At every checkpoint the whole SB3 model and its
    replay buffer are written to a fresh ``state-<step>/`` folder and only then named in ``latest.json`` (an
    atomic rename), so a run killed at any moment loses at most one checkpoint interval; rerunning the same
    command continues from there. An uninterrupted run is deterministic for a seed on one machine; a resumed one
    continues the same training but not bit for bit (SB3 does not save every random state). Publish the actors
    the datasets need with :func:`publish_policies`."""
    import shutil

    import gymnasium as gym
    from stable_baselines3.common.callbacks import BaseCallback

    if env not in LOCOMOTION_ENVS:
        raise ValueError(f"unknown locomotion env {env!r}; accepted: {', '.join(LOCOMOTION_ENVS)}")
    learner = _learner(algo)
    torch.set_num_threads(threads)
    env_id = LOCOMOTION_ENVS[env]
    out = run_dir(env, algo, seed)
    out.mkdir(parents=True, exist_ok=True)
    latest = out / "latest.json"
    meta = {
        "env": env,
        "env_id": env_id,
        "algorithm": f"{algo.upper()} ({'sb3-contrib' if algo == 'tqc' else 'stable-baselines3'} defaults)",
        "seed": seed,
        "total_steps": total_steps,
        "checkpoint_every": checkpoint_every,
        "eval_episodes": eval_episodes,
        "versions": _versions(),
        "checkpoints": [],
    }
    wall = 0.0
    if latest.exists():
        state = out / json.loads(latest.read_text())["state"]
        model = learner.load(state / "model.zip", env=gym.make(env_id))
        model.load_replay_buffer(state / "buffer.pkl")
        old = json.loads((out / "manifest.json").read_text())
        meta["checkpoints"] = [c for c in old["checkpoints"] if c["step"] <= model.num_timesteps]
        if "settings" in old:  # what the run started with (its model keeps them)
            meta["settings"] = old["settings"]
        wall = meta["checkpoints"][-1].get("wall_s", 0.0) if meta["checkpoints"] else 0.0
        log(f"{env}: resuming {algo} at step {model.num_timesteps}")
    else:
        torch.manual_seed(seed)
        settings = TQC_SETTINGS[env] if algo == "tqc" else {}
        meta["settings"] = settings
        model = learner(
            "MlpPolicy",
            gym.make(env_id),
            seed=seed,
            learning_starts=min(learning_starts, total_steps // 2),
            verbose=0,
            **settings,
        )
    t0 = time.time() - wall

    def save(step: int) -> None:
        file = f"actor_{step:07d}.pt"
        export_actor(model, out / file)
        ret = evaluate_actor(load_actor(Checkpoint(env, step, 0.0, out / file)), env_id, eval_episodes, seed=1000)
        state = out / f"state-{step:07d}"
        shutil.rmtree(state, ignore_errors=True)
        state.mkdir()
        model.save(state / "model.zip")
        model.save_replay_buffer(state / "buffer.pkl")
        entry = {"step": step, "file": file, "mean_return": float(ret.mean()), "std_return": float(ret.std())}
        meta["checkpoints"] = [c for c in meta["checkpoints"] if c["step"] != step] + [
            {**entry, "wall_s": round(time.time() - t0, 1)}
        ]
        if (out / "manifest.json").exists():  # keep what measure_candidates recorded meanwhile (100-episode returns)
            measured = {c["step"]: c for c in json.loads((out / "manifest.json").read_text())["checkpoints"]}
            for c in meta["checkpoints"]:
                c.update({k: v for k, v in measured.get(c["step"], {}).items() if k in ("return_100", "std_100")})
        atomic_write_json(out / "manifest.json", meta)
        atomic_write_json(latest, {"state": state.name, "step": step})  # the commit point of this checkpoint
        for old in out.glob("state-*"):
            if old != state:
                shutil.rmtree(old, ignore_errors=True)
        log(f"{env} {algo} step {step:>7}: return {ret.mean():8.1f} ± {ret.std():6.1f}  ({time.time() - t0:6.0f} s)")

    class Every(BaseCallback):
        def _on_step(self) -> bool:
            if self.num_timesteps % checkpoint_every == 0:
                save(self.num_timesteps)
            return True

    if not latest.exists():
        save(0)
    remaining = total_steps - model.num_timesteps
    if remaining > 0:
        model.learn(total_timesteps=remaining, callback=Every(), reset_num_timesteps=False)
    return list_checkpoints(env, root=out.parent, name=out.name)


def run_status(env: str, algo: str = "tqc", seed: int = 0) -> dict:
    """Where a behaviour-policy run stands, from its manifest alone (no training, no evaluation): its last step,
    wall time, last and best training-time returns, and the 100-episode returns measured so far."""
    src = run_dir(env, algo, seed)
    if not (src / "manifest.json").exists():
        return {"env": env, "run": src.name, "started": False}
    meta = json.loads((src / "manifest.json").read_text())
    cks = meta["checkpoints"]
    best = max(cks, key=lambda c: c["mean_return"])
    return {
        "env": env,
        "run": src.name,
        "started": True,
        "step": cks[-1]["step"],
        "total_steps": meta["total_steps"],
        "wall_hours": round(cks[-1].get("wall_s", 0.0) / 3600, 2),
        "last_return": round(cks[-1]["mean_return"], 1),
        "best_return": round(best["mean_return"], 1),
        "best_step": best["step"],
        "return_100": {c["step"]: round(c["return_100"], 1) for c in cks if "return_100" in c},
    }


#: expert candidates: checkpoints whose training-time score may be the best, each then measured on 100 episodes
EXPERT_CANDIDATES, EXPERT_EPISODES = 12, 100
NEAR_BEST = 0.05  # a candidate's training score within 5% of the best


def expert_candidates(ckpts: list[Checkpoint], most: int = EXPERT_CANDIDATES) -> list[Checkpoint]:
    """The checkpoints whose training-time score plus one standard deviation reaches the best score, or that score
    within ``NEAR_BEST`` of it, best first, at most ``most``.

    Why not simply the top few: five episodes are a noisy score. TQC's hopper scored 2,370 ± 1,008 at 320k steps
    during training, below five other checkpoints, and 3,078 on 100 episodes, the best of the run. And why the
    second rule: a steady checkpoint just below the best has a small spread. TQC's walker2d scored 3,871 ± 49 at 550k
    (the best: 4,001 ± 25 at 510k) and 3,879 on 100 episodes, where 510k scored 3,557."""
    best = max(c.mean_return for c in ckpts)
    near = [c for c in ckpts if c.mean_return + c.std_return >= best or c.mean_return >= best - NEAR_BEST * abs(best)]
    return sorted(near, key=lambda c: (c.mean_return, c.step), reverse=True)[:most]


def measure_candidates(
    env: str, algo: str = "tqc", seed: int = 0, episodes: int = EXPERT_EPISODES, log=print
) -> list[Checkpoint]:
    """Measure a run's :func:`expert_candidates` on ``EXPERT_EPISODES`` episodes (stochastic actions, evaluation
    seed 2000) and record ``return_100`` in the run's manifest; returns every measured checkpoint, best first."""
    src = run_dir(env, algo, seed)
    meta = json.loads((src / "manifest.json").read_text())
    ckpts = list_checkpoints(env, root=src.parent, name=src.name)
    for c in expert_candidates(ckpts):
        if c.return_100 is None:
            ret = evaluate_actor(load_actor(c), LOCOMOTION_ENVS[env], episodes, seed=2000)
            entry = next(e for e in meta["checkpoints"] if e["step"] == c.step)
            entry["return_100"], entry["std_100"] = float(ret.mean()), float(ret.std())
            log(f"{env} step {c.step}: {episodes}-episode return {ret.mean():.1f} ± {ret.std():.1f}")
            atomic_write_json(src / "manifest.json", meta)  # each as it comes: a stopped publish keeps what it measured
    measured = [c for c in list_checkpoints(env, root=src.parent, name=src.name) if c.return_100 is not None]
    return sorted(measured, key=lambda c: c.return_100, reverse=True)


def publish_policies(
    env: str,
    algo: str = "tqc",
    seed: int = 0,
    every: int = 100_000,
    root: Path | None = None,
    episodes: int = EXPERT_EPISODES,
    log=print,
) -> list[Checkpoint]:
    """Copy the actors the datasets need from a training run into ``data/policies/<env>/`` (committed).

    The expert is the best of the top checkpoints measured on 100 episodes (:func:`measure_candidates`). Kept:
    every exported checkpoint up to the medium one (medium-replay rolls them all out), then one every ``every``
    steps, and the expert; about 20-40 files of 150 KB, so the committed folder stays small."""
    measure_candidates(env, algo, seed, episodes, log)
    src = run_dir(env, algo, seed)
    ckpts = list_checkpoints(env, root=src.parent, name=src.name)
    chosen = pick_checkpoints(ckpts)
    keep = [c for c in ckpts if c.step <= chosen["medium"].step or c.step % every == 0 or c == chosen["expert"]]
    meta = json.loads((src / "manifest.json").read_text())
    kept = {c.step for c in keep}
    meta["checkpoints"] = [c for c in meta["checkpoints"] if c["step"] in kept]
    meta["published_from"] = src.name
    dst = (root or policies_dir()) / env
    dst.mkdir(parents=True, exist_ok=True)
    for old in dst.glob("actor_*.pt"):
        old.unlink()
    for c in keep:
        atomic_write_bytes(dst / c.path.name, c.path.read_bytes())
    atomic_write_json(dst / "manifest.json", meta)
    return list_checkpoints(env, root)
