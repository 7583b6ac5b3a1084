"""Environments made once per process and stepped as one batch, here or split over worker processes.

Why: an evaluation steps S seeds x E episodes of a task side by side with one batched policy call per step
(:mod:`stitchkit.evaluate`). Two costs are not the policy's:

* **Building an env** costs ~10 ms (MuJoCo parses its XML), more than a short episode's stepping, so envs are made
  once per process and reused (:func:`make_envs`).
* **Stepping** is Python-bound, one env after the other. On a machine with spare cores (the GPU box has 16)
  :class:`WorkerEnvs` splits the envs over worker processes that step their shares at the same time, while the
  policy runs once for all of them in the parent.

Either way an episode depends on its own seed only: every env is reset under its own seeded global generator
(OGBench's maze draws its start from ``np.random``), so how the envs are split changes no result (test).
"""

from __future__ import annotations

import atexit
import contextlib
import multiprocessing as mp
from collections.abc import Iterator
from typing import Any

import numpy as np

_POOL: dict[str, list] = {}  # spec (JSON) -> envs made in this process


@contextlib.contextmanager
def seeded_globals(seed: int) -> Iterator[None]:
    """Seed numpy's global generator for the span of an env reset, then put its state back. OGBench's maze draws
    its start and goal noise from the *global* ``np.random`` and settles the agent with ``action_space.sample()``
    (seed those spaces inside), neither of which ``reset(seed=...)`` seeds: without this a reused env's reset, and
    so an evaluation, depends on what ran before."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def make_envs(spec: str, n: int) -> list:
    """``n`` environments of ``spec`` (an ``EnvSpec`` as JSON) from this process's pool, made on first use. A
    seeded reset re-initialises a MuJoCo env fully (its generator and simulator state), so a reused env gives the
    episode a fresh one gives (test)."""
    import gymnasium as gym

    pool = _POOL.setdefault(spec, [])
    if len(pool) < n:
        env_spec = gym.envs.registration.EnvSpec.from_json(spec)
        if "maze" in env_spec.id:
            import ogbench  # noqa: F401  (registers the mazes)
        while len(pool) < n:
            pool.append(gym.make(env_spec))
    return pool[:n]


def seeded_reset(env, seed: int, options: dict | None = None) -> tuple:
    """``env.reset`` that depends on ``seed`` only, not on the env's or the process's history: the action space and
    the global generator (see :func:`seeded_globals`) seeded alike."""
    with seeded_globals(seed):
        env.action_space.seed(seed)
        return env.reset(seed=seed, options=options)


class LocalEnvs:
    """``n`` envs of one spec, stepped one after the other in this process."""

    def __init__(self, spec: str, n: int):
        self.envs = make_envs(spec, n)

    def reset(self, seeds: list[int]) -> np.ndarray:
        """Env i starts episode ``seeds[i]`` (its action space and the global generator seeded alike)."""
        return np.stack([seeded_reset(env, seed)[0] for env, seed in zip(self.envs, seeds, strict=True)])

    def step(self, idx: np.ndarray, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Step envs ``idx`` (ascending, not empty) with ``actions`` (one row each): their observations, rewards,
        whether the episode ended, and ``info["success"]`` (0 where the env reports none)."""
        k = len(idx)
        obs, rew, done, success = [], np.zeros(k), np.zeros(k, bool), np.zeros(k)
        for j, i in enumerate(idx):
            o, rew[j], term, trunc, info = self.envs[i].step(actions[j])
            obs.append(o)
            done[j], success[j] = term or trunc, float(info.get("success", 0.0))
        return np.stack(obs), rew, done, success


def _serve(conn) -> None:
    """A worker process: answers ``(method, spec, n, args)`` with ``LocalEnvs(spec, n).method(*args)``."""
    while True:
        msg = conn.recv()
        if msg is None:
            return
        method, spec, n, args = msg
        try:
            conn.send(("ok", getattr(LocalEnvs(spec, n), method)(*args)))
        except Exception as err:  # reported in the parent, with the worker's message
            conn.send(("error", f"{type(err).__name__}: {err}"))


_WORKERS: list[tuple[Any, Any]] = []  # (process, connection), started once per process and reused


def _workers(n: int) -> list:
    ctx = mp.get_context("spawn")  # no fork: the parent may hold CUDA or OpenMP state a forked child cannot use
    while len(_WORKERS) < n:
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_serve, args=(child,), daemon=True, name=f"stitchkit-envs-{len(_WORKERS)}")
        proc.start()
        child.close()
        _WORKERS.append((proc, parent))
    return [conn for _, conn in _WORKERS[:n]]


@atexit.register
def close_workers() -> None:
    """Stop the worker processes (at exit, or to free their cores)."""
    while _WORKERS:
        proc, conn = _WORKERS.pop()
        with contextlib.suppress(OSError, BrokenPipeError):
            conn.send(None)
        proc.join(timeout=5)
        if proc.is_alive():
            proc.terminate()


class WorkerEnvs:
    """The same ``n`` envs split in contiguous shares over ``workers`` processes, which step side by side. Same
    interface and, env by env, the same episodes as :class:`LocalEnvs` (test)."""

    def __init__(self, spec: str, n: int, workers: int):
        self.spec, self.bounds = spec, np.linspace(0, n, min(workers, n) + 1).astype(int)
        self.conns = _workers(len(self.bounds) - 1)

    def _call(self, method: str, jobs: dict[int, tuple]) -> list:
        """Send share k its ``jobs[k]`` arguments, all shares first, then collect: the workers run at once."""
        for k, args in jobs.items():
            lo, hi = self.bounds[k], self.bounds[k + 1]
            self.conns[k].send((method, self.spec, hi - lo, args))
        out = []
        for k in jobs:
            status, value = self.conns[k].recv()
            if status != "ok":
                raise RuntimeError(f"environment worker {k} failed in {method}: {value}")
            out.append(value)
        return out

    def reset(self, seeds: list[int]) -> np.ndarray:
        shares = range(len(self.conns))
        return np.concatenate(
            self._call("reset", {k: (list(seeds[self.bounds[k] : self.bounds[k + 1]]),) for k in shares})
        )

    def step(self, idx: np.ndarray, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        jobs = {}
        for k in range(len(self.conns)):  # only shares with an unfinished episode are asked
            sel = (idx >= self.bounds[k]) & (idx < self.bounds[k + 1])
            if sel.any():
                jobs[k] = (idx[sel] - self.bounds[k], actions[sel])
        parts = self._call("step", jobs)
        return tuple(np.concatenate([p[f] for p in parts]) for f in range(4))  # type: ignore[return-value]


def batch_envs(spec: str, n: int, workers: int = 1) -> LocalEnvs | WorkerEnvs:
    """``n`` envs of ``spec``: in this process (``workers`` <= 1) or split over ``workers`` processes."""
    return LocalEnvs(spec, n) if workers <= 1 else WorkerEnvs(spec, n, workers)


__all__ = ["LocalEnvs", "WorkerEnvs", "batch_envs", "close_workers", "make_envs", "seeded_globals", "seeded_reset"]
