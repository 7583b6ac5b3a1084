"""ASTRO-style stitching (after Yu et al., 2025, arXiv 2511.23442): reachable targets, then a planner that the
learned dynamics itself corrects.

What the ASTRO abstract states, and where each part lives here:

1. **Temporal-distance representation** (:mod:`stitchkit.augment.temporal`): distances that count steps, "to
   identify distinct and reachable stitch targets" - not Euclidean ones, which the paper blames for infeasible
   targets.
2. **Stitch-pair selection** (:func:`select_pairs`): for a source state, a target on another trajectory that is
   reachable (temporal distance within the planner's bridge lengths), offers a higher return to go, and, among
   those, adds the most coverage (:func:`novelty`).
3. **Dynamics-guided stitch planner** (:func:`plan`): a state sequence toward the target (DiffStitch's inpainting
   diffusion model, shared), actions for it from the inverse dynamics model, a rollout of those actions through
   the learned dynamics ensemble, and **Rollout Deviation Feedback**: the gap between the target state sequence
   and the arrived states corrects the actions - first by re-querying inverse dynamics from the arrived state,
   then by gradient steps on the deviation through the model - iteration by iteration.
4. Acceptance: the rollout's last state must land on the target (squared error within DiffStitch's delta for the
   dataset), the ensemble must agree along the way (no model exploitation), no state may be terminal, and the
   stitched return must improve on the source's. The bridge's states *are* the rollout, so every transition but
   the last obeys the learned dynamics exactly and the last within delta; rewards come from the reward model.

The ASTRO paper's text and code were not available: everything beyond the abstract's description is the kit's
choice, marked in notebook 06 (:class:`AstroConfig` holds the choices, the profile's ``astro`` section the sizes).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from stitchkit.augment import diffstitch as ds
from stitchkit.augment import temporal
from stitchkit.augment.bridges import Proposal, Resume, StitchResult, discounted_rtg, stitch_loop
from stitchkit.augment.method import Job, Method, model_key
from stitchkit.augment.temporal import TemporalDistance, distance_quality, split_episodes, train_distance
from stitchkit.data.episodes import Episode, window_starts
from stitchkit.data.normalizers import EmpiricalCDF
from stitchkit.files import atomic_torch_save
from stitchkit.profiles import Profile, SizeTable
from stitchkit.progress import seconds_per_step


@dataclass(frozen=True)
class AstroSizes:
    """ASTRO-style stitching (notebook 06, ``stitchkit augment astro``). Horizon and bridge-length window are the
    ``stitch`` section's: ASTRO reuses DiffStitch's models. The paper's values are unknown (no full text or code)."""

    distance_steps: int  # gradient steps of the temporal-distance encoder
    distance_batch: int  # state pairs per step
    distance_hidden: int  # encoder MLP width (2 hidden layers)
    latent_dim: int  # size of the temporal-distance space
    distance_cap: int  # step counts above this are only "far" (hinge), not regressed
    rdf_iterations: int  # Rollout Deviation Feedback iterations per batch of bridges
    rdf_step: float  # fraction of the deviation one RDF gradient (Polyak) step aims to close
    stitch_batch: int  # bridges planned together
    candidates: int  # target candidates scored per source
    budget: int  # accepted generated transitions to stop at
    max_iterations: int  # stop here even if the budget is not met


# ASTRO's sizes per profile; it reads DiffStitch's ``stitch`` sizes too (``ds.SIZES``)
SIZES = SizeTable(
    "astro",
    smoke=AstroSizes(
        distance_steps=300,
        distance_batch=64,
        distance_hidden=32,
        latent_dim=8,
        distance_cap=24,
        rdf_iterations=4,
        rdf_step=0.5,
        stitch_batch=8,
        candidates=32,
        budget=200,
        max_iterations=3,
    ),
    lab=AstroSizes(
        distance_steps=4000,
        distance_batch=512,
        distance_hidden=256,
        latent_dim=32,
        distance_cap=80,
        rdf_iterations=30,
        rdf_step=0.5,
        stitch_batch=64,
        candidates=512,
        budget=20_000,
        max_iterations=200,
    ),
    full=AstroSizes(
        distance_steps=100_000,
        distance_batch=1024,
        distance_hidden=512,
        latent_dim=64,
        distance_cap=80,
        rdf_iterations=100,
        rdf_step=0.5,
        stitch_batch=256,
        candidates=512,
        budget=2_000_000,
        max_iterations=300_000,
    ),
)


