"""The loop and bookkeeping every bridge-building method shares (DiffStitch, ASTRO): :func:`stitch_loop` (propose,
judge, accept, in batches until a budget), a :class:`Bridge` between a source and a target state, the verdict on
it (:func:`judge`), the stitched trajectory it makes (:func:`assemble`), and the discounted return-to-go the return
filter compares.

A method supplies only its own step, as a :class:`Proposal` per batch: which pairs it bridges and the bridge itself
(DiffStitch: step estimation, inpainting and wrap-up; ASTRO: temporal-distance targets and the RDF planner), with
the outcome of its own checks. Everything after that is the same for both, so it is written once, here.

A bridge is judged in a fixed order, and the first failed check is its verdict, counted in one tally: a terminal
state inside the bridge, then the method's own checks (DiffStitch: the dynamics model; ASTRO: dynamics and
ensemble uncertainty), then the return filter (the stitched trajectory's discounted return from the source state
must not fall below the source's own). Only an "accepted" bridge becomes data.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from stitchkit.data.episodes import Episode, Provenance
from stitchkit.envs import DT, X_VELOCITY_INDEX, terminated
from stitchkit.files import atomic_torch_save
from stitchkit.progress import bar


@dataclass
class Bridge:
    """One generated bridge, accepted or not, with everything the studies and the viewer need."""

    source: tuple[int, int]  # (episode, step)
    target: tuple[int, int]
    steps: int  # Delta transitions
    states: np.ndarray  # (Delta+1, d) raw states: source state ... target state
    actions: np.ndarray  # (Delta, a)
    rewards: np.ndarray  # (Delta,)
    model_error: float  # max one-step dynamics error (CDF space)
    terminal: bool
    return_ok: bool
    accepted: bool


@dataclass
class StitchResult:
    episodes: list[Episode]  # accepted, whole stitched trajectories
    bridges: list[Bridge]  # every generated bridge (accepted and rejected), for the studies
    stats: dict[str, Any]
    config: Any  # the method's config (DiffStitchConfig, AstroConfig), resolved for the dataset


@dataclass
class Proposal:
    """One batch of a method's step: ``drawn`` sources, of which K found a partner and were bridged. Arrays are raw
    (un-normalised) and have K rows; ``checks`` are the method's own verdicts (name -> (K,) bool, True = passes),
    judged in their order after the terminal check and before the return filter."""

    drawn: int
    pairs: list[tuple[tuple[int, int], tuple[int, int]]] = field(default_factory=list)  # (source, target) rows
    deltas: np.ndarray | None = None  # (K,) bridge lengths
    states: np.ndarray | None = None  # (K, >= Delta+1, d)
    actions: np.ndarray | None = None  # (K, >= Delta, a)
    rewards: np.ndarray | None = None  # (K, >= Delta)
    model_error: np.ndarray | None = None  # (K,) the worst one-step error under the method's dynamics model
    checks: Mapping[str, np.ndarray] = field(default_factory=dict)


def stitch_loop(
    episodes: list[Episode],
    env: str,
    method: str,
    label: str,
    propose: Callable[[], Proposal],
    budget: int,
    max_iterations: int,
    no_partner: str,
    checks: tuple[str, ...],
    gamma: float,
    return_filter: bool,
    progress: Callable[[dict], None] | None = None,
    resume: Resume | None = None,
) -> tuple[list[Bridge], list[Episode], dict[str, Any]]:
    """The stitching loop of every bridge method: ask ``propose`` for a batch, judge it (:func:`judge`), keep
    going until ``budget`` accepted bridge transitions or ``max_iterations`` batches. Sources that found no partner
    are counted as ``no_partner``; a failed check under its name in ``checks``. Returns every bridge (accepted or
    not, for the studies), the accepted ones as whole stitched episodes (their provenance names ``method``), and the
    run's figures (:func:`stats`). ``label`` names the progress bar. With ``resume``, a run stopped part-way (a
    paper-volume build generates for hours) continues from its last checkpoint to the same bridges."""
    rtg_eps = [discounted_rtg(e.rewards, gamma) for e in episodes]
    counts = {"generated": 0, no_partner: 0, "terminal": 0, **dict.fromkeys(checks, 0), "return": 0, "accepted": 0}
    bridges: list[Bridge] = []
    accepted_steps, t0, it, saved, spent = 0, time.perf_counter(), 0, 0, 0.0
    if resume is not None and (state := resume.load()) is not None:
        bridges, counts, accepted_steps, it, spent = state
        saved = len(bridges)
    shown = bar(budget, f"{label} stitching", unit="transition", initial=min(accepted_steps, budget))
    while accepted_steps < budget and it < max_iterations:
        it += 1
        batch = propose()
        counts["generated"] += batch.drawn
        counts[no_partner] += batch.drawn - len(batch.pairs)
        if batch.pairs:
            new, steps_in = judge(
                episodes,
                batch.pairs,
                batch.deltas,
                batch.states,
                batch.actions,
                batch.rewards,
                batch.model_error,
                batch.checks,
                terminated(env, batch.states),  # every window state at once; a bridge looks at its states 1..Delta-1
                rtg_eps,
                gamma,
                return_filter,
                counts,
            )
            bridges += new
            accepted_steps += steps_in
            shown.update(min(steps_in, max(0, budget - shown.n)))
        if resume is not None and it % resume.every == 0:
            resume.save(bridges[saved:], counts, accepted_steps, it, spent + time.perf_counter() - t0)
            saved = len(bridges)
        if progress:
            progress({"iteration": it, "accepted_steps": accepted_steps, **counts})
    if resume is not None and (saved < len(bridges) or it % resume.every):  # the end too: a rerun loads it at once
        resume.save(bridges[saved:], counts, accepted_steps, it, spent + time.perf_counter() - t0)
    shown.close()
    eps = [assemble(env, episodes, br, k, method) for k, br in enumerate(br for br in bridges if br.accepted)]
    return bridges, eps, stats(bridges, eps, counts, it, spent + time.perf_counter() - t0, accepted_steps)


CHECKPOINT_EVERY = 25  # stitching iterations between checkpoints: about 40 s of a 64-bridge batch on a CPU core


@dataclass
class Resume:
    """Where a stitching run checkpoints, and the method's own random state (its pair draws and sampler noise).

    Every ``every`` iterations the bridges made since the last checkpoint go to a new part file and the loop's state
    (tallies, iteration, random states) is rewritten, each atomically; a run started again with the same ``key`` (what
    the run is: method, data, models, config, sizes) loads them and continues as if never stopped. A different key
    starts afresh. Parts rather than one growing file: a paper-volume run holds about a hundred MB of bridges."""

    folder: Path
    key: dict[str, Any]
    get_state: Callable[[], dict[str, Any]]
    set_state: Callable[[dict[str, Any]], None]
    every: int = CHECKPOINT_EVERY
    parts: int = 0  # part files the state on disk counts (set by :meth:`load`)

    @classmethod
    def under(cls, root: Path, key: dict[str, Any], get_state, set_state) -> Resume:
        """A run's own folder below ``root``, named by its key: runs of other settings never share a checkpoint."""
        name = hashlib.sha1(cls.text(key).encode()).hexdigest()[:12]
        return cls(root / name, key, get_state, set_state, CHECKPOINT_EVERY)

    @staticmethod
    def text(key: dict[str, Any]) -> str:
        return json.dumps(key, sort_keys=True, default=str)

    def load(self) -> tuple[list[Bridge], dict[str, int], int, int, float] | None:
        try:
            st = torch.load(self.folder / "state.pt", weights_only=False)
        except (OSError, EOFError, RuntimeError):
            return None
        if st["key"] != self.text(self.key):
            return None
        self.parts = st["parts"]
        bridges = [
            b for k in range(self.parts) for b in torch.load(self.folder / f"part-{k:05d}.pt", weights_only=False)
        ]
        self.set_state(st["method"])
        torch.set_rng_state(st["torch_rng"])
        return bridges, st["counts"], st["accepted_steps"], st["iteration"], st["seconds"]

    def save(self, new: list[Bridge], counts: dict[str, int], accepted_steps: int, it: int, seconds: float) -> None:
        atomic_torch_save(self.folder / f"part-{self.parts:05d}.pt", new)  # a kill here leaves the old state
        self.parts += 1
        state = dict(key=self.text(self.key), parts=self.parts, counts=dict(counts), accepted_steps=accepted_steps)
        state |= dict(iteration=it, seconds=seconds, method=self.get_state(), torch_rng=torch.get_rng_state())
        atomic_torch_save(self.folder / "state.pt", state)


