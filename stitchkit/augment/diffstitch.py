"""DiffStitch (Li et al., ICML 2024): stitch low-return behaviour to high-return behaviour with a state diffusion model.

The four modules of the paper, each a function below, all batched over a whole batch of bridges:

1. **Step estimation** (:func:`estimate_steps`): imagine H states from the source state s_T with the diffusion model;
   the bridge length Delta is the imagined position (in [low, high)) most cosine-similar to the target s'_1. A
   target is eligible when some imagined state reaches the similarity threshold; one eligible target is chosen at
   random (the released code's rule).
2. **State stitching** (:func:`stitch_states`): inpaint a fresh window (s_T, [MASK] x (Delta-1), s'_1, s'_2, ...):
   the Delta transitions from s_T to s'_1 are the bridge; both ends are exact dataset states.
3. **Wrap-up** (:func:`wrap_up`): actions from the inverse dynamics model, rewards from the reward model.
4. **Qualification** (:func:`qualify`): reject a bridge if any one-step dynamics error ||s_hat' - f(s_hat, a_hat)||^2
   (CDF space) exceeds delta, if a generated state is terminal, or (released code) if the stitched return-to-go
   would fall below the source's.

Pairs (:func:`pair_pools`): ``pairing="code"`` (default) draws sources from the top 30% and targets from the top 2%
of start points by discounted return-to-go, as the released code does - it produced the paper's numbers; the return
filter (computed on the true target, fixing the released code's index bug) then keeps only bridges that improve on
the source. ``pairing="paper"`` draws sources from the lower half of episodes by return and targets from the top
10%, the text's "low-reward to high-reward".

Output: whole stitched episodes (source prefix, bridge, target suffix) with :class:`Provenance`, so Decision
Transformer can train on them; TD3+BC/IQL/CQL sample only their bridge transitions as augmented data
(:func:`stitchkit.data.episodes.generated_transitions`), as the released code saves them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from stitchkit.augment.bridges import Proposal, Resume, StitchResult, discounted_rtg, stitch_loop
from stitchkit.augment.diffusion import StateDiffusion, diffusion_from_sizes, training_mask
from stitchkit.augment.method import Job, Method, model_key
from stitchkit.augment.models import DynamicsEnsemble, InverseDynamics, RewardModel, TransitionData, fit, fit_seconds
from stitchkit.data.episodes import Episode, transitions, window_starts, windows
from stitchkit.data.normalizers import EmpiricalCDF
from stitchkit.files import atomic_torch_save
from stitchkit.options import per_dataset
from stitchkit.profiles import Profile, SizeTable
from stitchkit.progress import bar, seconds_per_step

# The released code's per-dataset settings (detail_configs/): qualification threshold delta (CDF space, squared
# L2), cosine threshold, and the return label guidance samples toward (``test_ret`` x ``returns_scale`` 400, as a
# discounted return; used only when ``return_guidance`` > 0).
# The maze is the kit's own choice (see notebook 05): its states are 2-D positions.
# "*" is hopper-medium's, for datasets without their own. Keys: registry.dataset_keys (a subsample reads as its parent).
SETTINGS: dict[str, dict[str, float]] = {
    "*": dict(delta=1.5, similarity=0.80),
    "halfcheetah/medium": dict(delta=1.5, similarity=0.90),
    "halfcheetah/medium-replay": dict(delta=1.0, similarity=0.90),
    "halfcheetah/medium-expert": dict(delta=1.5, similarity=0.90),
    "hopper/medium": dict(delta=1.5, similarity=0.80, return_target=0.90 * 400),
    "hopper/medium-replay": dict(delta=0.8, similarity=0.90, return_target=0.85 * 400),
    "hopper/medium-expert": dict(delta=1.0, similarity=0.80, return_target=0.90 * 400),
    "walker2d/medium": dict(delta=1.2, similarity=0.90, return_target=0.92 * 400),
    "walker2d/medium-expert": dict(delta=1.2, similarity=0.90, return_target=0.80 * 400),
    "walker2d/medium-replay": dict(delta=1.2, similarity=0.90, return_target=368.0),  # no config: -medium's
    "pointmaze": dict(delta=0.025, similarity=0.99),
}


@dataclass(frozen=True)
class StitchSizes:
    """DiffStitch's models and stitching loop (notebook 05, ``stitchkit augment``). Paper/code values in comments."""

    horizon: int  # diffusion window H (100)
    unet_dim: int  # U-Net base channels (128)
    unet_mults: tuple[int, ...]  # channel multipliers per level (1, 4, 8)
    diffusion_steps: int  # K (100)
    strided_steps: int  # denoising steps of the strided (DDIM) sampler
    diffusion_train_steps: int  # (1M)
    diffusion_batch: int  # (32 x 2 accumulation = 64)
    diffusion_lr: float  # Adam step size (2e-4 over 1M steps; the CPU profiles' short runs need 1e-3)
    ema_start: int  # EMA starts here, updated every 10 steps (2,000)
    model_steps: int  # inverse dynamics, reward and dynamics models: gradient steps each
    model_batch: int  # (256)
    ensemble: int  # dynamics ensemble members (7; 5 elites)
    window_low: int  # step estimation looks at imagined positions [low, high) (10)
    window_high: int  # (40)
    stitch_batch: int  # bridges per iteration (64)
    candidates: int  # target candidates per bridge (512)
    budget: int  # accepted generated transitions to stop at (2M)
    max_iterations: int  # stop here even if the budget is not met (300k)


