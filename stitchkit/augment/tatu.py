"""TATU (Zhang et al. 2023, arXiv 2304.04660): short model rollouts, truncated by accumulated uncertainty.

DiffStitch's second Table 1 baseline, the "single-way rollout" family. Its model-free variant (the one DiffStitch
compares with, feeding TD3+BC / IQL):

1. a 7-member Gaussian ensemble dynamics model (4 x 200, MOPO-style; :class:`~stitchkit.augment.models.
   DynamicsEnsemble`) and a reward model learn the dataset's dynamics;
2. a behaviour **CVAE** (BCQ's) learns the dataset's actions;
3. from a batch of dataset states, roll out ``horizon`` (5) steps: actions from the CVAE, next states sampled
   from a random elite's Gaussian;
4. the uncertainty of a step is u = max_k ||mu_k - mean mu|| (the members' disagreement, raw state units). It is
   **accumulated** along each rollout, and the rollout is **truncated** once the sum reaches
   ``max_disc / pessimism``, where max_disc is the largest u over the offline dataset's own (s, a): a rollout may
   spend, in total, a fixed fraction of the worst uncertainty the model shows on real data;
5. rewards are penalised, r - lambda u, and the kept transitions fill a model buffer (twice the dataset at
   ``full``) that is mixed with the real data at ``real_ratio`` (0.7 real).

Rollouts are saved as short episodes (provenance ``kind="rollout"``, the dataset state they start from) - at most
``horizon`` steps from a mid-episode state, so Decision Transformer, which needs whole trajectories with their
returns to go, refuses them, as the DiffStitch paper does.

The kit's differences from the released code: states are z-scored for the models (the uncertainty is still
measured in raw units, by the std), rewards come from a separate reward model rather than the ensemble's extra
output, and the terminal function is the kit's :func:`stitchkit.envs.terminated`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from stitchkit.augment import diffstitch as ds
from stitchkit.augment.method import Job, Method, model_key
from stitchkit.data.episodes import Episode, Provenance, transitions
from stitchkit.data.normalizers import ZScore
from stitchkit.envs import terminated
from stitchkit.files import atomic_torch_save
from stitchkit.profiles import Profile, SizeTable
from stitchkit.progress import bar

from .models import DynamicsEnsemble, RewardModel, TransitionData, fit, fit_seconds


@dataclass(frozen=True)
class TatuSizes:
    """TATU, one of DiffStitch's Table 1 baselines (notebook 08, ``stitchkit augment tatu``). Its dynamics ensemble
    and reward model are DiffStitch's (the ``stitch`` sizes' ``model_steps`` and ``ensemble``). Paper/code values
    in comments."""

    vae_hidden: int  # behaviour CVAE width (BCQ's 750)
    rollout_batch: int  # rollouts started together from dataset states (5,000)
    transitions: int  # model transitions kept (the model-free variant: 2x the dataset)


# TATU's own sizes per profile (``SIZES.of(profile)``)
SIZES = SizeTable(
    "tatu",
    smoke=TatuSizes(vae_hidden=32, rollout_batch=64, transitions=200),
    lab=TatuSizes(vae_hidden=256, rollout_batch=2000, transitions=20_000),
    full=TatuSizes(vae_hidden=750, rollout_batch=5000, transitions=2_000_000),
)


@dataclass
class TATUConfig:
    seed: int = 0
    horizon: int = 5  # rollout length H (run_tatu_td3bc.sh, hopper-medium-replay)
    penalty: float = 1.5  # lambda: reward penalty per unit of uncertainty
    pessimism: float = 3.5  # a rollout is truncated once its summed uncertainty reaches max_disc / pessimism
    real_ratio: float = 0.7  # fraction of real transitions in a training batch
    transitions: int | None = None  # model transitions to keep (None: its sizes' ``transitions``)
    rollout_batch: int | None = None  # rollouts started together (None: its sizes' ``rollout_batch``)

    @property
    def ratio(self) -> float:
        """``real_ratio`` as the kit's original:augmented ratio r (0.7 -> 7:3)."""
        return self.real_ratio / (1 - self.real_ratio)