def discounted_rtg(rewards: np.ndarray, gamma: float) -> np.ndarray:
    """sum_{k >= t} gamma^(k - t) r_k for every step t of one episode."""
    out, acc = np.zeros(len(rewards)), 0.0
    for i in range(len(rewards) - 1, -1, -1):
        acc = rewards[i] + gamma * acc
        out[i] = acc
    return out


def judge(
    episodes: list[Episode],
    pairs: list[tuple[tuple[int, int], tuple[int, int]]],
    deltas: np.ndarray,
    states: np.ndarray,
    actions: np.ndarray,
    rewards: np.ndarray,
    model_error: np.ndarray,
    checks: Mapping[str, np.ndarray],
    terminal: np.ndarray,
    rtg: list[np.ndarray],
    gamma: float,
    return_filter: bool,
    tally: dict[str, int],
) -> tuple[list[Bridge], int]:
    """The verdict on each of n bridges, in order: ``terminal``, each of ``checks`` (name -> (n,) bool, True =
    passes), ``return``, else ``accepted``; each verdict counted in ``tally``. ``states`` are raw (n, >=Delta+1, d),
    their first and last state replaced by the exact source and target states. Returns the bridges and the
    accepted transitions."""
    out, accepted_steps = [], 0
    for i, ((e, t), (e2, t2)) in enumerate(pairs):
        e, t, e2, t2, d = int(e), int(t), int(e2), int(t2), int(deltas[i])
        bs = states[i, : d + 1].astype(episodes[e].observations.dtype)
        bs[0], bs[-1] = episodes[e].observations[t], episodes[e2].observations[t2]  # exact endpoints
        r = rewards[i, :d].astype(np.float64)
        term = bool(terminal[i, 1:d].any())  # a bridge looks at its inner states 1..Delta-1
        ret_ok = bool(float(np.sum(r * gamma ** np.arange(d)) + gamma**d * rtg[e2][t2]) >= rtg[e][t])
        failed = next((name for name, ok in checks.items() if not ok[i]), None)
        verdict = "terminal" if term else failed or ("return" if return_filter and not ret_ok else "accepted")
        tally[verdict] += 1
        accepted = verdict == "accepted"
        out.append(Bridge((e, t), (e2, t2), d, bs, actions[i, :d], r, float(model_error[i]), term, ret_ok, accepted))
        accepted_steps += d * accepted
    return out, accepted_steps