# DiffStitch's sizes per profile (``SIZES.of(profile)``); ASTRO, TATU and the chains reuse them for shared models
SIZES = SizeTable(
    "stitch",
    smoke=StitchSizes(
        horizon=24,
        unet_dim=8,
        unet_mults=(1, 2),
        diffusion_steps=10,
        strided_steps=2,
        diffusion_train_steps=30,
        diffusion_batch=8,
        diffusion_lr=0.001,
        ema_start=10,
        model_steps=30,
        model_batch=64,
        ensemble=3,
        window_low=4,
        window_high=12,
        stitch_batch=8,
        candidates=32,
        budget=200,
        max_iterations=3,
    ),
    lab=StitchSizes(
        horizon=64,
        unet_dim=32,
        unet_mults=(1, 2, 4),
        diffusion_steps=100,
        strided_steps=10,
        diffusion_train_steps=2500,
        diffusion_batch=64,
        diffusion_lr=0.001,
        ema_start=500,
        model_steps=3000,
        model_batch=256,
        ensemble=7,
        window_low=10,
        window_high=40,
        stitch_batch=64,
        candidates=512,
        budget=20_000,
        max_iterations=200,
    ),
    full=StitchSizes(
        horizon=100,
        unet_dim=128,
        unet_mults=(1, 4, 8),
        diffusion_steps=100,
        strided_steps=10,
        diffusion_train_steps=1_000_000,
        diffusion_batch=64,
        diffusion_lr=0.0002,
        ema_start=2000,
        model_steps=200_000,
        model_batch=256,
        ensemble=7,
        window_low=10,
        window_high=40,
        stitch_batch=64,
        candidates=512,
        budget=2_000_000,
        max_iterations=300_000,
    ),
)


def settings_for(dataset_id: str) -> dict[str, float]:
    """The per-dataset delta and similarity threshold (the table above, most specific entry winning)."""
    from stitchkit.data.registry import dataset_keys

    return per_dataset(SETTINGS, dataset_keys(dataset_id))


@dataclass
class DiffStitchConfig:
    """Everything that is a choice rather than a size (sizes come from the profile)."""

    pairing: Literal["code", "paper"] = (
        "code"  # "code": top-30% sources -> top-2% targets by RTG; "paper": low- -> high-return episodes
    )
    source_top: float = 0.30
    target_top: float = 0.02
    similarity: float | None = None  # cosine threshold; None: the dataset's setting
    delta: float | None = None  # qualification threshold; None: the dataset's setting
    step_estimation: bool = True  # False: the paper's "-TEstimation" ablation, Delta fixed, random target
    fixed_steps: int | None = None  # Delta when step estimation is off (default: the window's high end)
    qualification: bool = True  # False: the "-Qualification" ablation (dynamics check off; terminal check kept)
    return_filter: bool = True
    sampler: Literal["full", "strided"] = "full"  # ancestral (K steps) or DDIM (the profile's strided_steps)
    ddim_eta: float = 2.0  # strided sampler's per-step noise (0: deterministic DDIM; see StateDiffusion.sample)
    dynamics_guidance: float = 0.0  # > 0: per-step move (RMS, CDF units) of x0 toward dynamics consistency (kit's own)
    return_guidance: float = 0.0  # classifier-free guidance weight w (the released code: 1.2); 0: unconditional
    return_target: float | None = None  # guidance's label, a discounted return (released: test_ret x 400, hopper-mr
    # 340); None where the dataset has none: the median return-to-go of the target pool
    gamma: float = 0.99
    ratio: float = 4.0  # suggested original:augmented data ratio for training (the paper's Table 2 best for TD3+BC)
    seed: int = 0


