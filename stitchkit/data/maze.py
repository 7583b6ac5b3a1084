"""Point-maze stitching data, generated with OGBench's ``stitch`` protocol on its own environments.

Each 200-step episode starts in a random free cell, near its centre, and a scripted noisy oracle drives to a
cell exactly 4 cells away (BFS distance) and stays there: action = unit vector toward the oracle subgoal (the
neighbouring cell one BFS step closer to the goal) + N(0, 0.5) noise, clipped to [-1, 1]. No episode is long
enough to cross the maze, so solving the evaluation task needs stitching. Rewards are labelled for OGBench's
single-task variant: reward = success - 1 and termination = success, with success = within 1.0 of the task goal,
judged on the state before the step (the singletask env's ``success_timing='pre'``). Episodes do not stop there.
"""

from __future__ import annotations

import functools
from collections import deque
from dataclasses import dataclass

import numpy as np

from stitchkit.data.episodes import Episode
from stitchkit.seeding import numpy_rng

MAZES = ("medium", "large")
EPISODE_LEN = 200  # OGBench stitch datasets
CELLS_APART = 4
ACTION_NOISE = 0.5
GOAL_TOL = 1.0  # OGBench's point-maze success radius
DEFAULT_TASK = 1  # OGBench's singletask default


def collection_env_id(maze: str) -> str:
    return f"pointmaze-{maze}-v0"


def eval_env_id(maze: str, task: int = DEFAULT_TASK) -> str:
    return f"pointmaze-{maze}-singletask-task{task}-v0"


def make_env(maze: str, **kwargs):
    import gymnasium as gym
    import ogbench  # noqa: F401  (registers the environments)

    if maze not in MAZES:
        raise ValueError(f"unknown maze {maze!r}; accepted: {', '.join(MAZES)}")
    return gym.make(collection_env_id(maze), terminate_at_goal=False, **kwargs)


def bfs_distances(maze_map: np.ndarray, goal_ij: tuple[int, int]) -> np.ndarray:
    """Cells-to-goal over free cells (-1 for walls and unreachable cells)."""
    dist = np.full(maze_map.shape, -1)
    dist[goal_ij] = 0
    queue = deque([goal_ij])
    while queue:
        i, j = queue.popleft()
        for di, dj in ((-1, 0), (0, -1), (1, 0), (0, 1)):
            n = (i + di, j + dj)
            if 0 <= n[0] < maze_map.shape[0] and 0 <= n[1] < maze_map.shape[1] and maze_map[n] == 0 and dist[n] == -1:
                dist[n] = dist[i, j] + 1
                queue.append(n)
    return dist


def oracle_subgoal_ij(dist: np.ndarray, start_ij: tuple[int, int]) -> tuple[int, int]:
    """The neighbour one BFS step closer to the goal (the start itself at the goal): OGBench's oracle, same
    neighbour order and strict comparison, but reading a precomputed distance map."""
    best = start_ij
    for di, dj in ((-1, 0), (0, -1), (1, 0), (0, 1)):
        n = (start_ij[0] + di, start_ij[1] + dj)
        if 0 <= n[0] < dist.shape[0] and 0 <= n[1] < dist.shape[1] and dist[n] >= 0 and dist[n] < dist[best]:
            best = n
    return best


@dataclass(frozen=True)
class TaskGoal:
    task: int
    init_xy: np.ndarray
    goal_xy: np.ndarray


def task_goal(maze: str, task: int = DEFAULT_TASK) -> TaskGoal:
    env = make_env(maze)
    info = env.unwrapped.task_infos[task - 1]
    env.close()
    return TaskGoal(task, np.asarray(info["init_xy"], float), np.asarray(info["goal_xy"], float))


def label_singletask(observations: np.ndarray, goal: TaskGoal) -> tuple[np.ndarray, np.ndarray]:
    """Rewards and terminations of OGBench's single-task variant for the states ``observations[:-1]``."""
    success = np.linalg.norm(observations[:-1, :2] - goal.goal_xy, axis=-1) <= GOAL_TOL
    return success.astype(np.float64) - 1.0, success


