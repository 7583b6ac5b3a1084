"""Multi-hop chains: trajectories made of 3 or more original fragments, for goal-conditioned learners.

A goal-conditioned learner draws its goals from the future of the same trajectory, so fragments 4 cells long only
teach 4-cell trips. A chain lays fragments end to end (fragment A until it passes near fragment B's start, then B,
then C...) so that one trajectory spans 10+ cells, and hindsight goals far away exist in the data.

This module builds the chains' plan (which fragments, where each is cut) and glues them naively: the last state
kept of one fragment is followed by the first state of the next, with the kept action of the first (one glued
transition per joint, whose physics error the oracle measures; :mod:`stitchkit.augment.naive`). The agent of the
kit's maze data arrives at its goal cell after about 76 of 200 steps and then jitters there: a fragment's idle tail
is trimmed before chaining (``trim``), else chains would spend most of their length standing still.
Every chain records its pieces (``Provenance.pieces``: fragment, start, end; and the joints).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np

from stitchkit.augment.method import Job, Method
from stitchkit.data.episodes import Episode, Provenance


@dataclass
class ChainConfig:
    hops_min: int = 3  # fragments per chain, at least ...
    hops_max: int = 6  # ... and at most
    near: float = 1.0  # a fragment may continue into another whose first state is within this distance (maze units)
    min_progress: int = 10  # steps a fragment runs before it may hand over
    handover: Literal["last", "first"] = "last"  # hand over at the last (longest reach) or first near state
    trim: bool = True  # cut each fragment's idle tail (the agent waiting at its goal)
    idle_radius: float = 0.5  # the tail starts where the agent stays within this distance of its final state
    transitions: int | None = None  # stop at this many chained transitions (None: as many as the parent has)
    joint: Literal["naive", "diffstitch"] = "naive"  # glue each joint, or bridge it with DiffStitch's models
    bridge_steps: int | None = None  # Delta of a DiffStitch joint (None: the profile's window_low)
    seed: int = 0
    ratio: float = 1.0  # suggested original:chained ratio for training


def idle_start(ep: Episode, radius: float) -> int:
    """The first step from which the agent stays within ``radius`` of its final position: where its idle tail
    begins (the last state when it never settles)."""
    xy = ep.observations[:, :2]
    away = np.linalg.norm(xy - xy[-1], axis=-1) > radius
    moving = np.flatnonzero(away)
    return int(moving[-1] + 1) if len(moving) else 0


def plan_chains(episodes: list[Episode], cfg: ChainConfig, rng: np.random.Generator, budget: int) -> list[list]:
    """Chains as lists of (episode, first step, last step kept), each fragment used once per chain; chains are
    drawn until ``budget`` transitions. A fragment hands over at its last (or first) state after ``min_progress``
    steps and before its idle tail that lies within ``near`` of another fragment's first state."""
    starts = np.stack([e.observations[0, :2] for e in episodes])
    ends = [idle_start(e, cfg.idle_radius) if cfg.trim else len(e) for e in episodes]
    chains, total, attempts = [], 0, 0
    while total < budget and attempts < 50 * len(episodes):
        attempts += 1
        hops = int(rng.integers(cfg.hops_min, cfg.hops_max + 1))
        cur, chain = int(rng.integers(len(episodes))), []
        while len(chain) < hops - 1:
            xy = episodes[cur].observations[cfg.min_progress : max(cfg.min_progress, ends[cur]) + 1, :2]
            d = np.linalg.norm(xy[:, None] - starts[None], axis=-1)  # (T, fragments)
            d[:, [cur] + [c[0] for c in chain]] = np.inf  # no fragment twice in a chain
            hits = np.flatnonzero((d <= cfg.near).any(1))
            if not len(hits):
                break
            t = hits[-1] if cfg.handover == "last" else hits[0]
            options = np.flatnonzero(d[t] <= cfg.near)
            chain.append((cur, 0, cfg.min_progress + int(t)))
            cur = int(options[rng.integers(len(options))])
        if len(chain) < hops - 1:
            continue
        chain.append((cur, 0, max(ends[cur], 1)))
        chains.append(chain)
        total += sum(last - first for _, first, last in chain) + len(chain) - 1
    return chains


