"""Goal sampling for goal-conditioned learners (OGBench's ``GCDataset``): hindsight goals from the data itself.

A goal-conditioned learner never sees a task reward. For each sampled transition (s, a, s') it is given a goal g
drawn from the dataset, and learns to reach it:

* ``p_curgoal``: g is s itself (the goal is reached: reward 0, the value's bootstrap stops);
* ``p_trajgoal``: g is a *future* state of the same trajectory, k steps ahead, k geometric with parameter
  1 - discount (``geometric=True``, OGBench's value goals) or uniform over the rest of the trajectory (its actor
  goals), clipped at the trajectory's last state;
* ``p_randomgoal``: g is any state of the dataset, usually from another trajectory.

Future goals never cross a trajectory's end: that is exactly why fragments 4 cells long teach a behaviour-cloned
policy only 4-cell trips, while random goals and a value function that chains through shared states can stitch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from stitchkit.data.episodes import Episode


@dataclass(frozen=True)
class GoalSampling:
    """Where a batch's goals come from; the three probabilities sum to 1 (OGBench's knobs, same names)."""

    p_curgoal: float = 0.0
    p_trajgoal: float = 1.0
    p_randomgoal: float = 0.0
    geometric: bool = False  # trajectory goals k ~ Geometric(1 - discount) steps ahead; else uniform over the rest
    discount: float = 0.99
    p_swap: float = 0.0  # temporal goal augmentation (Ghugare et al. 2024): a trajectory goal is swapped, with this
    swap_size: float = 2.0  # probability, for a future state of another trajectory crossing the same region
    prefix: str = field(default="", compare=False, repr=False)  # the learner's option names: ``actor_`` p_trajgoal

    def __post_init__(self) -> None:
        ps, p = (self.p_curgoal, self.p_trajgoal, self.p_randomgoal), self.prefix
        if min(ps) < 0 or abs(sum(ps) - 1) > 1e-6:
            raise ValueError(
                f"goal probabilities {p}p_curgoal, {p}p_trajgoal and {p}p_randomgoal must be >= 0 and sum to 1, "
                f"got {ps}"
            )
        if not 0 < self.discount < 1:
            raise ValueError(f"discount must be in (0, 1), got {self.discount}")
        if not 0 <= self.p_swap <= 1 or self.swap_size <= 0:
            raise ValueError(f"{p}p_swap must be in [0, 1] and swap_size > 0, got {self.p_swap}, {self.swap_size}")


class GoalIndex:
    """The states of a list of episodes laid end to end, with each state's trajectory end: the index every goal
    sampler draws from. State i of episode e sits at row ``offsets[e] + i``; transitions are the rows that are not
    an episode's last state."""

    def __init__(self, episodes: list[Episode]):
        lengths = np.array([len(e) + 1 for e in episodes])  # states per episode
        self.offsets = np.r_[0, np.cumsum(lengths)[:-1]]
        self.observations = np.concatenate([e.observations for e in episodes])
        self.final = np.repeat(self.offsets + lengths - 1, lengths)  # each row's trajectory's last state
        self.transitions = np.flatnonzero(np.arange(len(self.observations)) != self.final)
        self.episode = np.repeat(np.arange(len(episodes)), lengths)
        self._regions: tuple[float, tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None  # swap_size -> groups

    def __len__(self) -> int:
        return len(self.observations)

    def regions(self, size: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """States grouped by region: a grid of ``size`` over the first two state coordinates (the maze's x, y).
        Returns each row's region, and the rows sorted by region with each region's first index into them."""
        if self._regions is not None and self._regions[0] == size:
            return self._regions[1]
        cell = np.floor(self.observations[:, :2] / size).astype(np.int64)
        _, region = np.unique(cell, axis=0, return_inverse=True)
        region = region.reshape(-1)
        order = np.argsort(region, kind="stable")
        first = np.searchsorted(region[order], np.arange(region.max() + 2))
        self._regions = (size, (region, order, first))
        return region, order, first

    def swap(self, rows: np.ndarray, goals: np.ndarray, cfg: GoalSampling, rng: np.random.Generator) -> np.ndarray:
        """Temporal goal augmentation: for a trajectory goal (later in ``rows``' own episode), with probability
        ``p_swap`` pick a waypoint between the state and its goal, another state in the waypoint's region (usually
        another trajectory), and a goal in that state's future. Reaching it means passing the waypoint: the
        learner is taught to chain trajectories that cross, without any generated data."""
        region, order, first = self.regions(cfg.swap_size)
        traj = (self.episode[goals] == self.episode[rows]) & (goals > rows)
        pick = np.flatnonzero(traj & (rng.random(len(rows)) < cfg.p_swap))
        if not len(pick):
            return goals
        way = rows[pick] + 1 + (rng.random(len(pick)) * (goals[pick] - rows[pick])).astype(np.int64)
        r = region[way]
        other = order[first[r] + (rng.random(len(pick)) * (first[r + 1] - first[r])).astype(np.int64)]
        end = self.final[other]
        new = np.round(np.minimum(other + 1, end) * (u := rng.random(len(pick))) + end * (1 - u)).astype(np.int64)
        out = goals.copy()
        out[pick] = new
        return out

    def sample_goals(self, rows: np.ndarray, cfg: GoalSampling, rng: np.random.Generator) -> np.ndarray:
        """A goal row for each state row in ``rows`` (OGBench's ``sample_goals``, with explicit randomness)."""
        n = len(rows)
        final = self.final[rows]
        random_goals = rng.integers(0, len(self), n)
        if cfg.geometric:
            future = np.minimum(rows + rng.geometric(1 - cfg.discount, n), final)
        else:  # uniform over (row, final]; the final state itself when the row is already last
            u = rng.random(n)
            future = np.round(np.minimum(rows + 1, final) * u + final * (1 - u)).astype(np.int64)
        p_traj = cfg.p_trajgoal / (1.0 - cfg.p_curgoal) if cfg.p_curgoal < 1 else 0.0
        goals = np.where(rng.random(n) < p_traj, future, random_goals)
        goals = np.where(rng.random(n) < cfg.p_curgoal, rows, goals)
        return self.swap(rows, goals, cfg, rng) if cfg.p_swap > 0 else goals