@dataclass
class AstroConfig:
    """The method's choices (sizes come from the profile). None means: take it from the profile or dataset."""

    d_min: float | None = None  # reachable: temporal distance >= d_min (default: the profile's window_low)
    d_max: float | None = None  # ... and <= d_max (default: window_high - 1, the longest bridge)
    coverage_weight: float = 0.5  # score = RTG gain (in units of the largest RTG) + w * novelty
    end_delta: float | None = (
        None  # acceptance: ||last rollout state - target||^2 (CDF space); None: DiffStitch's delta
    )
    uncertainty_factor: float = 2.0  # reject if ensemble disagreement > factor x its 99th percentile on real data
    uncertainty_weight: float = 0.1  # weight of the disagreement penalty in the RDF objective
    end_weight: float = 1.0  # weight of the last state's gap (what acceptance judges) in the RDF objective
    feedback: bool = True  # False: no RDF at all - the open-loop inverse-dynamics actions are judged (ablation)
    iterations: int | None = None  # gradient RDF iterations (None: the profile's rdf_iterations)
    return_filter: bool = True
    sampler: Literal["full", "strided"] = "strided"  # the reference sampler: DDIM or ancestral
    ddim_eta: float = 2.0
    gamma: float = 0.99
    ratio: float = 4.0  # suggested original:augmented ratio for training (as DiffStitch)
    seed: int = 0


@dataclass
class AstroModels:
    """DiffStitch's four models (shared), the temporal-distance encoder, and what was measured about them."""

    stitch: ds.DiffStitchModels
    distance: TemporalDistance
    uncertainty_limit: float  # 99th percentile of ensemble disagreement on held-out real transitions
    curves: dict[str, list[dict]] = field(default_factory=dict)
    quality: dict[str, Any] = field(default_factory=dict)  # learned vs Euclidean on held-out episodes


def estimate_train_seconds(
    episodes: list[Episode],
    profile: Profile,
    checkpoint_dir: Path | None = None,
    diffstitch_dir: Path | None = None,
    device: str = "cpu",
    probe: int = 40,
) -> float:
    """Seconds :func:`train_models` will take here, said before it starts: DiffStitch's models as
    :func:`stitchkit.augment.diffstitch.estimate_train_seconds` times them (0 when cached), plus the temporal
    distance's steps timed on this machine; 0 when ASTRO's models are cached."""
    if checkpoint_dir is not None and (checkpoint_dir / "astro.pt").exists():
        return 0.0
    a = SIZES.of(profile)
    total = ds.estimate_train_seconds(episodes, profile, diffstitch_dir, device, probe)
    cdf = EmpiricalCDF.fit(np.concatenate([e.observations for e in episodes]))
    args = (episodes, cdf.normalize)
    sizes = (a.distance_batch, a.distance_cap, a.latent_dim, a.distance_hidden)
    per_step = seconds_per_step(lambda n: train_distance(*args, n, *sizes, device=device), probe)
    return total + per_step * a.distance_steps


def train_models(
    episodes: list[Episode],
    profile: Profile,
    seed: int = 0,
    checkpoint_dir: Path | None = None,
    diffstitch_dir: Path | None = None,
    log=print,
    device: str = "cpu",
) -> AstroModels:
    """DiffStitch's models (loaded from ``diffstitch_dir`` when already trained there) plus the temporal-distance
    encoder, trained on 90% of the episodes and measured on the other 10%. Cached in ``checkpoint_dir``."""
    a = SIZES.of(profile)
    final = checkpoint_dir / "astro.pt" if checkpoint_dir else None
    if final is not None and final.exists():
        log(f"ASTRO models: loaded from {final}")
        return torch.load(final, weights_only=False)
    base = ds.train_models(episodes, profile, seed, checkpoint_dir=diffstitch_dir, log=log, device=device)
    train_idx, held_idx = split_episodes(len(episodes), seed)
    t0 = time.perf_counter()
    model, curve = train_distance(
        [episodes[i] for i in train_idx],
        base.cdf.normalize,
        a.distance_steps,
        a.distance_batch,
        a.distance_cap,
        a.latent_dim,
        a.distance_hidden,
        seed=seed,
        device=device,
    )
    held = [episodes[i] for i in held_idx] or episodes
    window_high = ds.SIZES.of(profile).window_high
    quality = distance_quality(model, held, base.cdf.normalize, a.distance_cap, window_high, seed=seed)
    log(
        f"ASTRO: temporal distance ({a.distance_steps} steps) trained in {time.perf_counter() - t0:.0f} s; held-out "
        f"Spearman with true steps: learned {quality['learned']['spearman']:.3f}, Euclidean "
        f"{quality['euclidean']['spearman']:.3f}"
    )
    models = AstroModels(base, model, _uncertainty_limit(base, episodes, seed, device), {"distance": curve}, quality)
    if final is not None:
        atomic_torch_save(final, models)
    return models


