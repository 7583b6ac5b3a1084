"""Evaluate S policies (one per seed) at once: S x E environments step side by side, the actor runs batched.

Deterministic actions, seeded resets (episode e of every member starts from seed + e, as CORL re-seeds with the
training seed), observations normalized exactly as in training. Reports per member: mean return, the score
(D4RL-style normalized return x 100 from the dataset's reference scores, or the success rate x 100 for mazes,
where returns of 1000-step episodes are not comparable across tasks) and the success rate where the env has one;
on the locomotion tasks also ``d4rl_score``, the return normalised with D4RL's published reference returns.
"""

from __future__ import annotations

import os

import numpy as np
import torch

from stitchkit.data.d4rl import d4rl_score
from stitchkit.data.normalizers import ZScore
from stitchkit.data.policies import LOCOMOTION_ENVS
from stitchkit.env_pool import batch_envs, make_envs, seeded_reset


def eval_env_spec(dataset_id: str):
    """The evaluation environment a dataset names (Minari's ``eval_env_spec``, else its ``env_spec``)."""
    import gymnasium as gym

    from stitchkit.data import registry

    meta = (
        registry.read_metadata(dataset_id)
        if dataset_id.startswith("stitchkit/")
        else registry.load_minari(dataset_id).storage.metadata
    )
    spec = meta.get("eval_env_spec") or meta["env_spec"]
    return gym.envs.registration.EnvSpec.from_json(spec), meta.get("ref_min_score"), meta.get("ref_max_score")


EVAL_WORKERS = "STITCHKIT_EVAL_WORKERS"  # environment variable: processes that step the envs (default 1: here)


def eval_workers() -> int:
    """Worker processes for stepping evaluation envs, from ``STITCHKIT_EVAL_WORKERS`` (default 1: none). Not part
    of a run's key: the split changes no result (tests/test_locomotion.py). Worth it where cores are spare (the GPU
    box: 16); on a laptop running two trainings it would only take their cores."""
    raw = os.environ.get(EVAL_WORKERS, "1")
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"{EVAL_WORKERS}={raw!r}: expected a whole number of worker processes, 1 or more")
    return value


class Evaluator:
    def __init__(
        self,
        dataset_id: str,
        normalizer: ZScore,
        n_members: int,
        episodes: int,
        seed: int = 0,
        device: str = "cpu",
        workers: int | None = None,
    ):
        self.spec, self.ref_min, self.ref_max = eval_env_spec(dataset_id)
        self.is_maze = "pointmaze" in self.spec.id
        self.normalizer, self.n_members, self.episodes, self.seed, self.device = (
            normalizer,
            n_members,
            episodes,
            seed,
            device,
        )
        self.workers = eval_workers() if workers is None else workers

    def __call__(self, actor: torch.nn.Module) -> dict[str, np.ndarray]:
        S, E = self.n_members, self.episodes
        envs = batch_envs(self.spec.to_json(), S * E, self.workers)  # made once per process, reused
        obs = envs.reset([self.seed + i % E for i in range(S * E)])  # episode e of every member: seed + e
        if hasattr(actor, "reset"):  # sequence policies (Decision Transformer) keep a history
            actor.reset()
        ret, success = np.zeros(S * E), np.zeros(S * E)
        active = np.ones(S * E, bool)
        while active.any():
            with torch.no_grad():  # one batched call for every member and episode (a finished one's row is ignored)
                x = torch.as_tensor(self.normalizer.normalize(obs).reshape(S, E, -1), device=self.device).float()
                actions = actor.act(x).reshape(S * E, -1).cpu().numpy()
            idx = np.flatnonzero(active)  # only unfinished episodes step: a fallen hopper costs nothing more
            obs[idx], rewards_idx, done, succ = envs.step(idx, actions[idx])
            rewards = np.zeros(S * E)
            rewards[idx] = rewards_idx
            success[idx] = np.maximum(success[idx], succ)
            active[idx] = ~done
            ret += rewards
            if hasattr(actor, "observe"):
                actor.observe(rewards)
        ret, success = ret.reshape(S, E), success.reshape(S, E)
        out = {"return": ret.mean(1), "success": success.mean(1) * 100}
        if self.is_maze:
            out["score"] = out["success"]
        elif self.ref_min is not None and self.ref_max is not None:
            out["score"] = 100 * (ret.mean(1) - self.ref_min) / (self.ref_max - self.ref_min)
        else:
            out["score"] = ret.mean(1)
        env = {v: k for k, v in LOCOMOTION_ENVS.items()}.get(self.spec.id)
        if env is not None:  # beside the kit's own score: D4RL's, approximate (v5 vs v2, other behaviour policies)
            out["d4rl_score"] = d4rl_score(env, ret.mean(1))
        return out