# ------------------------------------------------------------------------------------------------- behaviour
class BehaviourVAE(nn.Module):
    """BCQ's conditional VAE of the dataset's actions: q(z|s, a) and p(a|s, z), latent size 2|A|, KL weight 0.5.
    Sampling decodes z ~ N(0, I) clipped to [-0.5, 0.5], which keeps actions near the data's modes."""

    def __init__(self, obs_dim: int, act_dim: int, hidden: int = 750):
        super().__init__()
        self.latent = 2 * act_dim
        self.enc = nn.Sequential(
            nn.Linear(obs_dim + act_dim, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, 2 * self.latent),
        )
        self.dec = nn.Sequential(
            nn.Linear(obs_dim + self.latent, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, act_dim),
            nn.Tanh(),
        )

    def decode(self, s: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.dec(torch.cat([s, z], -1))

    def loss(self, b: dict[str, torch.Tensor]) -> torch.Tensor:
        mean, log_std = self.enc(torch.cat([b["s"], b["a"]], -1)).chunk(2, -1)
        log_std = log_std.clamp(-4, 15)
        z = mean + log_std.exp() * torch.randn_like(mean)
        recon = ((self.decode(b["s"], z) - b["a"]) ** 2).mean()
        kl = -0.5 * (1 + 2 * log_std - mean**2 - (2 * log_std).exp()).mean()
        return recon + 0.5 * kl

    @torch.no_grad()
    def sample(self, s: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        z = torch.randn(len(s), self.latent, generator=generator, device=s.device).clamp(-0.5, 0.5)
        return self.decode(s, z)

    @torch.no_grad()
    def held_out_error(self, b: dict[str, torch.Tensor]) -> torch.Tensor:
        """Action MSE of the sampled action (what the rollouts use), not of the reconstruction."""
        return ((self.sample(b["s"]) - b["a"]) ** 2).mean()


# ------------------------------------------------------------------------------------------------- models
@dataclass
class TATUModels:
    dynamics: DynamicsEnsemble  # over z-scored states
    reward: RewardModel
    behaviour: BehaviourVAE
    norm: ZScore  # states
    max_disc: float  # the largest uncertainty over the dataset's own (s, a), raw units
    dataset_disc: np.ndarray  # every dataset transition's uncertainty (for the notebook's histogram)
    curves: dict[str, list[dict]] = field(default_factory=dict)

    def scale(self, device: str = "cpu") -> torch.Tensor:
        return torch.as_tensor(self.norm.std + self.norm.eps, dtype=torch.float32, device=device)


def estimate_train_seconds(
    episodes: list[Episode], profile: Profile, checkpoint_dir: Path | None = None, device: str = "cpu", probe: int = 20
) -> float:
    """Seconds :func:`train_models` will take here, said before it starts: each of the three models' fit loop timed
    on this machine (:func:`~stitchkit.augment.models.fit_seconds`); 0 when the models are cached.

    Why the fit loops alone, not the whole of ``train_models`` shortened: its set-up (the data, and the disagreement
    on every dataset transition) costs seconds that vary by more than a short probe's steps, and its loops log a
    held-out error at every step of a short probe; together they made the estimate 5x too high."""
    if checkpoint_dir is not None and (checkpoint_dir / "models.pt").exists():
        return 0.0
    sz = ds.SIZES.of(profile)
    tr = transitions(episodes)
    data = TransitionData.from_arrays(tr["observations"], tr["actions"], tr["rewards"], tr["next_observations"], 0)
    obs_dim, act_dim = tr["observations"].shape[1], tr["actions"].shape[1]
    return sum(
        fit_seconds(m, data, sz.model_steps, sz.model_batch, members, device, probe)
        for m, members in (
            (DynamicsEnsemble(obs_dim, act_dim, sz.ensemble, min(5, sz.ensemble)), sz.ensemble),
            (RewardModel(obs_dim, act_dim), None),
            (BehaviourVAE(obs_dim, act_dim, SIZES.of(profile).vae_hidden), None),
        )
    )


def train_models(
    episodes: list[Episode],
    profile: Profile,
    seed: int = 0,
    checkpoint_dir: Path | None = None,
    log=print,
    device: str = "cpu",
) -> TATUModels:
    """Train the dynamics ensemble, reward model and behaviour CVAE, then measure max_disc on the dataset. A
    finished set is saved to (and reloaded from) ``checkpoint_dir``."""
    sz = ds.SIZES.of(profile)
    final = checkpoint_dir / "models.pt" if checkpoint_dir else None
    if final is not None and final.exists():
        log(f"TATU models: loaded from {final}")
        return torch.load(final, weights_only=False)
    torch.manual_seed(seed)
    tr = transitions(episodes)
    norm = ZScore.fit(tr["observations"])
    data = TransitionData.from_arrays(
        norm.normalize(tr["observations"]), tr["actions"], tr["rewards"], norm.normalize(tr["next_observations"]), seed
    )
    obs_dim, act_dim = tr["observations"].shape[1], tr["actions"].shape[1]
    dyn = DynamicsEnsemble(obs_dim, act_dim, sz.ensemble, min(5, sz.ensemble), seed=seed).to(device)
    rew = RewardModel(obs_dim, act_dim).to(device)
    vae = BehaviourVAE(obs_dim, act_dim, SIZES.of(profile).vae_hidden).to(device)
    t0 = time.perf_counter()
    curves = {
        "dynamics": fit(
            dyn, data, sz.model_steps, sz.model_batch, seed=seed, members=sz.ensemble, name="dynamics", device=device
        ),
        "reward": fit(rew, data, sz.model_steps, sz.model_batch, seed=seed, name="reward", device=device),
        "behaviour": fit(vae, data, sz.model_steps, sz.model_batch, seed=seed, name="behaviour", device=device),
    }
    held = data.tensors(np.flatnonzero(data.holdout)[:8192], device)
    dyn.choose_elites(held["s"], held["a"], held["s_next"])
    models = TATUModels(dyn, rew, vae, norm, 0.0, np.zeros(0), curves)
    models.dataset_disc = dataset_uncertainty(models, data.s, data.a, device)
    models.max_disc = float(models.dataset_disc.max())
    log(
        f"TATU: dynamics, reward and behaviour models trained in {time.perf_counter() - t0:.0f} s; "
        f"max_disc {models.max_disc:.3g}"
    )
    if final is not None:
        atomic_torch_save(final, models)
    return models


@torch.no_grad()
def dataset_uncertainty(
    models: TATUModels, s: np.ndarray, a: np.ndarray, device: str = "cpu", chunk: int = 16_384
) -> np.ndarray:
    """u(s, a) for every dataset transition (z-scored s), raw state units."""
    out, scale = [], models.scale(device)
    for i in range(0, len(s), chunk):
        st = torch.as_tensor(s[i : i + chunk], device=device)
        at = torch.as_tensor(a[i : i + chunk], device=device)
        out.append(models.dynamics.predict_with_disagreement(st, at, scale)[1].cpu().numpy())
    return np.concatenate(out)


# ------------------------------------------------------------------------------------------------- rollouts
@dataclass
class Rollouts:
    """One batch of H-step rollouts, (B, H, ...) arrays in raw units, with a ``kept`` mask per step."""

    observations: np.ndarray  # (B, H + 1, d)
    actions: np.ndarray  # (B, H, |A|)
    rewards: np.ndarray  # (B, H) penalised
    raw_rewards: np.ndarray  # (B, H) the reward model's, before the penalty
    uncertainty: np.ndarray  # (B, H)
    terminals: np.ndarray  # (B, H) bool
    kept: np.ndarray  # (B, H) bool: a prefix of each row
    starts: np.ndarray  # (B, 2) dataset (episode, step) each rollout starts from


def keep_mask(u: np.ndarray, terminals: np.ndarray, threshold: float) -> np.ndarray:
    """TATU's truncation for (B, H) uncertainties: step t is kept while u_1 + ... + u_t < threshold and no earlier
    step was terminal (a terminal step itself is kept: its transition is real information, then the rollout ends)."""
    within = np.cumsum(u, 1) < threshold
    ended_before = np.concatenate([np.zeros((len(u), 1), bool), np.cumsum(terminals, 1)[:, :-1] > 0], 1)
    return np.cumprod(within & ~ended_before, 1).astype(bool)


@torch.no_grad()
def rollout(
    models: TATUModels,
    env: str,
    start_obs: np.ndarray,
    cfg: TATUConfig,
    generator: torch.Generator,
    device: str = "cpu",
) -> Rollouts:
    """Roll the learned model out from ``start_obs`` (raw) for ``cfg.horizon`` steps and apply TATU's truncation
    and penalty. A step is kept while the rollout is alive and its summed uncertainty, this step included, stays
    below max_disc / pessimism; a terminal step is kept and ends the rollout."""
    b, h = len(start_obs), cfg.horizon
    threshold = models.max_disc / cfg.pessimism
    scale = models.scale(device)
    s = torch.as_tensor(models.norm.normalize(start_obs), device=device)
    obs, acts, rews, us = [s], [], [], []
    ens = models.dynamics
    for _ in range(h):
        a = models.behaviour.sample(s, generator)
        mu, logvar = ens(s, a)
        mean = mu[ens.elite_idx].mean(0)
        u = ((mu[ens.elite_idx] - mean) * scale).norm(dim=-1).max(0).values
        pick = ens.elite_idx[torch.randint(len(ens.elite_idx), (b,), generator=generator, device=device)]
        rows = torch.arange(b, device=device)
        noise = torch.randn(mean.shape, generator=generator, device=device)
        s_next = mu[pick, rows] + (logvar[pick, rows] / 2).exp() * noise
        rews.append(models.reward(s, a))
        acts.append(a), us.append(u), obs.append(s_next)
        s = s_next
    raw_obs = models.norm.unnormalize(torch.stack(obs, 1).cpu().numpy())
    u = torch.stack(us, 1).cpu().numpy()
    term = terminated(env, raw_obs[:, 1:])
    kept = keep_mask(u, term, threshold)
    raw_r = torch.stack(rews, 1).cpu().numpy()
    return Rollouts(
        raw_obs,
        torch.stack(acts, 1).cpu().numpy(),
        raw_r - cfg.penalty * u,
        raw_r,
        u,
        term,
        kept,
        np.zeros((b, 2), np.int64),
    )


def to_episodes(r: Rollouts, first_id: int = 0) -> list[Episode]:
    """Each rollout's kept prefix as a short episode; rollouts with no kept step give none."""
    out = []
    for i, n in enumerate(r.kept.sum(1)):
        if n == 0:
            continue
        term = r.terminals[i, :n].copy()
        trunc = np.zeros(n, bool)
        trunc[-1] = not term[-1]
        prov = Provenance(
            kind="rollout", method="tatu", source_episode=int(r.starts[i, 0]), source_step=int(r.starts[i, 1])
        )
        out.append(
            Episode(
                r.observations[i, : n + 1],
                r.actions[i, :n],
                r.rewards[i, :n].astype(np.float32),
                term,
                trunc,
                provenance=prov,
                id=first_id + len(out),
            )
        )
    return out


@dataclass
class TATUResult:
    episodes: list[Episode]
    config: TATUConfig
    stats: dict[str, Any]
    uncertainty: np.ndarray  # every kept step's u


def generate(
    models: TATUModels,
    episodes: list[Episode],
    env: str,
    profile: Profile,
    cfg: TATUConfig,
    device: str = "cpu",
    progress: Callable[[dict], None] | None = None,
) -> TATUResult:
    """Roll out from uniformly drawn dataset states, batch after batch, until ``cfg.transitions`` kept model
    transitions (the last rollouts are cut to the budget). Stops early if 20 batches in a row keep nothing."""
    sz = SIZES.of(profile)
    budget, batch = cfg.transitions or sz.transitions, cfg.rollout_batch or sz.rollout_batch
    tr = transitions(episodes)
    rng = np.random.default_rng([cfg.seed, 31])
    gen = torch.Generator(device=device).manual_seed(cfg.seed)
    out, us, kept_steps, started, it, empty, t0 = [], [], 0, 0, 0, 0, time.perf_counter()
    lengths = np.zeros(cfg.horizon + 1, np.int64)
    shown = bar(budget, "TATU rollouts", unit="transition")
    while kept_steps < budget and empty < 20:
        shown.update(max(0, min(kept_steps, budget) - shown.n))
        idx = rng.integers(0, len(tr["observations"]), batch)
        r = rollout(models, env, tr["observations"][idx], cfg, gen, device)
        r.starts = np.stack([tr["episode"][idx], tr["step"][idx]], 1)
        lengths += np.bincount(r.kept.sum(1), minlength=cfg.horizon + 1)
        new = to_episodes(r, first_id=len(out))
        for ep in new:
            if kept_steps >= budget:
                break
            n = min(len(ep), budget - kept_steps)
            if n < len(ep):  # the budget's last rollout, cut
                ep = Episode(
                    ep.observations[: n + 1],
                    ep.actions[:n],
                    ep.rewards[:n],
                    ep.terminations[:n],
                    np.r_[np.zeros(n - 1, bool), ~ep.terminations[n - 1 : n]],
                    provenance=ep.provenance,
                    id=ep.id,
                )
            out.append(ep)
            kept_steps += n
        us.append(r.uncertainty[r.kept])
        started, it = started + batch, it + 1
        empty = empty + 1 if not new else 0
        if progress:
            progress({"iteration": it, "accepted": len(out), "generated": started, "accepted_steps": kept_steps})
    shown.update(max(0, min(kept_steps, budget) - shown.n))
    shown.close()
    seconds = time.perf_counter() - t0
    stats = {
        "iterations": it,
        "rollouts": started,
        "accepted_rollouts": len(out),
        "accepted_transitions": kept_steps,
        "seconds": round(seconds, 2),
        "accepted_transitions_per_s": round(kept_steps / max(seconds, 1e-9), 1),
        "max_disc": models.max_disc,
        "threshold": models.max_disc / cfg.pessimism,
        "rollout_lengths": lengths.tolist(),
        "mean_kept_length": float((lengths * np.arange(len(lengths))).sum() / max(lengths.sum(), 1)),
        "ratio": cfg.ratio,
    }
    return TATUResult(out, cfg, stats, np.concatenate(us) if us else np.zeros(0))


def summary(result: TATUResult) -> dict[str, Any]:
    return {"config": asdict(result.config), **result.stats}


def config_key(dataset_id: str, profile: Profile, seed: int) -> str:
    """Checkpoint folder name: one set of models per dataset (its contents), profile sizes and seed (the dynamics
    ensemble and reward model are sized by DiffStitch's ``stitch`` sizes, the behaviour CVAE by its own)."""
    return model_key(dataset_id, profile.name, asdict(ds.SIZES.of(profile)), asdict(SIZES.of(profile)), seed)


def generate_dataset(job: Job) -> tuple[list[Episode], dict[str, Any]]:
    """``stitchkit augment tatu``: train (or reload) the ensemble, reward model and behaviour CVAE, then roll out."""
    prof = job.profile
    models = train_models(
        job.episodes,
        prof,
        job.seed,
        job.checkpoint_dir("tatu", config_key(job.dataset_id, prof, job.seed)),
        log=job.log,
        device=job.device,
    )
    result = generate(models, job.episodes, job.env, prof, job.config, device=job.device, progress=job.progress())
    return result.episodes, summary(result)


METHOD = Method(
    "tatu",
    TATUConfig,
    generate_dataset,
    saves="a short (<= 5 step) model rollout from a dataset state",
    empty_hint="lower the pessimism coefficient (--option pessimism=1)",
    # hopper's 3.5 keeps nothing on the maze, whose ensemble disagreement has no tail (notebook 08's sweep)
    defaults={"maze": {"pessimism": 0.5}},
    sizes=(ds.SIZES, SIZES),
    paper={  # TATU (Zhang et al., 2023): run_tatu_td3bc.sh (hopper-medium-replay), its defaults
        "horizon": 5,
        "penalty": 1.5,
        "pessimism": 3.5,
        "ensemble": 7,
        "rollout_batch": 5000,
        "vae_hidden": 750,
        "transitions": "2 x the dataset, filled once before training",
        "ratio": "7 : 3 (real_ratio 0.7)",
        "volume": "2 x the dataset",
    },
)