def generate(maze: str, n_episodes: int, seed: int, task: int = DEFAULT_TASK) -> list[Episode]:
    """``n_episodes`` stitch episodes; deterministic for a seed."""
    env = make_env(maze)
    u = env.unwrapped
    rng = numpy_rng(seed)
    goal = task_goal(maze, task)
    free = [tuple(c) for c in np.argwhere(u.maze_map == 0)]
    dist_cache: dict[tuple[int, int], np.ndarray] = {}
    episodes = []
    for e in range(n_episodes):
        while True:  # a start cell with some cell exactly CELLS_APART away
            init_ij = free[rng.integers(len(free))]
            ring = np.argwhere(bfs_distances(u.maze_map, init_ij) == CELLS_APART)
            if len(ring):
                break
        goal_ij = tuple(int(v) for v in ring[rng.integers(len(ring))])
        dist = dist_cache.setdefault(goal_ij, bfs_distances(u.maze_map, goal_ij))
        env.reset(seed=int(rng.integers(2**31)), options={"task_info": {"init_ij": init_ij, "goal_ij": goal_ij}})
        u.set_xy(np.asarray(u.ij_to_xy(init_ij)) + rng.uniform(-1, 1, 2) * u._noise * u._maze_unit / 4)
        obs = [u.get_ob()]
        acts = []
        for _ in range(EPISODE_LEN):
            xy = obs[-1][:2]
            sub = np.asarray(u.ij_to_xy(oracle_subgoal_ij(dist, u.xy_to_ij(xy))))
            direction = (sub - xy) / (np.linalg.norm(sub - xy) + 1e-6)
            a = np.clip(direction + rng.normal(0.0, ACTION_NOISE, 2), -1.0, 1.0).astype(np.float32)
            ob, *_ = env.step(a)
            obs.append(ob)
            acts.append(a)
        observations = np.asarray(obs)
        rewards, success = label_singletask(observations, goal)
        episodes.append(
            Episode(
                observations,
                np.asarray(acts),
                rewards,
                success,
                np.r_[np.zeros(EPISODE_LEN - 1, bool), not success[-1]],
                id=e,
            )
        )
    env.close()
    return episodes


def oracle_policy_return(
    maze: str, episodes: int, seed: int, task: int = DEFAULT_TASK, noise: float = 0.0, random: bool = False
) -> np.ndarray:
    """Returns on the single-task evaluation env of the noise-free oracle (``ref_max_score``) or of a uniform
    random policy (``random=True``, ``ref_min_score``)."""
    import gymnasium as gym

    env = gym.make(eval_env_id(maze, task))
    u = env.unwrapped
    rng = numpy_rng(seed)
    out = []
    for e in range(episodes):
        ob, _ = env.reset(seed=seed + e)
        dist = bfs_distances(u.maze_map, u.xy_to_ij(u.cur_goal_xy))
        total, done = 0.0, False
        while not done:
            if random:
                a = rng.uniform(-1, 1, 2)
            else:
                sub = np.asarray(u.ij_to_xy(oracle_subgoal_ij(dist, u.xy_to_ij(ob[:2]))))
                a = (sub - ob[:2]) / (np.linalg.norm(sub - ob[:2]) + 1e-6)
                a = np.clip(a + (rng.normal(0.0, noise, 2) if noise else 0.0), -1, 1)
            ob, r, term, trunc, _ = env.step(a.astype(np.float32))
            total += r
            done = term or trunc
        out.append(total)
    env.close()
    return np.asarray(out)


def episode_connects(ep: Episode, start_xy: np.ndarray, goal_xy: np.ndarray, tol: float = GOAL_TOL) -> bool:
    """Does this one episode pass within ``tol`` of the start and, later, within ``tol`` of the goal?"""
    near_s = np.flatnonzero(np.linalg.norm(ep.observations[:, :2] - start_xy, axis=-1) <= tol)
    near_g = np.flatnonzero(np.linalg.norm(ep.observations[:, :2] - goal_xy, axis=-1) <= tol)
    return bool(len(near_s) and len(near_g) and near_s[0] <= near_g[-1])


def path_coverage(episodes: list[Episode], maze: str, task: int = DEFAULT_TASK) -> dict[str, object]:
    """The cells of the shortest start-to-goal path of the evaluation task, and which of them the data visits."""
    env = make_env(maze)
    u = env.unwrapped
    goal = task_goal(maze, task)
    dist = bfs_distances(u.maze_map, u.xy_to_ij(goal.goal_xy))
    path = [u.xy_to_ij(goal.init_xy)]
    while dist[path[-1]] > 0:
        path.append(oracle_subgoal_ij(dist, path[-1]))
    visited = {u.xy_to_ij(xy) for ep in episodes for xy in ep.observations[:, :2]}
    env.close()
    return {
        "path_cells": path,
        "covered": [c in visited for c in path],
        "connecting_episodes": sum(episode_connects(ep, goal.init_xy, goal.goal_xy) for ep in episodes),
    }