def goal_env_id(dataset_id: str) -> str:
    """OGBench's goal-conditioned environment of a maze dataset (``stitchkit/pointmaze-medium/...`` ->
    ``pointmaze-medium-v0``); an error for other datasets, which define no goals."""
    from stitchkit.data import registry

    keys = registry.dataset_keys(dataset_id)
    if "maze" not in keys:
        raise ValueError(
            f"goal-conditioned learners train on maze datasets (stitchkit/pointmaze-*/...), not {dataset_id}"
        )
    return f"{keys[3]}-v0"


def _goal_envs(env_id: str, horizon: int, n: int) -> list:
    """``n`` of OGBench's ``env_id`` with episodes cut at ``horizon``, from the process's env pool (a maze env takes
    ~0.1 s to build)."""
    import dataclasses

    import gymnasium as gym
    import ogbench  # noqa: F401  (registers the mazes)

    return make_envs(dataclasses.replace(gym.spec(env_id), max_episode_steps=horizon).to_json(), n)


def control_tasks(env_id: str, n: int = 5, low: int = 2, high: int = 4, seed: int = 0) -> list[dict]:
    """``n`` short tasks (start and goal ``low``-``high`` BFS cells apart, fixed by ``seed``): what a policy that
    only learned the data's own 4-cell trips can still do. The long evaluation tasks need stitching."""
    from stitchkit.data.maze import bfs_distances

    u = _goal_envs(env_id, 1, 1)[0].unwrapped
    rng = np.random.default_rng(seed)
    free = [tuple(int(v) for v in c) for c in np.argwhere(u.maze_map == 0)]
    out = []
    while len(out) < n:
        start = free[rng.integers(len(free))]
        dist = bfs_distances(u.maze_map, start)
        ring = [c for c in free if low <= dist[c] <= high]
        if ring:
            out.append({"init_ij": start, "goal_ij": ring[rng.integers(len(ring))]})
    return out


def goal_tasks(env_id: str, control: int = 5) -> list[dict]:
    """Every task a :class:`GoalEvaluator` runs, for drawing: name, start and goal (x, y) of OGBench's five long
    tasks, then of the ``control`` short ones, and their BFS length in cells."""
    from stitchkit.data.maze import bfs_distances

    env = _goal_envs(env_id, 1, 1)[0]
    u = env.unwrapped
    options = [(f"task{t}", {"task_id": t}) for t in range(1, 6)]
    options += [(f"control{c}", {"task_info": info}) for c, info in enumerate(control_tasks(env_id, control))]
    out = []
    for name, opt in options:
        ob, info = seeded_reset(env, 0, opt)
        start, goal = u.xy_to_ij(ob[:2]), u.xy_to_ij(info["goal"][:2])
        cells = int(bfs_distances(u.maze_map, tuple(int(v) for v in start))[tuple(int(v) for v in goal)])
        out.append({"name": name, "start": ob[:2].copy(), "goal": np.asarray(info["goal"][:2]), "cells": cells})
    return out