def glue(
    episodes: list[Episode],
    chain: list[tuple[int, int, int]],
    new_id: int,
    bridges: list[tuple[np.ndarray, np.ndarray]] | None = None,
    method: str = "naive",
) -> Episode:
    """One trajectory from the plan: states [first, last] of each fragment, and at each joint either one glued
    transition (the kept action of the fragment that hands over, landing on the next fragment's first state) or a
    generated bridge (``bridges[k]`` = (states (Delta+1, d) from the kept last state to the next first state,
    actions (Delta, a))), whose inner states are inserted."""
    obs, acts, rews, pieces = [], [], [], []
    for k, (e, first, last) in enumerate(chain):
        ep = episodes[e]
        obs.append(ep.observations[first : last + 1])
        pieces.append(["fragment", int(ep.id), int(first), int(last)])
        if k == len(chain) - 1:
            acts.append(ep.actions[first:last])
            rews.append(ep.rewards[first:last])
        elif bridges is None:
            acts.append(ep.actions[first : last + 1])  # the joint's action: the fragment's own
            rews.append(ep.rewards[first : last + 1])
            pieces.append(["joint", "naive", 1])
        else:
            states, actions = bridges[k]
            acts += [ep.actions[first:last], actions.astype(ep.actions.dtype)]
            rews += [ep.rewards[first:last], np.zeros(len(actions))]  # goal-conditioned learners relabel rewards
            obs.append(states[1:-1].astype(ep.observations.dtype))
            pieces.append(["joint", method, len(actions)])
    observations, actions = np.concatenate(obs), np.concatenate(acts)
    n = len(actions)
    (e0, _, cut), (e1, t1, _) = chain[0], chain[1]  # the first joint, for tools that read one source and target
    first_joint = pieces[1][2]
    prov = Provenance("stitched", "chain", int(episodes[e0].id), cut, int(episodes[e1].id), t1, first_joint, pieces)
    return Episode(
        observations,
        actions,
        np.concatenate(rews),
        np.zeros(n, bool),
        np.r_[np.zeros(n - 1, bool), True],
        provenance=prov,
        id=new_id,
    )


def bridge_joints(
    models, episodes: list[Episode], plan: list[list], profile, delta: int, threshold: float, seed: int
) -> tuple[list[list[tuple[np.ndarray, np.ndarray]]], np.ndarray]:
    """A DiffStitch bridge for every joint of every chain: the diffusion model inpaints Delta - 1 states between a
    fragment's kept last state and the next fragment's first states (its window), the inverse dynamics model
    labels the actions, the dynamics model qualifies them. Returns each chain's bridges (raw states with exact
    endpoints, actions) and, per chain, whether every one of its bridges qualified."""
    import torch

    from stitchkit.augment import diffstitch as ds

    sz, cdf = profile.stitch, models.cdf
    dev = next(models.diffusion.parameters()).device
    gen = torch.Generator(device=dev).manual_seed(seed)
    pairs = [(e, last, nxt) for chain in plan for (e, _, last), (nxt, _, _) in zip(chain[:-1], chain[1:])]
    out_states, out_actions, ok = [], [], []
    for i in range(0, len(pairs), sz.stitch_batch):
        batch = pairs[i : i + sz.stitch_batch]
        src = torch.as_tensor(
            cdf.normalize(np.stack([episodes[e].observations[last] for e, last, _ in batch])), device=dev
        )
        win = torch.as_tensor(
            cdf.normalize(np.stack([episodes[n].observations[: sz.horizon] for _, _, n in batch])), device=dev
        )
        d = torch.full((len(batch),), delta, device=dev)
        states = ds.stitch_states(models.diffusion, src, win, d, sz.strided_steps, gen, eta=2.0)
        actions, _ = ds.wrap_up(models.inverse, models.reward, states)
        with torch.no_grad():
            _, within = ds.qualify(ds.dynamics_error(models.dynamics, states, actions), d, threshold)
        raw = cdf.unnormalize(states[:, : delta + 1].cpu().numpy())
        for j, (e, last, nxt) in enumerate(batch):
            bs = raw[j].astype(episodes[e].observations.dtype)  # the data's precision: exact endpoints
            bs[0], bs[-1] = episodes[e].observations[last], episodes[nxt].observations[0]  # exact endpoints
            out_states.append(bs)
            out_actions.append(actions[j, :delta].cpu().numpy())
        ok += within.cpu().tolist()
    bridges, chain_ok, k = [], [], 0
    for chain in plan:
        n = len(chain) - 1
        bridges.append(list(zip(out_states[k : k + n], out_actions[k : k + n])))
        chain_ok.append(all(ok[k : k + n]))
        k += n
    return bridges, np.asarray(chain_ok, bool)