@torch.no_grad()
def _uncertainty_limit(m: ds.DiffStitchModels, episodes: list[Episode], seed: int, device: str) -> float:
    rng = np.random.default_rng([seed, 53])
    obs = np.concatenate([e.observations[:-1] for e in episodes])
    act = np.concatenate([e.actions for e in episodes])
    idx = rng.choice(len(obs), size=min(len(obs), 8192), replace=False)
    s = torch.as_tensor(m.cdf.normalize(obs[idx]), dtype=torch.float32, device=device)
    u = m.dynamics.disagreement(s, torch.as_tensor(act[idx], dtype=torch.float32, device=device))
    return float(torch.quantile(u, 0.99))


# ------------------------------------------------------------------------------------------------- pairs
def novelty(
    sources: torch.Tensor, targets: torch.Tensor, reference: torch.Tensor, scale: float, chunk: int = 8192
) -> torch.Tensor:
    """How far the straight midpoint of each (source, target) pair (CDF space) lies from the data: its distance
    to the nearest ``reference`` state, in units of ``scale`` (the data's typical nearest-neighbour spacing).
    A bridge through empty space adds coverage; one through dense data repeats it."""
    mid = (sources + targets) / 2
    out = [torch.cdist(mid[i : i + chunk], reference).min(dim=1).values for i in range(0, len(mid), chunk)]
    return (torch.cat(out) if out else mid.new_zeros(0)) / scale


def stitched_gain(
    dist: torch.Tensor, rtg_source: torch.Tensor, rtg_target: torch.Tensor, mean_reward: float, gamma: float
) -> torch.Tensor:
    """How much a stitch would raise the source's discounted return to go, estimated before any bridge exists:
    ``dist`` steps at the data's mean reward, then the target's return to go, minus the source's own. (The exact
    check, with the reward model's rewards for the planned bridge, is the return filter after planning.)"""
    disc = gamma**dist
    return mean_reward * (1 - disc) / (1 - gamma) + disc * rtg_target - rtg_source[:, None]


