"""Multi-hop chains: trajectories made of 3 or more original fragments, for goal-conditioned learners.

A goal-conditioned learner draws its goals from the future of the same trajectory, so fragments 4 cells long only
teach 4-cell trips. A chain lays fragments end to end (fragment A until it passes near fragment B's start, then B,
then C...) so that one trajectory spans 10+ cells, and hindsight goals far away exist in the data.

This module builds the chains' plan (which fragments, where each is cut) and glues them naively: the last state
kept of one fragment is followed by the first state of the next, with the kept action of the first (one glued
transition per joint, whose physics error the oracle measures; :mod:`stitchkit.augment.naive`). The agent of the
kit's maze data arrives at its goal cell after about 76 of 200 steps and then jitters there: a fragment's idle tail
is trimmed before chaining (``trim``), else chains would spend most of their length standing still. Chains go
``outward`` by default: each next fragment must settle farther from the chain's first state than the current one,
so a chain is a long trip rather than a random walk that turns back (measured on the kit's maze at `lab`: net
span 20 vs 11 maze units, and GCBC's long-task success 70% vs 57% with naive joints, 5 seeds).
Every chain records its pieces (``Provenance.pieces``: fragment, start, end; and the joints).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np

from stitchkit.augment import astro
from stitchkit.augment import diffstitch as ds
from stitchkit.augment.method import Job, Method
from stitchkit.data.episodes import Episode, Provenance


@dataclass
class ChainConfig:
    hops_min: int = 3  # fragments per chain, at least ...
    hops_max: int = 6  # ... and at most
    near: float = 1.0  # a fragment may continue into another whose first state is within this distance (maze units)
    min_progress: int = 10  # steps a fragment runs before it may hand over
    handover: Literal["last", "first"] = "last"  # hand over at the last (longest reach) or first near state
    outward: bool = True  # continue only into fragments that end farther from the chain's start (long trips)
    trim: bool = True  # cut each fragment's idle tail (the agent waiting at its goal)
    idle_radius: float = 0.5  # the tail starts where the agent stays within this distance of its final state
    walls: Literal["any", "clear", "cross"] = "any"  # hand over only where the joint's straight segment stays clear
    # of the maze's walls, or only where it crosses one (issue 28's axis: the same gap, an impossible joint or not)
    transitions: int | None = None  # stop at this many chained transitions (None: as many as the parent has)
    joint: Literal["naive", "diffstitch", "astro"] = "naive"  # glue each joint, or bridge it with generated states
    keep: Literal["all", "diffstitch", "random"] = "all"  # "diffstitch": only the chains whose every joint
    # DiffStitch's models bridge and qualify (exactly the chains joint=diffstitch keeps), whatever the joint type: the
    # model's filter without its bridges (issue 28's "is the model needed?" arm); "random": as many chains of each
    # joint count as DiffStitch keeps, drawn blindly - the filter's size without its judgement
    bridge_steps: int | None = None  # Delta of a DiffStitch joint (None: the profile's window_low; ASTRO: learned)
    delta: float | None = None  # a bridge qualifies when its worst one-step model error is within (None: DiffStitch's)
    seed: int = 0
    ratio: float = 0.25  # suggested original:chained ratio for training (1:4; measured better than 1:1 at `lab`)


def idle_start(ep: Episode, radius: float) -> int:
    """The first step from which the agent stays within ``radius`` of its final position: where its idle tail
    begins (the last state when it never settles)."""
    xy = ep.observations[:, :2]
    away = np.linalg.norm(xy - xy[-1], axis=-1) > radius
    moving = np.flatnonzero(away)
    return int(moving[-1] + 1) if len(moving) else 0


def plan_chains(
    episodes: list[Episode], cfg: ChainConfig, rng: np.random.Generator, budget: int, maze: str | None = None
) -> list[list]:
    """Chains as lists of (episode, first step, last step kept), each fragment used once per chain; chains are
    drawn until ``budget`` transitions. A fragment hands over at its last (or first) state after ``min_progress``
    steps and before its idle tail that lies within ``near`` of another fragment's first state (and, with
    ``cfg.walls``, whose straight segment to it stays clear of ``maze``'s walls or crosses one)."""
    walls = None
    if cfg.walls != "any":
        if maze is None:
            raise ValueError(f"walls={cfg.walls!r} needs a maze; this dataset has none (use walls='any')")
        from stitchkit.data.maze import wall_map

        walls = wall_map(maze)
    starts = np.stack([e.observations[0, :2] for e in episodes])
    ends = [idle_start(e, cfg.idle_radius) if cfg.trim else len(e) for e in episodes]
    finals = np.stack([e.observations[max(k, 1) - 1, :2] for e, k in zip(episodes, ends)])  # where each one settles
    chains, total, attempts = [], 0, 0
    while total < budget and attempts < 50 * len(episodes):
        attempts += 1
        hops = int(rng.integers(cfg.hops_min, cfg.hops_max + 1))
        cur, chain = int(rng.integers(len(episodes))), []
        origin = starts[cur]
        while len(chain) < hops - 1:
            xy = episodes[cur].observations[cfg.min_progress : max(cfg.min_progress, ends[cur]) + 1, :2]
            d = np.linalg.norm(xy[:, None] - starts[None], axis=-1)  # (T, fragments)
            d[:, [cur] + [c[0] for c in chain]] = np.inf  # no fragment twice in a chain
            if cfg.outward:  # the next fragment must end farther from the chain's start than this one does
                d[:, np.linalg.norm(finals - origin, axis=-1) <= np.linalg.norm(finals[cur] - origin)] = np.inf
            if walls is not None:  # keep the candidate joints on the asked side of the walls
                t_idx, f_idx = np.nonzero(d <= cfg.near)
                cross = walls.crosses(xy[t_idx], starts[f_idx])
                drop = ~cross if cfg.walls == "cross" else cross
                d[t_idx[drop], f_idx[drop]] = np.inf
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
    models,
    episodes: list[Episode],
    plan: list[list],
    profile,
    delta: int,
    threshold: float,
    seed: int,
    joint: str = "diffstitch",
) -> tuple[list[list[tuple[np.ndarray, np.ndarray]]], np.ndarray, np.ndarray]:
    """A generated bridge for every joint of every chain, from a fragment's kept last state to the next fragment's
    first state. Returns each chain's bridges (raw states with exact endpoints, actions), per chain whether every
    one of its bridges qualified, and every joint's bridge length.

    ``diffstitch`` (``models``: DiffStitch's four): the diffusion model inpaints Delta - 1 states between the two
    (the next fragment's first states are its window), the inverse dynamics model labels the actions, the dynamics
    model qualifies them (worst step error within ``threshold``). ``astro`` (``models``: ASTRO's): Delta is the
    learned temporal distance of the pair (raised to the shortest bridge the window allows), the same inpainted
    states are the planner's reference, Rollout Deviation Feedback corrects the actions through the learned
    dynamics, the bridge's states are the model's rollout (the last one lands on the target), and it qualifies when
    the target is reachable (temporal distance within the longest bridge, ASTRO's rule: until issue 28 such pairs
    were clamped to the longest bridge and 98-100% of joints qualified even at ``near`` 8), the landing error is
    within ``threshold`` and the ensemble agrees along the way."""
    import torch

    sz = ds.SIZES.of(profile)
    stitch_models = models.stitch if joint == "astro" else models
    cdf = stitch_models.cdf
    dev = next(stitch_models.diffusion.parameters()).device
    gen = torch.Generator(device=dev).manual_seed(seed)
    pairs = [(e, last, nxt) for chain in plan for (e, _, last), (nxt, _, _) in zip(chain[:-1], chain[1:])]
    out_states, out_actions, ok, lengths = [], [], [], []
    for i in range(0, len(pairs), sz.stitch_batch):
        batch = pairs[i : i + sz.stitch_batch]
        src = torch.as_tensor(
            cdf.normalize(np.stack([episodes[e].observations[last] for e, last, _ in batch])), device=dev
        )
        win = torch.as_tensor(
            cdf.normalize(np.stack([episodes[n].observations[: sz.horizon] for _, _, n in batch])), device=dev
        )
        if joint == "astro":
            with torch.no_grad():
                dist = models.distance.to(dev)(src, win[:, 0])
            reachable = dist <= sz.window_high - 1  # ASTRO's rule: a target beyond the longest bridge is dropped
            d = dist.ceil().clamp(sz.window_low, sz.window_high - 1).long()
        else:
            d = torch.full((len(batch),), delta, device=dev)
        states = ds.stitch_states(stitch_models.diffusion, src, win, d, sz.strided_steps, gen, eta=2.0)
        if joint == "astro":
            az = astro.SIZES.of(profile)
            pl = astro.plan(stitch_models, states, d, az.rdf_iterations, az.rdf_step)
            states, actions = pl.states.clone(), pl.actions
            rows = torch.arange(len(d), device=dev)
            states[rows, d] = win[:, 0]  # land exactly on the next fragment's first state
            inside = torch.arange(actions.shape[1], device=dev)[None] < d[:, None]
            unc = torch.where(inside, pl.disagreement, torch.zeros_like(pl.disagreement)).max(1).values
            within = (
                (pl.end_error <= threshold)
                & (unc <= astro.AstroConfig().uncertainty_factor * models.uncertainty_limit)
                & reachable
            )
        else:
            actions, _ = ds.wrap_up(stitch_models.inverse, stitch_models.reward, states)
            with torch.no_grad():
                _, within = ds.qualify(ds.dynamics_error(stitch_models.dynamics, states, actions), d, threshold)
        raw = cdf.unnormalize(states.detach().cpu().numpy())
        for j, (e, last, nxt) in enumerate(batch):
            n = int(d[j])
            bs = raw[j, : n + 1].astype(episodes[e].observations.dtype)  # the data's precision
            bs[0], bs[-1] = episodes[e].observations[last], episodes[nxt].observations[0]  # exact endpoints
            out_states.append(bs)
            out_actions.append(actions[j, :n].detach().cpu().numpy())
            lengths.append(n)
        ok += within.cpu().tolist()
    bridges, chain_ok, k = [], [], 0
    for chain in plan:
        n = len(chain) - 1
        bridges.append(list(zip(out_states[k : k + n], out_actions[k : k + n])))
        chain_ok.append(all(ok[k : k + n]))
        k += n
    return bridges, np.asarray(chain_ok, bool), np.asarray(lengths)


