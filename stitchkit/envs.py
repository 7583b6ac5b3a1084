"""The kit's environments, and how to rebuild a simulator state from a stored observation.

Every MuJoCo state in the kit's datasets is recoverable from its observation, which is what lets the kit check
stitches against the true simulator (:mod:`stitchkit.oracle`) and render them (:mod:`stitchkit.render`):

* hopper, halfcheetah, walker2d (Gymnasium v5, ``observation_structure``): ``qpos = [x, obs[:nq-1]]`` and
  ``qvel = obs[nq-1:]``. x is not observed: take the stored ``x_position`` when the dataset has it, else 0 (the
  dynamics do not depend on x, and a tracking camera hides it but for the floor texture).
* hopper and walker2d **clip** the observed velocities to [-10, 10]: a state with a clipped velocity cannot be
  rebuilt exactly, so the oracle reports such transitions separately (:func:`clipped`).
* the OGBench point maze observes ``qpos`` (x, y); its step zeroes the velocity, so ``qvel = 0`` is exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

VELOCITY_CLIP = 10.0


@dataclass(frozen=True)
class EnvInfo:
    name: str  # the kit's short name: hopper, pointmaze-medium, ...
    env_id: str  # what gym.make takes
    kind: str  # "locomotion" or "maze"
    clips_velocity: bool


ENVS = {
    "hopper": EnvInfo("hopper", "Hopper-v5", "locomotion", True),
    "halfcheetah": EnvInfo("halfcheetah", "HalfCheetah-v5", "locomotion", False),
    "walker2d": EnvInfo("walker2d", "Walker2d-v5", "locomotion", True),
    "pointmaze-medium": EnvInfo("pointmaze-medium", "pointmaze-medium-v0", "maze", False),
    "pointmaze-large": EnvInfo("pointmaze-large", "pointmaze-large-v0", "maze", False),
}


def env_info(name: str) -> EnvInfo:
    if name not in ENVS:
        raise ValueError(f"unknown environment {name!r}; accepted: {', '.join(ENVS)}")
    return ENVS[name]


def env_name_of(dataset_id: str) -> str:
    """``stitchkit/hopper/medium-v0`` -> ``hopper``."""
    parts = dataset_id.split("/")
    if len(parts) < 3 or parts[1] not in ENVS:
        raise ValueError(f"cannot tell the environment of dataset {dataset_id!r}; known: {', '.join(ENVS)}")
    return parts[1]


def make(name: str, **kwargs):
    """A fresh environment for the kit's short name (the maze without goal termination, as its data was made)."""
    import gymnasium as gym

    info = env_info(name)
    if info.kind == "maze":
        import ogbench  # noqa: F401

        kwargs.setdefault("terminate_at_goal", False)
    return gym.make(info.env_id, **kwargs)


def state_from_obs(name: str, obs: np.ndarray, x: np.ndarray | float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(qpos, qvel) batches rebuilt from observations of shape (..., obs_dim)."""
    obs = np.asarray(obs, np.float64)
    info = env_info(name)
    if info.kind == "maze":
        return obs[..., :2].copy(), np.zeros(obs.shape[:-1] + (2,))
    nq = {"hopper": 6, "halfcheetah": 9, "walker2d": 9}[name]
    xs = np.broadcast_to(np.asarray(0.0 if x is None else x, np.float64), obs.shape[:-1])[..., None]
    return np.concatenate([xs, obs[..., : nq - 1]], axis=-1), obs[..., nq - 1 :].copy()


DT = {"hopper": 0.008, "halfcheetah": 0.05, "walker2d": 0.008}  # seconds per env step (frame_skip x timestep)
X_VELOCITY_INDEX = {"hopper": 5, "halfcheetah": 8, "walker2d": 8}  # obs index of qvel[0], the forward speed


def terminated(name: str, obs: np.ndarray) -> np.ndarray:
    """Gymnasium v5's "unhealthy" termination for observations (..., obs_dim): hopper falls below 0.7 m or tilts
    past 0.2 rad (or any state leaves +-100), walker2d leaves 0.8-2.0 m height or 1 rad; halfcheetah and the maze
    (no goal termination in the kit's data) never terminate."""
    obs = np.asarray(obs)
    if name == "hopper":
        ok = (obs[..., 0] > 0.7) & (np.abs(obs[..., 1]) < 0.2) & (np.abs(obs[..., 1:]) < 100).all(-1)
    elif name == "walker2d":
        ok = (obs[..., 0] > 0.8) & (obs[..., 0] < 2.0) & (np.abs(obs[..., 1]) < 1.0)
    else:
        ok = np.ones(obs.shape[:-1], bool)
    return ~(ok & np.isfinite(obs).all(-1))


def clipped(name: str, obs: np.ndarray) -> np.ndarray:
    """True where an observation's velocity sits at the +-10 clip (hopper, walker2d): not exactly recoverable."""
    obs = np.asarray(obs)
    if not env_info(name).clips_velocity:
        return np.zeros(obs.shape[:-1], bool)
    _, qvel = state_from_obs(name, obs)
    return (np.abs(qvel) >= VELOCITY_CLIP - 1e-9).any(-1)