def joints(chain_episode: Episode) -> list[int]:
    """The first step index of each joint of a chained episode (its glued transition or generated bridge)."""
    mask = chain_episode.provenance.generated_mask(len(chain_episode))
    return [int(i) for i in np.flatnonzero(mask & ~np.r_[False, mask[:-1]])]


def generate_dataset(job: Job) -> tuple[list[Episode], dict]:
    """``stitchkit augment chain``: multi-hop chains of the dataset's fragments, glued naively (no model) or
    bridged by DiffStitch's models (trained here, or reused from a ``stitchkit augment diffstitch`` run)."""
    cfg, prof = job.config, job.profile
    if cfg.hops_min < 2 or cfg.hops_max < cfg.hops_min:
        raise ValueError(f"need 2 <= hops_min <= hops_max, got {cfg.hops_min}, {cfg.hops_max}")
    budget = cfg.transitions or sum(len(e) for e in job.episodes)
    plan = plan_chains(job.episodes, cfg, np.random.default_rng([cfg.seed, 41]), budget)
    summary: dict = {"config": asdict(cfg), "planned_chains": len(plan)}
    if cfg.joint == "naive":
        chains = [glue(job.episodes, c, k) for k, c in enumerate(plan)]
    else:
        from stitchkit.augment import diffstitch as ds

        key = ds.config_key(job.dataset_id, prof, job.seed, False)
        models = ds.train_models(
            job.episodes,
            prof,
            job.seed,
            checkpoint_dir=job.checkpoint_dir("diffstitch", key),
            log=job.log,
            device=job.device,
        )
        delta = cfg.bridge_steps or prof.stitch.window_low
        bridges, ok = bridge_joints(
            models, job.episodes, plan, prof, delta, ds.settings_for(job.dataset_id)["delta"], job.seed
        )
        kept = [(c, b) for c, b, good in zip(plan, bridges, ok) if good]  # a chain is kept when all joints qualify
        chains = [glue(job.episodes, c, k, b, "diffstitch") for k, (c, b) in enumerate(kept)]
        summary |= {
            "bridge_steps": delta,
            "chains_qualified": int(ok.sum()),
            "joint_qualification_rate": float(ok.mean()) if len(ok) else 0.0,
        }
    steps = sum(len(e) for e in chains)
    hops = [sum(p[0] == "fragment" for p in e.provenance.pieces) for e in chains]
    return chains, {
        **summary,
        "accepted_transitions": steps,
        "chains": len(chains),
        "mean_hops": float(np.mean(hops)) if hops else 0.0,
        "mean_length": steps / max(1, len(chains)),
        "ratio": cfg.ratio,
    }


METHOD = Method(
    "chain",
    ChainConfig,
    generate_dataset,
    saves="3-6 original fragments glued end to end (naive joints)",
    empty_hint="widen `near` (how close a fragment must pass to the next one's start)",
)