class GoalEvaluator:
    """Goal-conditioned evaluation on OGBench's own tasks: S members x tasks x episodes in lockstep, one batched
    policy call per step. Long tasks are OGBench's five evaluation tasks (``reset(options=dict(task_id=i))``, the
    goal from ``info["goal"]``, success from the env's ``info["success"]``); control tasks are short trips
    (:func:`control_tasks`). Reports per member: success on the long tasks (``score``, x 100), per task, and on
    the control tasks, and the mean return (-1 per step until success, OGBench's goal-conditioned reward)."""

    def __init__(
        self,
        env_id: str,
        normalizer: ZScore,
        n_members: int,
        episodes: int,
        horizon: int = 1000,
        seed: int = 0,
        device: str = "cpu",
        control: int = 5,
        control_episodes: int = 2,
        long_tasks: tuple[int, ...] = (1, 2, 3, 4, 5),
    ):
        self.env_id, self.normalizer, self.n_members, self.horizon = env_id, normalizer, n_members, horizon
        self.seed, self.device = seed, device
        self.runs = [(f"task{t}", {"task_id": t}, e) for t in long_tasks for e in range(episodes)]
        self.runs += [
            (f"control{c}", {"task_info": info}, e)
            for c, info in enumerate(control_tasks(env_id, control))
            for e in range(control_episodes)
        ]

    def __call__(self, actor: torch.nn.Module) -> dict[str, np.ndarray]:
        success, ret, _, _ = self._episodes(actor, record=False)
        S, R = self.n_members, len(self.runs)
        quick = (success & (1 - ret <= self.horizon // 2)).reshape(S, R) * 100  # steps taken = 1 - return
        success, ret = success.reshape(S, R) * 100, ret.reshape(S, R)
        names = [name for name, _, _ in self.runs]
        out: dict[str, np.ndarray] = {}
        for name in dict.fromkeys(names):
            out[name] = success[:, [j for j, n in enumerate(names) if n == name]].mean(1)
        long = [j for j, n in enumerate(names) if n.startswith("task")]
        short = [j for j, n in enumerate(names) if n.startswith("control")]
        out["success"] = out["score"] = success[:, long].mean(1)
        out[f"score_{self.horizon // 2}"] = quick[:, long].mean(1)  # OGBench's horizon is 1000; this is 500
        out["control"] = success[:, short].mean(1) if short else np.zeros(S)
        out["return"] = ret[:, long].mean(1)
        return out

    def rollouts(self, actor: torch.nn.Module) -> dict[str, list]:
        """The episodes themselves, for drawing: per member, per run, the observations (T+1, d), the goal and
        whether it succeeded (runs in the order of ``self.runs``: each long task's episodes, then the controls)."""
        success, _, goals, paths = self._episodes(actor, record=True)
        S, R = self.n_members, len(self.runs)
        return {
            "runs": [name for name, _, _ in self.runs],
            "paths": [[paths[m * R + r] for r in range(R)] for m in range(S)],
            "goals": [[goals[m * R + r] for r in range(R)] for m in range(S)],
            "success": success.reshape(S, R).astype(bool),
        }

    def _episodes(self, actor: torch.nn.Module, record: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, list]:
        """All S x R episodes in lockstep: success and return per episode, the goals, and (``record``) the paths."""
        S, R = self.n_members, len(self.runs)
        envs = _goal_envs(self.env_id, self.horizon, S * R)
        obs, goals = [], []
        for i, env in enumerate(envs):
            _, options, e = self.runs[i % R]
            ob, info = seeded_reset(env, self.seed + 1000 * (i // R) + e, options)
            obs.append(ob)
            goals.append(info["goal"])
        obs, goals = np.asarray(obs), np.asarray(goals)
        paths = [[o] for o in obs] if record else []
        goal_x = torch.as_tensor(self.normalizer.normalize(goals).reshape(S, R, -1), device=self.device).float()
        success, ret = np.zeros(S * R, bool), np.zeros(S * R)
        active = np.ones(S * R, bool)
        while active.any():
            with torch.no_grad():
                x = torch.as_tensor(self.normalizer.normalize(obs).reshape(S, R, -1), device=self.device).float()
                actions = actor.act(x, goal_x).reshape(S * R, -1).cpu().numpy()
            for i in np.flatnonzero(active):
                ob, _, term, trunc, info = envs[i].step(actions[i])
                obs[i] = ob
                if record:
                    paths[i].append(ob)
                ret[i] -= 1.0
                if info.get("success"):
                    success[i], ret[i] = True, ret[i] + 1.0
                if term or trunc or info.get("success"):
                    active[i] = False
        return success, ret, goals, [np.asarray(p) for p in paths]
