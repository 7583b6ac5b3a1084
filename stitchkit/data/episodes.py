"""The kit's one in-memory representation of offline data: a list of :class:`Episode`.

An episode of N steps holds N+1 observations (the last one is where the final action led, as Minari stores it),
N actions, rewards, terminations and truncations, optional per-step infos (e.g. ``x_position``, N+1 values), and
a :class:`Provenance` saying whether it is original data or stitched, by which method, from which source and
target episode and step. Every algorithm reads one of two views of a list of episodes:

* :func:`transitions` - flat (s, a, r, s', terminal) arrays, for TD3+BC, IQL, CQL, BC;
* :func:`windows` - fixed-horizon windows, for sequence models (diffusion, Decision Transformer).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

import numpy as np


@dataclass(frozen=True)
class Provenance:
    kind: str = "original"  # "original" or "stitched"
    method: str | None = None  # e.g. "diffstitch", "astro"
    source_episode: int | None = None
    source_step: int | None = None
    target_episode: int | None = None
    target_step: int | None = None
    bridge_steps: int | None = None  # generated transitions between the source prefix and the target suffix
    pieces: list | None = None  # a multi-hop chain's parts in order: ["fragment", episode, first, last], joints

    def segments(self, n_steps: int) -> tuple[int, int] | None:
        """(source_end, bridge_end) step indices of a stitched episode laid out as source states
        [0, source_end], generated bridge (source_end, bridge_end), target states [bridge_end, n_steps]."""
        if self.kind != "stitched" or self.source_step is None or self.bridge_steps is None:
            return None
        return self.source_step, min(n_steps, self.source_step + self.bridge_steps)

    def generated_mask(self, n_steps: int) -> np.ndarray:
        """Which of an augmented episode's ``n_steps`` transitions a method generated: a chain's joints (from its
        pieces), a stitched episode's bridge, or every step of anything else (a synthetic transition, a rollout)."""
        mask = np.zeros(n_steps, bool)
        if self.pieces is not None:
            step = 0
            for piece in self.pieces:
                if piece[0] == "fragment":
                    step += piece[3] - piece[2]
                else:
                    mask[step : step + piece[2]] = True
                    step += piece[2]
            return mask
        seg = self.segments(n_steps)
        if seg is None:
            return ~mask
        mask[seg[0] : seg[1]] = True
        return mask

    def to_json(self) -> str:
        d = asdict(self)
        if d["pieces"] is None:  # single-bridge provenance keeps its old form (saved datasets stay identical)
            del d["pieces"]
        return json.dumps(d, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Provenance:
        return cls(**json.loads(text))


@dataclass
class Episode:
    observations: np.ndarray  # (N+1, obs_dim)
    actions: np.ndarray  # (N, act_dim)
    rewards: np.ndarray  # (N,)
    terminations: np.ndarray  # (N,) bool: the MDP ended (no bootstrapping past here)
    truncations: np.ndarray  # (N,) bool: cut by a time limit (bootstrapping would be right)
    infos: dict[str, np.ndarray] = field(default_factory=dict)  # per-step arrays, N+1 long
    provenance: Provenance = field(default_factory=Provenance)
    id: int = 0

    def __post_init__(self) -> None:
        n = len(self.actions)
        if self.observations.shape[0] != n + 1:
            raise ValueError(
                f"episode {self.id}: {self.observations.shape[0]} observations for {n} actions; "
                "an episode of N steps holds N+1 observations"
            )
        for name in ("rewards", "terminations", "truncations"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"episode {self.id}: {name} has {len(getattr(self, name))} entries, expected {n}")
        for key, value in self.infos.items():
            if len(value) != n + 1:
                raise ValueError(f"episode {self.id}: info {key!r} has {len(value)} entries, expected {n + 1}")

    def __len__(self) -> int:
        return len(self.actions)

    @property
    def ret(self) -> float:
        return float(np.sum(self.rewards))


def returns(episodes: list[Episode]) -> np.ndarray:
    return np.array([ep.ret for ep in episodes])


def total_steps(episodes: list[Episode]) -> int:
    return int(sum(len(ep) for ep in episodes))


def transitions(episodes: list[Episode]) -> dict[str, np.ndarray]:
    """Flat (s, a, r, s') arrays over all episodes, with the episode and step each transition came from.

    ``terminals`` is the termination flag only: a time-limit truncation still bootstraps (CORL, Minari)."""
    if not episodes:
        raise ValueError("no episodes to flatten")
    return {
        "observations": np.concatenate([ep.observations[:-1] for ep in episodes]).astype(np.float32),
        "actions": np.concatenate([ep.actions for ep in episodes]).astype(np.float32),
        "rewards": np.concatenate([ep.rewards for ep in episodes]).astype(np.float32),
        "next_observations": np.concatenate([ep.observations[1:] for ep in episodes]).astype(np.float32),
        "terminals": np.concatenate([ep.terminations for ep in episodes]).astype(np.float32),
        "timeouts": np.concatenate([ep.truncations for ep in episodes]).astype(np.float32),
        "episode": np.concatenate([np.full(len(ep), i) for i, ep in enumerate(episodes)]),
        "step": np.concatenate([np.arange(len(ep)) for ep in episodes]),
    }


def crop(ep: Episode, start: int, end: int) -> Episode:
    """Steps [start, end) of an episode as an episode of its own (for looking at a bridge up close): provenance
    steps are shifted so the bridge stays where it was."""
    start, end = max(0, start), min(len(ep), end)
    p = ep.provenance
    prov = (
        p
        if p.source_step is None
        else Provenance(
            p.kind, p.method, p.source_episode, p.source_step - start, p.target_episode, p.target_step, p.bridge_steps
        )
    )
    return Episode(
        ep.observations[start : end + 1],
        ep.actions[start:end],
        ep.rewards[start:end],
        ep.terminations[start:end],
        ep.truncations[start:end],
        {k: v[start : end + 1] for k, v in ep.infos.items()},
        prov,
        ep.id,
    )


def generated_transitions(episodes: list[Episode]) -> dict[str, np.ndarray]:
    """The transitions an augmenter made: a stitched episode's bridge steps only (its source prefix and target
    suffix are original data already in the dataset), every step of any other episode (e.g. SER's synthetic
    transitions), a chain's joints. What TD3+BC/IQL/CQL sample as "augmented" (the released DiffStitch code saves just
    these)."""
    data = transitions(episodes)
    keep = np.concatenate([ep.provenance.generated_mask(len(ep)) for ep in episodes])
    return {k: v[keep] for k, v in data.items()}


def window_starts(episodes: list[Episode], horizon: int, pad: bool = False) -> np.ndarray:
    """Every (episode, start) of a ``horizon``-step window. Without padding a window lies wholly inside one
    episode (episodes shorter than the horizon give none); with padding it may start at any step and run past the
    end into padding."""
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1, got {horizon}")
    rows = []
    for i, ep in enumerate(episodes):
        last = len(ep) - 1 if pad else len(ep) - horizon
        if last >= 0:
            rows.append(np.stack([np.full(last + 1, i), np.arange(last + 1)], axis=1))
    return np.concatenate(rows) if rows else np.zeros((0, 2), dtype=np.int64)


class FlatEpisodes:
    """All episodes concatenated once, with offsets, so windows are gathered by array indexing (no Python loop
    per window: a DT batch at ``full`` holds 4096 of them)."""

    def __init__(self, episodes: list[Episode]):
        self.lengths = np.array([len(ep) for ep in episodes])
        self.act_off = np.r_[0, np.cumsum(self.lengths)[:-1]]
        self.obs_off = self.act_off + np.arange(len(episodes))  # each episode has one more observation
        self.obs = np.concatenate([ep.observations for ep in episodes]).astype(np.float32)
        self.act = np.concatenate([ep.actions for ep in episodes]).astype(np.float32)
        self.rew = np.concatenate([ep.rewards for ep in episodes]).astype(np.float32)
        self.term = np.concatenate([ep.terminations for ep in episodes]).astype(np.float32)
        self.rtg = np.concatenate([np.cumsum(ep.rewards[::-1])[::-1] for ep in episodes]).astype(np.float32)


def windows(episodes: list[Episode] | FlatEpisodes, starts: np.ndarray, horizon: int) -> dict[str, np.ndarray]:
    """Gather windows of ``horizon`` steps at ``starts`` ((episode, step) rows from :func:`window_starts`).

    Padding rule (Diffuser/DiffStitch's): steps past the episode end hold zeros and ``mask`` is 0 there; the
    ``observations`` window has horizon+1 states (the state after the last action included), padded the same way.
    ``returns_to_go`` is the undiscounted return from each step to the episode's end.
    """
    flat = episodes if isinstance(episodes, FlatEpisodes) else FlatEpisodes(episodes)
    e, s = np.asarray(starts[:, 0], int), np.asarray(starts[:, 1], int)
    n = flat.lengths[e][:, None]
    t = s[:, None] + np.arange(horizon)  # (m, H) step indices
    valid = t < n
    ai = flat.act_off[e][:, None] + np.minimum(t, n - 1)
    to = s[:, None] + np.arange(horizon + 1)
    valid_o = to <= n
    oi = flat.obs_off[e][:, None] + np.minimum(to, n)
    out = {
        "returns_to_go": np.where(valid, flat.rtg[ai], 0.0).astype(np.float32),
        "timesteps": t.astype(np.int64),
        "observations": np.where(valid_o[..., None], flat.obs[oi], 0.0).astype(np.float32),
        "actions": np.where(valid[..., None], flat.act[ai], 0.0).astype(np.float32),
        "rewards": np.where(valid, flat.rew[ai], 0.0).astype(np.float32),
        "terminals": np.where(valid, flat.term[ai], 0.0).astype(np.float32),
        "mask": valid.astype(np.float32),
    }
    return out