def select_pairs(
    dist: torch.Tensor,
    rtg_gain: torch.Tensor,
    nov: torch.Tensor,
    same_episode: torch.Tensor,
    d_min: float,
    d_max: float,
    coverage_weight: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """ASTRO's stitch-target rule, for B sources x C candidates. A candidate is eligible when it is

    * reachable: ``d_min <= temporal distance <= d_max`` (the planner's bridge lengths),
    * better: stitching to it raises the source's return to go (``rtg_gain > 0``, see :func:`stitched_gain`),
    * elsewhere: on another trajectory;

    among eligible candidates the one with the highest ``rtg_gain + coverage_weight * novelty`` is chosen.
    Returns (chosen (B,), ok (B,)); ``ok`` is false where no candidate is eligible."""
    eligible = (dist >= d_min) & (dist <= d_max) & (rtg_gain > 0) & ~same_episode
    score = torch.where(eligible, rtg_gain + coverage_weight * nov, torch.full_like(dist, -torch.inf))
    return score.argmax(dim=1), eligible.any(dim=1)


# ------------------------------------------------------------------------------------------------- planner
def rollout(dynamics, s0: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Execute (B, T, A) actions from s0 (B, d) in the learned model: arrived states (B, T+1, d) and the ensemble's
    disagreement at every step (B, T)."""
    xs, us = [s0], []
    for t in range(actions.shape[1]):
        nxt, u = dynamics.predict_with_disagreement(xs[-1], actions[:, t])
        xs.append(nxt)
        us.append(u)
    return torch.stack(xs, 1), torch.stack(us, 1)


def deviation(arrived: torch.Tensor, reference: torch.Tensor, delta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Rollout Deviation Feedback's measure, per bridge: the mean squared gap ||x_t - s*_t||^2 over t = 1..Delta
    between arrived and target states, and the gap at the end (t = Delta, the target state itself)."""
    gap = ((arrived[:, 1:] - reference[:, 1 : arrived.shape[1]]) ** 2).sum(-1)  # (B, T)
    inside = torch.arange(gap.shape[1], device=gap.device)[None] < delta[:, None]
    mean = (gap * inside).sum(1) / delta
    return mean, gap.gather(1, (delta - 1)[:, None]).squeeze(1)


@dataclass
class Plan:
    actions: torch.Tensor  # (B, T, A), the best iterate of every bridge
    states: torch.Tensor  # (B, T+1, d), its rollout (CDF space)
    disagreement: torch.Tensor  # (B, T)
    end_error: torch.Tensor  # (B,)
    trace: dict[str, np.ndarray]  # per iteration (rows) and bridge (columns): "deviation", "end"


def plan(
    models: ds.DiffStitchModels,
    reference: torch.Tensor,
    delta: torch.Tensor,
    iterations: int,
    step: float = 0.5,
    uncertainty_weight: float = 0.1,
    feedback: bool = True,
    max_move: float = 0.25,
    end_weight: float = 1.0,
) -> Plan:
    """The dynamics-guided stitch planner with Rollout Deviation Feedback, for a batch of bridges.

    ``reference`` (B, >= T+1, d) is the target state sequence (source state first, the target state at index
    Delta). Iteration 0 executes the inverse-dynamics actions a_t = f(s*_t, s*_t+1) open loop; iteration 1 feeds
    back the arrived state, a_t = f(x_t, s*_t+1); iterations 2.. take gradient steps on the actions down the
    deviation (plus a disagreement penalty) through the differentiable dynamics model, from the better of the two.

    The gradient step is Polyak's, ``eta * objective / ||gradient||^2`` per bridge: scale-free, so a bridge close
    to its target moves little and a far one a lot (no action moves more than ``max_move``). Each bridge keeps a
    step only if its objective falls (else eta shrinks x0.3; after a success it grows x1.5, up to 1): long model
    rollouts are chaotic, and an unchecked step can throw a bridge far off. The trace records every iterate."""
    inv, dyn = models.inverse, models.dynamics
    t_max = int(delta.max())
    ref = reference[:, : t_max + 1]
    inside = (torch.arange(t_max, device=ref.device)[None] < delta[:, None]).float()
    trace: dict[str, list[np.ndarray]] = {"deviation": [], "end": []}

    def evaluate(a: torch.Tensor) -> dict[str, torch.Tensor]:
        states, unc = rollout(dyn, ref[:, 0], a)
        dev, end = deviation(states, ref, delta)
        obj = dev + end_weight * end + uncertainty_weight * (unc**2 * inside).sum(1) / delta
        return {"objective": obj, "deviation": dev, "end": end, "states": states, "unc": unc, "actions": a}

    def record(it: dict[str, torch.Tensor]) -> None:
        trace["deviation"].append(it["deviation"].detach().cpu().numpy())
        trace["end"].append(it["end"].detach().cpu().numpy())

    def pick(take: torch.Tensor, new: dict, old: dict) -> dict[str, torch.Tensor]:
        return {k: torch.where(take.view(-1, *[1] * (v.dim() - 1)), v.detach(), old[k]) for k, v in new.items()}

    def with_grad(a: torch.Tensor) -> dict[str, torch.Tensor]:
        a = a.detach().requires_grad_(True)
        it = evaluate(a)
        (it["grad"],) = torch.autograd.grad(it["objective"].sum(), a)
        return {k: v.detach() for k, v in it.items()}

    requires = [p.requires_grad for p in dyn.parameters()]
    for p in dyn.parameters():
        p.requires_grad_(False)
    try:
        with torch.no_grad():
            cur = evaluate(inv(ref[:, :-1], ref[:, 1:]))  # open loop: DiffStitch's wrap-up actions
            record(cur)
            if feedback:  # closed loop: re-query inverse dynamics from where the model actually arrived
                x, acts = ref[:, 0], []
                for t in range(t_max):
                    acts.append(inv(x, ref[:, t + 1]))
                    x = dyn.predict(x, acts[-1])
                fb = evaluate(torch.stack(acts, 1))
                record(fb)
                cur = pick(fb["objective"] < cur["objective"], fb, cur)
        if feedback and iterations > 0:
            cur = with_grad(cur["actions"])
            eta = torch.full_like(cur["objective"], step)
            for _ in range(iterations):
                g2 = (cur["grad"] ** 2).sum(dim=(1, 2)).clamp(min=1e-12)
                move = ((eta * cur["objective"] / g2)[:, None, None] * cur["grad"]).clamp(-max_move, max_move)
                prop = with_grad((cur["actions"] - move).clamp(-1, 1))
                ok = prop["objective"] < cur["objective"]
                cur = pick(ok, prop, cur)
                eta = torch.where(ok, (eta * 1.5).clamp(max=1.0), eta * 0.3)
                record(cur)
    finally:
        for p, r in zip(dyn.parameters(), requires):
            p.requires_grad_(r)
    return Plan(
        cur["actions"].detach(),
        cur["states"].detach(),
        cur["unc"].detach(),
        cur["end"].detach(),
        {k: np.stack(v) for k, v in trace.items()},
    )


# ------------------------------------------------------------------------------------------------- the loop
def stitch(
    models: AstroModels,
    episodes: list[Episode],
    env: str,
    profile: Profile,
    cfg: AstroConfig | None = None,
    dataset_id: str = "",
    budget: int | None = None,
    max_iterations: int | None = None,
    progress: Callable[[dict], None] | None = None,
    resume_dir: Path | None = None,
) -> StitchResult:
    """Select pairs, plan and correct bridges in batches until ``budget`` accepted transitions (or the cap). With
    ``resume_dir`` (beside the models' checkpoint, :func:`checkpoint_dir`), a run stopped part-way continues to the
    same bridges, and a finished one is loaded instead of planned again (notebook 06 run twice, or after
    ``stitchkit augment astro``): the checkpoint holds the pair draws' and sampler's random states and the RDF
    deviation traces so far."""
    sz, az = ds.SIZES.of(profile), SIZES.of(profile)
    cfg = METHOD.resolve(cfg or AstroConfig(), dataset_id, profile)
    budget = az.budget if budget is None else budget
    max_iterations = az.max_iterations if max_iterations is None else max_iterations
    if cfg.sampler not in ("full", "strided"):
        raise ValueError(f"unknown sampler {cfg.sampler!r}; accepted: 'full', 'strided'")
    h = sz.horizon
    if cfg.d_max > h - 1 or cfg.d_min < 1 or cfg.d_min > cfg.d_max:
        raise ValueError(f"need 1 <= d_min <= d_max <= horizon - 1 = {h - 1}; got d_min={cfg.d_min}, d_max={cfg.d_max}")
    m = models.stitch
    dev = next(m.diffusion.parameters()).device
    rng = np.random.default_rng([cfg.seed, 59])
    gen = torch.Generator(device=dev).manual_seed(cfg.seed)
    starts = window_starts(episodes, h - 1)
    if len(starts) == 0:
        raise ValueError(f"no episode has {h} states; ASTRO's reference sampler needs windows of the horizon")
    flat = torch.as_tensor(m.cdf.normalize(np.concatenate([e.observations for e in episodes])), device=dev)
    offsets = np.r_[0, np.cumsum([len(e) + 1 for e in episodes])[:-1]]
    row = torch.as_tensor(offsets[starts[:, 0]] + starts[:, 1], device=dev)  # each start point's row in ``flat``
    rtg_eps = [discounted_rtg(e.rewards, cfg.gamma) for e in episodes]
    rtg = torch.as_tensor(
        np.array([rtg_eps[e][t] for e, t in starts]) / m.return_scale, dtype=torch.float32, device=dev
    )  # in units of the largest |RTG|, like the gains below
    mean_reward = float(np.concatenate([e.rewards for e in episodes]).mean()) / m.return_scale
    with torch.no_grad():
        emb = models.distance.to(dev).embed(flat[row])  # (P, latent)
    ref_pts = flat[torch.as_tensor(rng.choice(len(flat), size=min(len(flat), 4096), replace=False), device=dev)]
    nn_scale = float(torch.cdist(ref_pts[:512], ref_pts).topk(2, largest=False).values[:, 1].median().clamp(min=1e-6))
    ep_of = torch.as_tensor(starts[:, 0], device=dev)
    steps = None if cfg.sampler == "full" else sz.strided_steps
    traces: list[np.ndarray] = []
    u_max = cfg.uncertainty_factor * models.uncertainty_limit

    def propose() -> Proposal:
        """One batch: reachable targets by temporal distance, a reference bridge, the RDF planner, its checks."""
        b = az.stitch_batch
        src = torch.as_tensor(rng.integers(0, len(starts), b), device=dev)
        cand = torch.as_tensor(rng.integers(0, len(starts), (b, az.candidates)), device=dev)
        with torch.no_grad():
            dist = (emb[src][:, None] - emb[cand]).norm(dim=-1)
        gain = stitched_gain(dist.clamp(cfg.d_min, cfg.d_max), rtg[src], rtg[cand], mean_reward, cfg.gamma)
        same = ep_of[cand] == ep_of[src][:, None]
        pre = (dist >= cfg.d_min) & (dist <= cfg.d_max) & (gain > 0) & ~same
        nov = torch.zeros_like(dist)
        bi, ci = pre.nonzero(as_tuple=True)
        if len(bi):
            nov[bi, ci] = novelty(flat[row[src[bi]]], flat[row[cand[bi, ci]]], ref_pts, nn_scale)
        chosen, ok = select_pairs(dist, gain, nov, same, cfg.d_min, cfg.d_max, cfg.coverage_weight)
        tgt = cand[torch.arange(b, device=dev), chosen]
        keep = ok.nonzero(as_tuple=True)[0]
        if len(keep) == 0:
            return Proposal(b)
        src, tgt = src[keep], tgt[keep]
        delta = dist[keep, chosen[keep]].ceil().clamp(cfg.d_min, cfg.d_max).long()
        tgt_win = flat[row[tgt][:, None] + torch.arange(h, device=dev)]
        reference = ds.stitch_states(m.diffusion, flat[row[src]], tgt_win, delta, steps, gen, eta=cfg.ddim_eta)
        p = plan(
            m,
            reference,
            delta,
            cfg.iterations,
            az.rdf_step,
            cfg.uncertainty_weight,
            cfg.feedback,
            end_weight=cfg.end_weight,
        )
        traces.append(p.trace["deviation"].mean(1))
        t_max = p.states.shape[1] - 1
        states = p.states.clone()
        states[torch.arange(len(delta)), delta] = reference[torch.arange(len(delta)), delta]  # land exactly
        with torch.no_grad():
            err = ds.dynamics_error(m.dynamics, states, p.actions)
            rewards = m.reward(states[:, :-1], p.actions)
        worst, within = ds.qualify(err, delta, cfg.end_delta)
        inside = torch.arange(t_max, device=dev)[None] < delta[:, None]
        unc_ok = torch.where(inside, p.disagreement, torch.zeros_like(p.disagreement)).max(1).values <= u_max
        return Proposal(
            b,
            [(starts[i], starts[j]) for i, j in zip(src.cpu().numpy(), tgt.cpu().numpy())],
            delta.cpu().numpy(),
            m.cdf.unnormalize(states.cpu().numpy()),
            p.actions.cpu().numpy(),
            rewards.cpu().numpy().astype(np.float64),
            worst.cpu().numpy(),
            {"dynamics": within.cpu().numpy(), "uncertain": unc_ok.cpu().numpy()},
        )

    resume = None
    if resume_dir is not None:
        what = dict(dataset=dataset_id, config=asdict(cfg), sizes=(asdict(sz), asdict(az)), budget=budget)
        what["iterations"] = max_iterations

        def set_state(st: dict[str, Any]) -> None:
            rng.bit_generator.state, _ = st["rng"], gen.set_state(st["gen"])
            traces[:] = st["traces"]

        get_state = lambda: {"rng": rng.bit_generator.state, "gen": gen.get_state(), "traces": list(traces)}
        resume = Resume.under(resume_dir, what, get_state, set_state)
    bridges, eps, stats = stitch_loop(
        episodes,
        env,
        "astro",
        "ASTRO",
        propose,
        budget,
        max_iterations,
        "no_reachable_target",
        ("dynamics", "uncertain"),
        cfg.gamma,
        cfg.return_filter,
        progress,
        resume,
    )
    stats |= {
        "rdf_mean_deviation": np.mean(traces, 0).tolist() if traces else [],
        "uncertainty_limit": models.uncertainty_limit,
    }
    return StitchResult(eps, bridges, stats, cfg)


def config_key(dataset_id: str, profile: Profile, seed: int) -> str:
    """The folder ASTRO's models are cached under: one per (dataset, profile and its sizes, seed)."""
    sizes = asdict(ds.SIZES.of(profile)), asdict(SIZES.of(profile))
    return model_key(dataset_id, profile.name, *sizes, seed, temporal.EXPECTILE)


def summary(result: StitchResult) -> dict[str, Any]:
    return {"config": asdict(result.config), **result.stats}


def checkpoint_dir(dataset_id: str, profile: Profile, seed: int = 0) -> Path:
    """Where ASTRO's models for ``dataset_id`` are cached (``data/checkpoints/astro/<key>``); its ``stitching/``
    folder holds the stitching run's checkpoints (:func:`stitch`'s ``resume_dir``)."""
    from stitchkit.paths import data_dir

    return data_dir() / "checkpoints" / "astro" / config_key(dataset_id, profile, seed)


def cached_models(
    episodes: list[Episode], dataset_id: str, profile: Profile, seed: int = 0, log=print, device: str = "cpu"
) -> AstroModels:
    """ASTRO's models for ``dataset_id`` from the kit's checkpoint folders (``data/checkpoints/astro`` and, for
    DiffStitch's models underneath, ``data/checkpoints/diffstitch``), trained there first if missing: the one place
    every caller (``augment astro``, ``augment chain``, ``make data``) finds them."""
    from stitchkit.paths import data_dir

    root = data_dir() / "checkpoints"
    return train_models(
        episodes,
        profile,
        seed,
        checkpoint_dir=checkpoint_dir(dataset_id, profile, seed),
        diffstitch_dir=root / "diffstitch" / ds.config_key(dataset_id, profile, seed, False),
        log=log,
        device=device,
    )


def generate_dataset(job: Job) -> tuple[list[Episode], dict[str, Any]]:
    """``stitchkit augment astro``: DiffStitch's models (shared with a DiffStitch run on the same data) plus the
    temporal-distance encoder, then pair selection and RDF-corrected bridges until the profile's budget."""
    prof = job.profile
    models = cached_models(job.episodes, job.dataset_id, prof, job.seed, job.log, job.device)
    resume = checkpoint_dir(job.dataset_id, prof, job.seed) / "stitching"  # notebook 06 loads a finished run
    result = stitch(
        models, job.episodes, job.env, prof, job.config, job.dataset_id, progress=job.progress(), resume_dir=resume
    )
    quality = {k: v for k, v in models.quality.items() if k != "raw"}
    return result.episodes, {**summary(result), "distance_quality": quality}


def sized_defaults(profile: Profile) -> dict[str, Any]:
    """The options the profile sizes: the bridge-length window (DiffStitch's step-estimation window, whose models
    ASTRO reuses) and the RDF iterations."""
    s = ds.SIZES.of(profile)
    return {
        "d_min": float(s.window_low),
        "d_max": float(s.window_high - 1),
        "iterations": SIZES.of(profile).rdf_iterations,
    }


METHOD = Method(
    "astro",
    AstroConfig,
    generate_dataset,
    saves="source prefix + model-rollout bridge + target suffix",
    empty_hint="loosen the acceptance threshold (end_delta) or the uncertainty factor",
    sizes=(ds.SIZES, SIZES),
    defaults={key: {"end_delta": s["delta"]} for key, s in ds.SETTINGS.items()},  # DiffStitch's released deltas
    profile_defaults=sized_defaults,
)