# ------------------------------------------------------------------------------------------------- models
@dataclass
class DiffStitchModels:
    """The four trained models, the normalizer they share, and their training curves."""

    diffusion: StateDiffusion
    inverse: InverseDynamics
    reward: RewardModel
    dynamics: DynamicsEnsemble
    cdf: EmpiricalCDF
    return_scale: float
    curves: dict[str, list[dict]] = field(default_factory=dict)


def train_diffusion(
    model: StateDiffusion,
    episodes: list[Episode],
    cdf: EmpiricalCDF,
    sizes: StitchSizes,
    seed: int = 0,
    return_scale: float = 1.0,
    gamma: float = 0.99,
    checkpoint: Path | None = None,
    progress: Callable[[int, float], None] | None = None,
    device: str = "cpu",
    bf16: bool = False,
) -> list[dict]:
    """Adam (the profile's ``diffusion_lr``; the paper's 2e-4 at ``full``) on the mask-weighted epsilon loss over
    H-state windows that lie inside one episode
    (the released code pads windows past episode ends; the kit does not train on padding). Checkpoints every
    2,000 steps to ``checkpoint`` and resumes from it.

    ``bf16``: the U-Net's convolutions and matmuls run under bfloat16 autocast; weights, Adam and the loss stay
    float32. bfloat16 has float32's exponent range, so no loss scaling is needed (issue 32: the U-Net was the
    ``full`` grid's second cost on a GPU; ``benchmarks/gpu_check.py`` times both)."""
    h = sizes.horizon
    starts = window_starts(episodes, h - 1)
    if len(starts) == 0:
        raise ValueError(f"no episode has {h} states: DiffStitch needs episodes at least as long as its horizon")
    w = windows(episodes, starts, h - 1)
    x_all = torch.as_tensor(cdf.normalize(w["observations"]))
    rtg = np.concatenate([discounted_rtg(e.rewards, gamma) for e in episodes])
    offs = np.r_[0, np.cumsum([len(e) for e in episodes])[:-1]]
    ret_all = torch.as_tensor(rtg[offs[starts[:, 0]] + starts[:, 1]] / return_scale, dtype=torch.float32)
    opt = torch.optim.Adam(model.net.parameters(), lr=sizes.diffusion_lr)
    gen = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng([seed, 23])
    curve, step = [], 0
    if checkpoint is not None and checkpoint.exists():
        st = torch.load(checkpoint, weights_only=False)
        model.load_state_dict(st["model"]), opt.load_state_dict(st["opt"]), gen.set_state(st["gen"])
        rng.bit_generator.state, curve, step = st["rng"], st["curve"], st["step"]
        if "torch_rng" in st:  # the loss's noise and timesteps draw from torch's global generator
            torch.set_rng_state(st["torch_rng"])
    model.to(device)
    every = max(1, sizes.diffusion_train_steps // 50)
    running = []
    shown = bar(sizes.diffusion_train_steps, "DiffStitch diffusion", initial=step)
    while step < sizes.diffusion_train_steps:
        step += 1
        shown.update()
        idx = torch.as_tensor(rng.integers(0, len(x_all), sizes.diffusion_batch))
        known = training_mask(len(idx), h, gen)
        with torch.autocast(torch.device(device).type, dtype=torch.bfloat16, enabled=bf16):
            loss = model.loss(
                x_all[idx].to(device),
                known.to(device),
                ret_all[idx].to(device) if model.net.returns_condition else None,
                generator=None,
            ).float()
        if not torch.isfinite(loss):
            raise FloatingPointError(
                f"diffusion loss is {float(loss)} at step {step}: lower the learning rate or "
                "check the dataset for NaN/inf states"
            )
        opt.zero_grad()
        loss.backward()
        opt.step()
        model.update_ema(step, sizes.ema_start)
        running.append(loss.item())
        if step % every == 0 or step == sizes.diffusion_train_steps:
            curve.append({"step": step, "loss": float(np.mean(running))})
            running = []
            if progress:
                progress(step, curve[-1]["loss"])
        if checkpoint is not None and (step % 2000 == 0 or step == sizes.diffusion_train_steps):
            atomic_torch_save(
                checkpoint,
                {
                    "model": model.state_dict(),
                    "opt": opt.state_dict(),
                    "gen": gen.get_state(),
                    "rng": rng.bit_generator.state,
                    "curve": curve,
                    "step": step,
                    "torch_rng": torch.get_rng_state(),
                },
            )
    shown.close()
    return curve


def model_data(episodes: list[Episode], seed: int) -> tuple[EmpiricalCDF, TransitionData]:
    """The state normalizer every DiffStitch model shares (an empirical CDF) and the transitions the inverse
    dynamics, reward and dynamics models train on, in its space (``seed`` picks the held-out split)."""
    cdf = EmpiricalCDF.fit(np.concatenate([e.observations for e in episodes]))
    tr = transitions(episodes)
    data = TransitionData.from_arrays(
        cdf.normalize(tr["observations"]), tr["actions"], tr["rewards"], cdf.normalize(tr["next_observations"]), seed
    )
    return cdf, data


def estimate_train_seconds(
    episodes: list[Episode],
    profile: Profile,
    checkpoint_dir: Path | None = None,
    device: str = "cpu",
    probe: int = 40,
    returns_condition: bool = False,
) -> float:
    """Seconds :func:`train_models` will take here, said before it starts: ``probe`` steps of each model are timed
    on this machine (after two warm-up steps) and scaled to the profile's step counts; 0 when cached."""
    if checkpoint_dir is not None and (checkpoint_dir / "models.pt").exists():
        return 0.0
    sz = SIZES.of(profile)
    cdf, data = model_data(episodes, 0)
    obs_dim, act_dim = data.s.shape[1], data.a.shape[1]

    diffusion = diffusion_from_sizes(obs_dim, sz, returns_condition)
    per_step = seconds_per_step(
        lambda n: train_diffusion(diffusion, episodes, cdf, replace(sz, diffusion_train_steps=n), device=device), probe
    )
    return per_step * sz.diffusion_train_steps + sum(
        fit_seconds(m, data, sz.model_steps, sz.model_batch, members, device, probe)
        for m, members in (
            (InverseDynamics(obs_dim, act_dim), None),
            (RewardModel(obs_dim, act_dim), None),
            (DynamicsEnsemble(obs_dim, act_dim, sz.ensemble, min(5, sz.ensemble)), sz.ensemble),
        )
    )


def train_models(
    episodes: list[Episode],
    profile: Profile,
    seed: int = 0,
    returns_condition: bool = False,
    checkpoint_dir: Path | None = None,
    log=print,
    device: str = "cpu",
) -> DiffStitchModels:
    """Train the diffusion model, inverse dynamics, reward model and dynamics ensemble on ``episodes``.

    With ``checkpoint_dir`` finished models are saved there and reloaded instead of retrained; a build stopped
    part-way (a campaign's builds take hours and a session ends) keeps its three small models and resumes the
    diffusion model's training from its last checkpoint, random state included, so it ends as an uninterrupted
    build would."""
    sz = SIZES.of(profile)
    final = checkpoint_dir / "models.pt" if checkpoint_dir else None
    if final is not None and final.exists():
        log(f"DiffStitch models: loaded from {final}")
        return torch.load(final, weights_only=False)
    torch.manual_seed(seed)
    cdf, data = model_data(episodes, seed)
    obs_dim, act_dim = data.s.shape[1], data.a.shape[1]
    rtg = np.concatenate([discounted_rtg(e.rewards, 0.99) for e in episodes])
    return_scale = float(max(np.abs(rtg).max(), 1e-6))
    models = DiffStitchModels(
        diffusion_from_sizes(obs_dim, sz, returns_condition),
        InverseDynamics(obs_dim, act_dim),
        RewardModel(obs_dim, act_dim),
        DynamicsEnsemble(obs_dim, act_dim, sz.ensemble, min(5, sz.ensemble), seed=seed),
        cdf,
        return_scale,
    )
    small = checkpoint_dir / "small.pt" if checkpoint_dir else None
    if small is not None and small.exists():  # a build stopped during the diffusion model's training
        st = torch.load(small, weights_only=False)
        models.inverse, models.reward, models.dynamics = st["inverse"], st["reward"], st["dynamics"]
        models.curves.update(st["curves"])
        torch.set_rng_state(st["torch_rng"])  # where the uninterrupted build's diffusion training starts from
        log(f"DiffStitch: inverse dynamics, reward and dynamics models loaded from {small}")
    else:
        _fit_small_models(models, data, sz, seed, device, log)
        if small is not None:
            names = ("inverse", "reward", "dynamics")
            keep = {k: getattr(models, k) for k in names} | {"curves": {k: models.curves[k] for k in names}}
            atomic_torch_save(small, keep | {"torch_rng": torch.get_rng_state()})
    t0 = time.perf_counter()
    ckpt = checkpoint_dir / "diffusion.ckpt" if checkpoint_dir else None
    tenth = max(1, sz.diffusion_train_steps // 10)
    models.curves["diffusion"] = train_diffusion(
        models.diffusion,
        episodes,
        cdf,
        sz,
        seed,
        return_scale,
        checkpoint=ckpt,
        device=device,
        progress=lambda st, loss: log(f"  diffusion step {st}: loss {loss:.4f}") if st % tenth == 0 else None,
    )
    log(f"DiffStitch: diffusion model ({sz.diffusion_train_steps} steps) trained in {time.perf_counter() - t0:.0f} s")
    if final is not None:
        atomic_torch_save(final, models)
    return models


def _fit_small_models(models: DiffStitchModels, data: TransitionData, sz: StitchSizes, seed: int, device: str, log):
    """The inverse dynamics, reward and dynamics models (wrap-up and qualification), in place."""
    t0 = time.perf_counter()
    for m in (models.inverse, models.reward, models.dynamics):
        m.to(device)
    kw = dict(seed=seed, device=device)
    models.curves["inverse"] = fit(models.inverse, data, sz.model_steps, sz.model_batch, name="inverse", **kw)
    models.curves["reward"] = fit(models.reward, data, sz.model_steps, sz.model_batch, name="reward", **kw)
    models.curves["dynamics"] = fit(
        models.dynamics, data, sz.model_steps, sz.model_batch, members=sz.ensemble, name="dynamics", **kw
    )
    held = data.tensors(np.flatnonzero(data.holdout)[:8192], device)
    models.dynamics.choose_elites(held["s"], held["a"], held["s_next"])
    log(f"DiffStitch: inverse dynamics, reward and dynamics models trained in {time.perf_counter() - t0:.0f} s")


# ------------------------------------------------------------------------------------------------- pairs
@dataclass
class Pools:
    """Start points (episode, step) that leave a whole window, their discounted RTG, and the two pools."""

    starts: np.ndarray  # (P, 2)
    rtg: np.ndarray  # (P,)
    sources: np.ndarray  # indices into starts
    targets: np.ndarray  # indices into starts


def pair_pools(episodes: list[Episode], horizon: int, cfg: DiffStitchConfig) -> Pools:
    starts = window_starts(episodes, horizon - 1)
    if len(starts) == 0:
        raise ValueError(f"no episode has {horizon} states; DiffStitch needs windows of the horizon")
    rtg_eps = [discounted_rtg(e.rewards, cfg.gamma) for e in episodes]
    rtg = np.array([rtg_eps[e][t] for e, t in starts])
    order = np.argsort(-rtg, kind="stable")
    if cfg.pairing == "code":
        sources = order[: max(1, int(round(cfg.source_top * len(order))))]
        targets = order[: max(1, int(round(cfg.target_top * len(order))))]
    elif cfg.pairing == "paper":
        ret = np.array([e.ret for e in episodes])[starts[:, 0]]
        sources = np.flatnonzero(ret <= np.quantile(ret, 0.5))
        targets = np.flatnonzero(ret >= np.quantile(ret, 0.9))
    else:
        raise ValueError(f"unknown pairing {cfg.pairing!r}; accepted: 'code', 'paper'")
    return Pools(starts, rtg, sources, targets)


# ------------------------------------------------------------------------------------------------- the four modules
def cosine(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """cos between every imagined state a (B, P, d) and every candidate b (B, C, d) -> (B, P, C)."""
    a = a / a.norm(dim=-1, keepdim=True).clamp(min=1e-8)
    b = b / b.norm(dim=-1, keepdim=True).clamp(min=1e-8)
    return torch.einsum("bpd,bcd->bpc", a, b)


def estimate_steps(
    imagined: torch.Tensor, candidates: torch.Tensor, low: int, high: int, threshold: float, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Step estimation for a batch. Returns (chosen candidate (B,), Delta (B,), ok (B,)): among candidates whose
    best similarity over imagined positions [low, high) reaches ``threshold``, one at random; Delta = low + the
    argmax position for it. ``ok`` is false where no candidate qualifies."""
    sim = cosine(imagined[:, low:high], candidates)  # (B, P, C)
    best = sim.max(dim=1).values  # (B, C)
    eligible = best >= threshold
    score = (
        torch.rand(best.shape, generator=generator, device=best.device) + eligible.float()
    )  # eligible ones first, random order
    chosen = score.argmax(dim=1)
    delta = low + sim[torch.arange(len(chosen), device=sim.device), :, chosen].argmax(dim=1)
    return chosen, delta, eligible.any(dim=1)


def stitch_states(
    model: StateDiffusion,
    source: torch.Tensor,
    target_window: torch.Tensor,
    delta: torch.Tensor,
    steps: int | None,
    generator: torch.Generator,
    **sample_kw,
) -> torch.Tensor:
    """Inpaint (s_T, [MASK] x (Delta-1), s'_1, s'_2, ...) for a batch; ``target_window`` (B, H, d) holds each
    target's first states, placed from position Delta on."""
    b, h, d = target_window.shape
    pos = torch.arange(h, device=target_window.device)[None]
    known = (pos == 0) | (pos >= delta[:, None])
    src_idx = (pos - delta[:, None]).clamp(min=0)
    values = torch.gather(target_window, 1, src_idx[..., None].expand(b, h, d))
    values[:, 0] = source
    return model.sample(known, values, steps=steps, generator=generator, **sample_kw)


def wrap_up(inverse: InverseDynamics, reward: RewardModel, states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Actions a_t = f_psi(s_t, s_t+1) and rewards r_t = f_phi(s_t, a_t) for every consecutive pair (B, H-1)."""
    with torch.no_grad():
        a = inverse(states[:, :-1], states[:, 1:])
        return a, reward(states[:, :-1], a)


def dynamics_error(dynamics: DynamicsEnsemble, states: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """One-step errors ||s_t+1 - f(s_t, a_t)||^2 (CDF space) for every pair of a batch (B, H-1)."""
    b, n, d = states[:, :-1].shape
    pred = dynamics.predict(states[:, :-1].reshape(b * n, d), actions.reshape(b * n, -1)).reshape(b, n, d)
    return ((pred - states[:, 1:]) ** 2).sum(-1)


def qualify(step_error: torch.Tensor, delta: torch.Tensor, threshold: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Max one-step error over each bridge's Delta transitions, and whether it stays within ``threshold``."""
    inside = torch.arange(step_error.shape[1], device=step_error.device)[None] < delta[:, None]
    worst = torch.where(inside, step_error, torch.zeros_like(step_error)).max(dim=1).values
    return worst, worst <= threshold


def dynamics_guide(models: DiffStitchModels, delta: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """The kit's extension: a loss on a denoising step's x0 estimate - the bridge's summed one-step dynamics
    error under the wrap-up actions - whose gradient steers the sampler toward bridges that qualify."""

    def guide(x0: torch.Tensor) -> torch.Tensor:
        a = models.inverse(x0[:, :-1], x0[:, 1:])
        err = dynamics_error(models.dynamics, x0, a)
        inside = torch.arange(err.shape[1], device=err.device)[None] < delta[:, None]
        return (err * inside).sum(1)

    return guide


# ------------------------------------------------------------------------------------------------- the loop
def stitch(
    models: DiffStitchModels,
    episodes: list[Episode],
    env: str,
    profile: Profile,
    cfg: DiffStitchConfig | None = None,
    dataset_id: str = "",
    budget: int | None = None,
    max_iterations: int | None = None,
    progress: Callable[[dict], None] | None = None,
    resume_dir: Path | None = None,
) -> StitchResult:
    """Run the four modules in batches until ``budget`` accepted bridge transitions (or the iteration cap). With
    ``resume_dir`` (beside the models' checkpoint), a run stopped part-way continues from its last checkpoint to the
    same bridges (:class:`~stitchkit.augment.bridges.Resume`)."""
    sz = SIZES.of(profile)
    cfg = METHOD.resolve(cfg or DiffStitchConfig(), dataset_id, profile)
    budget = sz.budget if budget is None else budget
    max_iterations = sz.max_iterations if max_iterations is None else max_iterations
    h, lo, hi = sz.horizon, sz.window_low, sz.window_high
    if cfg.sampler not in ("full", "strided"):
        raise ValueError(f"unknown sampler {cfg.sampler!r}; accepted: 'full', 'strided'")
    steps = None if cfg.sampler == "full" else sz.strided_steps
    pools = pair_pools(episodes, h, cfg)
    rng = np.random.default_rng([cfg.seed, 29])
    dev = next(models.diffusion.parameters()).device
    gen = torch.Generator(device=dev).manual_seed(cfg.seed)
    cdf = models.cdf
    flat = torch.as_tensor(cdf.normalize(np.concatenate([e.observations for e in episodes])), device=dev)
    offsets = np.r_[0, np.cumsum([len(e) + 1 for e in episodes])[:-1]]
    start_flat = offsets[pools.starts[:, 0]] + pools.starts[:, 1]  # each start point's row in ``flat``
    sample_kw: dict[str, Any] = {"eta": cfg.ddim_eta}
    if cfg.return_guidance > 0:
        if not models.diffusion.net.returns_condition:
            raise ValueError("return_guidance needs a diffusion model trained with returns_condition=True")
        target = cfg.return_target if cfg.return_target is not None else np.quantile(pools.rtg[pools.targets], 0.5)
        label = float(target / models.return_scale)
        sample_kw |= {"return_weight": cfg.return_guidance}
    fixed = cfg.fixed_steps or hi

    def propose() -> Proposal:
        """One batch: step estimation, state stitching, wrap-up and the dynamics model's verdict."""
        b = sz.stitch_batch
        src_pick = pools.sources[rng.integers(0, len(pools.sources), b)]
        src_rows, src = pools.starts[src_pick], flat[torch.as_tensor(start_flat[src_pick], device=dev)]
        cand = pools.targets[rng.integers(0, len(pools.targets), (b, sz.candidates))]  # (B, C) start indices
        if cfg.return_guidance > 0:
            sample_kw["returns"] = torch.full((b,), label, device=dev)
        if cfg.step_estimation:
            known = torch.zeros(b, h, dtype=torch.bool, device=dev)
            known[:, 0] = True
            vals = torch.zeros(b, h, src.shape[1], device=dev)
            vals[:, 0] = src
            imagined = models.diffusion.sample(known, vals, steps=steps, generator=gen, **sample_kw)
            cand_states = flat[torch.as_tensor(start_flat[cand], device=dev)]  # (B, C, d), one gather
            chosen, delta, ok = estimate_steps(imagined, cand_states, lo, hi, cfg.similarity, gen)
        else:  # -TEstimation: a random target and a fixed Delta
            chosen = torch.as_tensor(rng.integers(0, sz.candidates, b), device=dev)
            delta = torch.full((b,), fixed, device=dev)
            ok = torch.ones(b, dtype=torch.bool, device=dev)
        keep = np.flatnonzero(ok.cpu().numpy())  # only sources with a similar target go on: the rest cost nothing more
        if len(keep) == 0:
            return Proposal(b)
        kt = torch.as_tensor(keep, device=dev)
        src, chosen, delta, src_rows = src[kt], chosen[kt], delta[kt], src_rows[keep]
        tgt_pick = cand[keep, chosen.cpu().numpy()]
        tgt_rows = pools.starts[tgt_pick]
        tgt_win = flat[torch.as_tensor(start_flat[tgt_pick][:, None] + np.arange(h), device=dev)]  # (K, H, d)
        kw = dict(sample_kw)
        if cfg.return_guidance > 0:
            kw["returns"] = sample_kw["returns"][kt]
        if cfg.dynamics_guidance > 0:
            kw |= {"guide": dynamics_guide(models, delta), "guide_scale": cfg.dynamics_guidance}
        states = stitch_states(models.diffusion, src, tgt_win, delta, steps, gen, **kw)
        actions, rewards = wrap_up(models.inverse, models.reward, states)
        with torch.no_grad():
            err = dynamics_error(models.dynamics, states, actions)
        worst, within = qualify(err, delta, cfg.delta)
        return Proposal(
            b,
            list(zip(src_rows, tgt_rows)),
            delta.cpu().numpy(),
            cdf.unnormalize(states.cpu().numpy()),
            actions.cpu().numpy(),
            rewards.cpu().numpy(),
            worst.cpu().numpy(),
            {"dynamics": within.cpu().numpy() | (not cfg.qualification)},  # -Qualification: the check always passes
        )

    resume = None
    if resume_dir is not None:
        what = dict(dataset=dataset_id, config=asdict(cfg), sizes=asdict(sz), budget=budget, iterations=max_iterations)

        def set_state(st: dict[str, Any]) -> None:
            rng.bit_generator.state, _ = st["rng"], gen.set_state(st["gen"])

        get_state = lambda: {"rng": rng.bit_generator.state, "gen": gen.get_state()}
        resume = Resume.under(resume_dir, what, get_state, set_state)
    bridges, eps, stats = stitch_loop(
        episodes,
        env,
        "diffstitch",
        "DiffStitch",
        propose,
        budget,
        max_iterations,
        "no_similar_target",
        ("dynamics",),
        cfg.gamma,
        cfg.return_filter,
        progress,
        resume,
    )
    return StitchResult(eps, bridges, stats, cfg)


def config_key(dataset_id: str, profile: Profile, seed: int, returns_condition: bool) -> str:
    """The folder name models are cached under: one set of models per (dataset, profile and its sizes, seed,
    conditioning); changing a size retrains."""
    return model_key(dataset_id, profile.name, asdict(SIZES.of(profile)), seed, returns_condition)


def summary(result: StitchResult) -> dict[str, Any]:
    return {"config": asdict(result.config), **result.stats}


def generate_dataset(job: Job) -> tuple[list[Episode], dict[str, Any]]:
    """``stitchkit augment diffstitch``: train (or reload) the four models, stitch until the profile's budget."""
    cfg, prof = job.config, job.profile
    cond, ckpt = cfg.return_guidance > 0, job.models_dir()  # METHOD.models_key's folder: a campaign carries it
    models = train_models(
        job.episodes, prof, job.seed, returns_condition=cond, checkpoint_dir=ckpt, log=job.log, device=job.device
    )
    resume = ckpt / "stitching"  # a paper-volume run generates for hours: it checkpoints and resumes here
    result = stitch(
        models, job.episodes, job.env, prof, cfg, job.dataset_id, progress=job.progress(), resume_dir=resume
    )
    return result.episodes, summary(result)


def inert(cfg: DiffStitchConfig) -> tuple[str, ...]:
    """Fields that act on nothing under the config's other settings: without guidance there is no label."""
    return ("return_target",) if cfg.return_guidance == 0 else ()


METHOD = Method(
    "diffstitch",
    DiffStitchConfig,
    generate_dataset,
    saves="source prefix + diffusion bridge + target suffix",
    empty_hint="loosen the qualification threshold (delta) or the similarity threshold",
    defaults=SETTINGS,
    sizes=(SIZES,),
    inert=inert,
    models_key=lambda d, prof, cfg: config_key(d, prof, cfg.seed, cfg.return_guidance > 0),  # guided: its own model
    paper={  # guangheli12/DiffStitch: detail_configs/hopper_medium_replay_v2.py, scripts/ (../shared diffstitch.md)
        "horizon": 100,
        "unet_dim": 128,
        "unet_mults": (1, 4, 8),
        "diffusion_train_steps": 1_000_000,
        "diffusion_lr": 2e-4,
        "sampler": "full (ancestral, K = 100 steps, twice per bridge)",
        "strided_steps": "- (no strided sampler)",
        "return_guidance": 1.2,
        "return_target": "test_ret x 400 (hopper-mr 340; walker2d-mr has no config)",
        "model_steps": "inverse dynamics trained with the diffusion model (1M); MOPO's ensemble to its early stop",
        "ensemble": 7,
        "delta": "per dataset (hopper-mr 0.8)",
        "budget": 2_000_000,
        "max_iterations": 300_000,
        "ratio": "not given for medium-replay (Table 2, halfcheetah-medium-expert: 4 : 1 best for TD3+BC)",
        "volume": "up to 2,000,000 (generate_limit) beside about 400k original: about 5 x the data",
    },
)