def blind_subset(kept: np.ndarray, n_joints: list[int], rng: np.random.Generator) -> np.ndarray:
    """A mask with as many chains of each joint count as ``kept`` holds, drawn at random: a filter of the same size
    and make-up as ``kept`` that knows nothing about the joints (the control for a model's filter)."""
    n_joints_arr = np.asarray(n_joints)
    out = np.zeros(len(kept), bool)
    for n in np.unique(n_joints_arr):
        idx = np.flatnonzero(n_joints_arr == n)
        out[rng.choice(idx, int(kept[idx].sum()), replace=False)] = True
    return out


def joint_spans(episode: Episode) -> list[tuple[int, int]]:
    """Each joint of an augmented episode as (first step, end step): its glued transition or generated bridge."""
    mask = episode.provenance.generated_mask(len(episode))
    starts = np.flatnonzero(mask & ~np.r_[False, mask[:-1]])
    ends = np.flatnonzero(mask & ~np.r_[mask[1:], False]) + 1
    return [(int(a), int(b)) for a, b in zip(starts, ends)]


def joints(chain_episode: Episode) -> list[int]:
    """The first step index of each joint of a chained episode (its glued transition or generated bridge)."""
    return [a for a, _ in joint_spans(chain_episode)]


def joint_report(env: str, episodes: list[Episode]) -> dict[str, np.ndarray]:
    """Every joint of chained episodes, measured: ``gap`` (maze units between the two real states it connects),
    ``steps`` (its transitions: 1 for a naive joint), ``oracle_error`` (the physics oracle's worst one-step error
    along it), and ``crosses_wall`` (whether any of its transitions is a straight segment through a wall cell). A
    naive joint that crosses a wall claims the agent walked through it; a bridge that does not crosses nothing."""
    from stitchkit.augment import oracle_errors
    from stitchkit.data.maze import wall_map

    walls = wall_map(env.split("-", 1)[1]) if env.startswith("pointmaze-") else None  # read once, not per joint
    errors = oracle_errors(env, episodes)  # every generated transition, in episode order
    out: dict[str, list] = {"gap": [], "steps": [], "oracle_error": [], "crosses_wall": []}
    k = 0
    for ep in episodes:
        for a, b in joint_spans(ep):
            xy = ep.observations[a : b + 1, :2]
            out["gap"].append(float(np.linalg.norm(xy[-1] - xy[0])))
            out["steps"].append(b - a)
            out["oracle_error"].append(float(errors[k : k + b - a].max()))
            out["crosses_wall"].append(bool(walls.crosses(xy[:-1], xy[1:]).any()) if walls else False)
            k += b - a
    return {key: np.asarray(v) for key, v in out.items()}


