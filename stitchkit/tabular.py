"""Why TD learning stitches and behaviour cloning does not, on a grid small enough to read every value.

DiffStitch's Figure 1 (a)-(b): two trajectories cross; one starts where the agent starts, the other ends at the
goal. Behaviour cloning copies what the data did at each state, so from the start it follows the first trajectory
to its end. Q-learning backs the goal's reward up along the second trajectory to the crossing, where the action that
turns onto it is now worth more than the first trajectory's: its greedy policy stitches the two without any new
data. Offline, the same backup has a failure: ``max`` over actions asks Q about actions the data never took, whose
values are whatever the function happens to hold there (here: seeded noise, a network's extrapolation); the max
picks the largest error and the backup spreads it. Restricting the backup to the data's own actions (BCQ's and
IQL's in-sample maximum; TD3+BC and CQL keep the policy near them by a penalty instead) removes the failure and
keeps the stitch.

Pure numpy, milliseconds: notebook 04 section 0 draws every quantity here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from stitchkit.seeding import numpy_rng

#: grid moves: up, down, left, right (x to the right, y up)
MOVES = {"up": (0, 1), "down": (0, -1), "left": (-1, 0), "right": (1, 0)}
ACTIONS = tuple(MOVES)


@dataclass(frozen=True)
class Grid:
    """A ``size`` x ``size`` grid; a move into the border stays put. Reaching ``goal`` pays 1 and ends."""

    size: int = 7
    start: tuple[int, int] = (0, 3)
    goal: tuple[int, int] = (3, 6)

    def state(self, xy: tuple[int, int]) -> int:
        return xy[1] * self.size + xy[0]

    def xy(self, s: int) -> tuple[int, int]:
        return s % self.size, s // self.size

    @property
    def n_states(self) -> int:
        return self.size * self.size

    def step(self, s: int, a: int) -> tuple[int, float, bool]:
        x, y = self.xy(s)
        dx, dy = MOVES[ACTIONS[a]]
        nx, ny = min(max(x + dx, 0), self.size - 1), min(max(y + dy, 0), self.size - 1)
        s2 = self.state((nx, ny))
        done = (nx, ny) == self.goal
        return s2, float(done), done


def path(grid: Grid, start: tuple[int, int], moves: list[str]) -> list[tuple[int, int, float, int, bool]]:
    """The transitions (s, a, r, s', done) of following ``moves`` from ``start``."""
    s, out = grid.state(start), []
    for m in moves:
        a = ACTIONS.index(m)
        s2, r, done = grid.step(s, a)
        out.append((s, a, r, s2, done))
        s = s2
        if done:
            break
    return out


def crossing_data(grid: Grid, copies_of_a: int = 2) -> list[list[tuple[int, int, float, int, bool]]]:
    """Figure 1's data: trajectory A from the start rightwards along the middle row (no reward), ``copies_of_a``
    times, so that at the crossing most of the data goes right; trajectory B from the bottom up the middle column
    to the goal. Neither alone goes from the start to the goal."""
    a = path(grid, grid.start, ["right"] * (grid.size - 1))
    b = path(grid, (grid.goal[0], 0), ["up"] * (grid.size - 1))
    return [a] * copies_of_a + [b]


def seen_actions(data) -> dict[int, set[int]]:
    """The actions the data took at each state it visits."""
    out: dict[int, set[int]] = {}
    for traj in data:
        for s, a, *_ in traj:
            out.setdefault(s, set()).add(a)
    return out


def behaviour_cloning(data, n_states: int) -> np.ndarray:
    """Per state, the action the data took most often there (the first seen on a tie); -1 where the data never
    went. BC's policy in a table."""
    counts = np.zeros((n_states, len(ACTIONS)), int)
    first = np.full(n_states, -1)
    for traj in data:
        for s, a, *_ in traj:
            counts[s, a] += 1
            first[s] = a if first[s] < 0 else first[s]
    policy = np.where(counts.sum(1) > 0, counts.argmax(1), -1)
    tie = (counts == counts.max(1, keepdims=True)).sum(1) > 1
    return np.where(tie & (first >= 0), first, policy)


def q_iteration(
    data, n_states: int, gamma: float = 0.9, backup: str = "data", noise: float = 0.0, seed: int = 0, sweeps: int = 200
) -> np.ndarray:
    """Offline Q iteration on the data's transitions: Q(s, a) <- r + gamma (1 - done) max_{a'} Q(s', a').

    ``backup="all"``: the max runs over every action, as online Q-learning's does; ``backup="data"``: only over
    the actions the data took at s' (the in-sample max of BCQ and IQL). Pairs the data never holds are never
    updated: they keep their initial value, seeded noise of scale ``noise`` (0: zeros), standing in for what a
    network outputs where it saw no data."""
    if backup not in ("all", "data"):
        raise ValueError(f"backup must be 'all' or 'data', got {backup!r}")
    q = np.abs(numpy_rng(seed).normal(0.0, noise, (n_states, len(ACTIONS)))) if noise else np.zeros((n_states, 4))
    seen = seen_actions(data)
    transitions = {(s, a): (r, s2, done) for traj in data for s, a, r, s2, done in traj}
    for s, a in transitions:
        q[s, a] = 0.0  # the data's own pairs start from zero and are learned
    for _ in range(sweeps):
        for (s, a), (r, s2, done) in transitions.items():
            allowed = list(seen.get(s2, ())) if backup == "data" else list(range(len(ACTIONS)))
            nxt = 0.0 if done or not allowed else q[s2, allowed].max()
            q[s, a] = r + gamma * nxt
    return q


def greedy(q: np.ndarray, data=None) -> np.ndarray:
    """The greedy policy of ``q``: over every action, or (given ``data``) over the data's actions where it has any."""
    policy = q.argmax(1)
    if data is not None:
        for s, acts in seen_actions(data).items():
            acts = sorted(acts)
            policy[s] = acts[int(np.argmax(q[s, acts]))]
    return policy


def rollout(grid: Grid, policy: np.ndarray, horizon: int = 20) -> tuple[list[tuple[int, int]], bool]:
    """The states visited following ``policy`` from the start (stopping at the goal or where it has no action),
    and whether it reached the goal."""
    s, visited = grid.state(grid.start), [grid.start]
    for _ in range(horizon):
        if policy[s] < 0:
            break
        s, _, done = grid.step(s, int(policy[s]))
        visited.append(grid.xy(s))
        if done:
            return visited, True
    return visited, False