def cell_distances(maze: str, xy_a: np.ndarray, xy_b: np.ndarray) -> np.ndarray:
    """Shortest-path distance in cells, walls respected, between the cells of paired points (N, 2): the maze's
    known answer to "how far apart are these", which Euclidean distance gets wrong across a wall."""
    env = make_env(maze)
    u = env.unwrapped
    cache: dict[tuple[int, int], np.ndarray] = {}
    out = []
    for a, b in zip(xy_a, xy_b):
        ib = tuple(int(v) for v in u.xy_to_ij(b))
        out.append(cache.setdefault(ib, bfs_distances(u.maze_map, ib))[tuple(int(v) for v in u.xy_to_ij(a))])
    env.close()
    return np.asarray(out)


@dataclass(frozen=True)
class WallMap:
    """A maze's wall cells and how maze coordinates map onto them (read once from the environment)."""

    walls: np.ndarray  # (rows, cols), 1 = wall
    unit: float
    offset_x: float
    offset_y: float

    def crosses(self, xy_a: np.ndarray, xy_b: np.ndarray, step: float = 0.1) -> np.ndarray:
        """Whether the straight segment between each pair of points (N, 2) passes through a wall cell, checked
        every ``step`` maze units."""
        xy_a, xy_b = np.atleast_2d(xy_a), np.atleast_2d(xy_b)
        if len(xy_a) == 0:
            return np.zeros(0, bool)
        n = max(2, int(np.ceil(np.linalg.norm(xy_b - xy_a, axis=-1).max() / step)) + 1)
        pts = xy_a[:, None] + np.linspace(0.0, 1.0, n)[None, :, None] * (xy_b - xy_a)[:, None]  # (N, n, 2)
        i = np.clip(
            np.floor((pts[..., 1] + self.offset_y + self.unit / 2) / self.unit).astype(int), 0, len(self.walls) - 1
        )
        j = np.clip(
            np.floor((pts[..., 0] + self.offset_x + self.unit / 2) / self.unit).astype(int), 0, self.walls.shape[1] - 1
        )
        return (self.walls[i, j] == 1).any(axis=1)


@functools.lru_cache(maxsize=4)
def wall_map(maze: str) -> WallMap:
    env = make_env(maze)
    u = env.unwrapped
    out = WallMap(np.asarray(u.maze_map).copy(), float(u._maze_unit), float(u._offset_x), float(u._offset_y))
    env.close()
    return out


def crosses_wall(maze: str, xy_a: np.ndarray, xy_b: np.ndarray, step: float = 0.1) -> np.ndarray:
    """Whether the straight segment between each pair of points (N, 2) passes through a wall cell of ``maze``: a
    glued transition that does claims the agent moved through a wall, and hindsight goals across it claim a
    reachability the maze does not have."""
    return wall_map(maze).crosses(xy_a, xy_b, step)


def occupancy(xy: np.ndarray, maze: str, per_cell: int = 4) -> np.ndarray:
    """Visit counts of (x, y) points on a grid of ``per_cell`` x ``per_cell`` squares per maze cell, over the whole
    map (rows = y, columns = x). ``(occupancy(...) > 0).sum()`` is the state coverage in occupied squares."""
    env = make_env(maze)
    u = env.unwrapped
    unit, ox, oy, shape = float(u._maze_unit), float(u._offset_x), float(u._offset_y), u.maze_map.shape
    env.close()
    cx = np.floor((xy[:, 0] + ox + unit / 2) / unit * per_cell).astype(int)
    cy = np.floor((xy[:, 1] + oy + unit / 2) / unit * per_cell).astype(int)
    grid = np.zeros((shape[0] * per_cell, shape[1] * per_cell), np.int64)
    ok = (cx >= 0) & (cx < grid.shape[1]) & (cy >= 0) & (cy < grid.shape[0])
    np.add.at(grid, (cy[ok], cx[ok]), 1)
    return grid