def stats(
    bridges: list[Bridge],
    episodes: list[Episode],
    tally: dict[str, int],
    iterations: int,
    seconds: float,
    accepted_steps: int,
) -> dict[str, Any]:
    """A stitching run's figures: throughput, acceptance and every verdict's count."""
    return {
        "iterations": iterations,
        "seconds": round(seconds, 2),
        "accepted_transitions": int(accepted_steps),
        "accepted_transitions_per_s": accepted_steps / max(seconds, 1e-9),
        "acceptance_rate": tally["accepted"] / max(1, tally["generated"]),
        **{k: int(v) for k, v in tally.items()},
        "mean_bridge_steps": float(np.mean([br.steps for br in bridges if br.accepted])) if episodes else 0.0,
    }


def _x_positions(env: str, src: Episode, t: int, states: np.ndarray, tgt: Episode, t2: int) -> dict[str, np.ndarray]:
    """x_position for rendering: the source's, integrated through the bridge from its forward speed, then the
    target's shifted to continue from there (x never affects the dynamics)."""
    if "x_position" not in src.infos or "x_position" not in tgt.infos or env not in DT:
        return {}
    x0 = src.infos["x_position"][t]
    bridge = x0 + np.cumsum(DT[env] * states[1:, X_VELOCITY_INDEX[env]])
    shift = bridge[-1] - tgt.infos["x_position"][t2]
    return {
        "x_position": np.concatenate(
            [src.infos["x_position"][: t + 1], bridge[:-1], tgt.infos["x_position"][t2:] + shift]
        )
    }


def assemble(env: str, episodes: list[Episode], b: Bridge, new_id: int, method: str = "diffstitch") -> Episode:
    """Source prefix [0, t], the bridge, then the target suffix from t' (any method's bridge)."""
    (e, t), (e2, t2) = b.source, b.target
    src, tgt = episodes[e], episodes[e2]

    def no(n: int) -> np.ndarray:
        return np.zeros(n, bool)

    return Episode(
        observations=np.concatenate([src.observations[: t + 1], b.states[1:-1], tgt.observations[t2:]]),
        actions=np.concatenate([src.actions[:t], b.actions, tgt.actions[t2:]]).astype(src.actions.dtype),
        rewards=np.concatenate([src.rewards[:t], b.rewards, tgt.rewards[t2:]]),
        terminations=np.concatenate([no(t + b.steps), tgt.terminations[t2:]]),
        truncations=np.concatenate([no(t + b.steps), tgt.truncations[t2:]]),
        infos=_x_positions(env, src, t, b.states, tgt, t2),
        provenance=Provenance("stitched", method, int(src.id), int(t), int(tgt.id), int(t2), int(b.steps)),
        id=new_id,
    )


def bridge_oracle_errors(env: str, bridges: list[Bridge]) -> list[np.ndarray]:
    """The physics oracle's error for every transition of every bridge (one array per bridge): the ground truth
    that a method's learned dynamics model only estimates."""
    from stitchkit.oracle import PhysicsOracle

    oracle = PhysicsOracle(env)
    try:
        return [oracle.check(b.states[:-1], b.actions, b.states[1:]).norm for b in bridges]
    finally:
        oracle.close()
