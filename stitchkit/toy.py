"""A 2-D toy world of trajectory fragments: the idea of stitching, before any MuJoCo.

An offline dataset is a pile of short fragments. Following one fragment is free (the data shows those moves
are possible); jumping from a state of one fragment to a nearby state of another is a *stitch*, which a
stitching method must make dynamics-consistent with a generated bridge. The question the tour measures: how
often does a single fragment connect start to goal, and how often does a chain of fragments joined by stitches?
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from stitchkit.seeding import numpy_rng


@dataclass(frozen=True)
class ToyWorld:
    fragments: np.ndarray  # (F, T, 2) positions, time runs along axis 1
    start: np.ndarray  # (2,)
    goal: np.ndarray  # (2,)


@dataclass(frozen=True)
class StitchedPath:
    nodes: list[tuple[int, int]]  # (fragment, step) visited in order
    n_stitches: int  # jumps between fragments; 0 means one fragment did it alone


def make_world(
    n_fragments: int,
    fragment_len: int,
    seed: int | np.random.Generator,
    step: float = 0.03,
    start: tuple[float, float] = (0.1, 0.1),
    goal: tuple[float, float] = (0.9, 0.9),
) -> ToyWorld:
    """Scatter fragments in the unit square: each starts anywhere and wanders with a slowly turning heading.

    A fragment covers about ``fragment_len * step`` (0.6 by default), shorter than the start-goal distance
    (1.13), so, as in OGBench's stitch datasets, no single fragment can solve the task."""
    rng = numpy_rng(seed)
    pos = rng.uniform(0.0, 1.0, size=(n_fragments, 2))
    heading = rng.uniform(0.0, 2 * np.pi, size=n_fragments)
    frames = [pos]
    for _ in range(fragment_len - 1):
        heading = heading + rng.normal(0.0, 0.3, size=n_fragments)
        pos = np.clip(pos + step * np.stack([np.cos(heading), np.sin(heading)], axis=1), 0.0, 1.0)
        frames.append(pos)
    return ToyWorld(np.stack(frames, axis=1), np.asarray(start, float), np.asarray(goal, float))


def single_fragment_connects(world: ToyWorld, radius: float) -> bool:
    """Does some fragment pass near the start and *later* near the goal?"""
    near_s = np.linalg.norm(world.fragments - world.start, axis=-1) <= radius  # (F, T)
    near_g = np.linalg.norm(world.fragments - world.goal, axis=-1) <= radius
    first_s = np.where(near_s.any(1), near_s.argmax(1), np.inf)
    last_g = np.where(near_g.any(1), near_g.shape[1] - 1 - near_g[:, ::-1].argmax(1), -np.inf)
    return bool((first_s <= last_g).any())


def stitched_path(world: ToyWorld, radius: float) -> StitchedPath | None:
    """The start-to-goal path with the fewest stitches (0-1 BFS), or None if stitching cannot connect them.

    Moving forward along a fragment costs 0; a stitch to a state of another fragment within ``radius`` costs 1.
    Time only runs forward inside a fragment: a fragment cannot be followed backwards."""
    F, T, _ = world.fragments.shape
    pts = world.fragments.reshape(-1, 2)
    dist = np.linalg.norm(pts[:, None] - pts[None], axis=-1)
    frag = np.repeat(np.arange(F), T)
    stitch_to = [np.flatnonzero((dist[i] <= radius) & (frag != frag[i])) for i in range(F * T)]
    is_goal = np.linalg.norm(pts - world.goal, axis=-1) <= radius
    cost = np.full(F * T, np.iinfo(np.int64).max)
    parent = np.full(F * T, -1)
    queue: deque[int] = deque()
    for i in np.flatnonzero(np.linalg.norm(pts - world.start, axis=-1) <= radius):
        cost[i] = 0
        queue.append(int(i))
    while queue:
        i = queue.popleft()
        if is_goal[i]:
            n_stitches, nodes = int(cost[i]), []
            while i >= 0:
                nodes.append((int(i // T), int(i % T)))
                i = parent[i]
            return StitchedPath(nodes[::-1], n_stitches)
        if i % T < T - 1 and cost[i] < cost[i + 1]:  # follow the data: free
            cost[i + 1], parent[i + 1] = cost[i], i
            queue.appendleft(i + 1)
        for j in stitch_to[i]:  # stitch: one more bridge to generate
            if cost[i] + 1 < cost[j]:
                cost[j], parent[j] = cost[i] + 1, i
                queue.append(int(j))
    return None


def stitching_gain(n_worlds: int, n_fragments: int, fragment_len: int, radius: float, seed: int) -> dict[str, float]:
    """Over many random worlds: how often one fragment solves the task, and how often stitching does."""
    rng = numpy_rng(seed)
    single = stitched = 0
    stitches = []
    for _ in range(n_worlds):
        world = make_world(n_fragments, fragment_len, rng)
        single += single_fragment_connects(world, radius)
        path = stitched_path(world, radius)
        if path is not None:
            stitched += 1
            stitches.append(path.n_stitches)
    return {
        "worlds": n_worlds,
        "single_fragment_rate": single / n_worlds,
        "stitched_rate": stitched / n_worlds,
        "mean_stitches": float(np.mean(stitches)) if stitches else float("nan"),
    }