def _bridge_models(job: Job, joint: str):
    """DiffStitch's models for ``joint=diffstitch``; ASTRO's (DiffStitch's plus the temporal distance) for
    ``joint=astro``; trained here or reused from a ``stitchkit augment diffstitch`` / ``astro`` run on the data."""
    prof = job.profile
    if joint == "diffstitch":
        ds_dir = job.checkpoint_dir("diffstitch", ds.config_key(job.dataset_id, prof, job.seed, False))
        return ds.train_models(job.episodes, prof, job.seed, checkpoint_dir=ds_dir, log=job.log, device=job.device)
    return astro.cached_models(job.episodes, job.dataset_id, prof, job.seed, job.log, job.device)


def generate_dataset(job: Job) -> tuple[list[Episode], dict]:
    """``stitchkit augment chain``: multi-hop chains of the dataset's fragments, glued naively (no model) or
    bridged by DiffStitch's or ASTRO's models (trained here, or reused from a ``stitchkit augment diffstitch`` /
    ``astro`` run on the same data)."""
    cfg, prof = job.config, job.profile
    if cfg.hops_min < 2 or cfg.hops_max < cfg.hops_min:
        raise ValueError(f"need 2 <= hops_min <= hops_max, got {cfg.hops_min}, {cfg.hops_max}")
    budget = cfg.transitions or sum(len(e) for e in job.episodes)
    env = job.env
    maze = env.split("-", 1)[1] if env.startswith("pointmaze-") else None
    plan = plan_chains(job.episodes, cfg, np.random.default_rng([cfg.seed, 41]), budget, maze)
    summary: dict = {"config": asdict(cfg), "planned_chains": len(plan)}
    delta = cfg.bridge_steps or ds.SIZES.of(prof).window_low
    threshold = cfg.delta if cfg.delta is not None else ds.settings_for(job.dataset_id)["delta"]

    def bridged(joint: str):
        return bridge_joints(_bridge_models(job, joint), job.episodes, plan, prof, delta, threshold, job.seed, joint)

    ok = np.ones(len(plan), bool)
    bridges: list = [None] * len(plan)  # None: glue naively
    if cfg.keep != "all" and cfg.joint != "diffstitch":  # the same draws as joint=diffstitch: the same chains
        ok = bridged("diffstitch")[1]
        if cfg.keep == "random":
            ok = blind_subset(ok, [len(c) - 1 for c in plan], np.random.default_rng([cfg.seed, 43]))
        summary["kept_by"] = cfg.keep
    if cfg.joint != "naive":
        bridges, good, lengths = bridged(cfg.joint)
        ok = ok & good
        summary["bridge_steps"] = (
            delta if cfg.joint == "diffstitch" else float(np.mean(lengths)) if len(lengths) else 0.0
        )
    if cfg.joint != "naive" or cfg.keep != "all":
        summary |= {"chains_qualified": int(ok.sum()), "joint_qualification_rate": float(ok.mean()) if len(ok) else 0.0}
    kept = [(c, b) for c, b, good in zip(plan, bridges, ok) if good]  # a chain is kept when all joints qualify
    chains = [glue(job.episodes, c, k, b, cfg.joint) for k, (c, b) in enumerate(kept)]
    steps = sum(len(e) for e in chains)
    hops = [sum(p[0] == "fragment" for p in e.provenance.pieces) for e in chains]
    if chains:  # what the joints are: how far they jump, whether through a wall, how wrong physically
        rep = joint_report(env, chains)
        summary |= {
            "joints": len(rep["gap"]),
            "joint_gap": float(rep["gap"].mean()),
            "joint_wall_share": float(rep["crosses_wall"].mean()),
            "joint_oracle_error": float(np.median(rep["oracle_error"])),
        }
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
    sizes=(ds.SIZES, astro.SIZES),  # the joint models: DiffStitch's or ASTRO's
    needs_maze=True,  # chains serve goal-conditioned learners, which need a maze's goals
)
