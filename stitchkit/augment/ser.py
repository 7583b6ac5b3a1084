"""SER (SynthER; Lu, Ball, Teh & Parker-Holder, NeurIPS 2023): diffusion over single transitions.

DiffStitch's first Table 1 baseline. Where DiffStitch generates *trajectories* that connect two episodes, SER
learns the joint distribution of one transition x = [s, a, r, s', done] and samples new ones from it:

1. stack every transition of the dataset as a vector, z-score it (``done`` stays 0/1),
2. fit an **unconditional EDM diffusion model** (Karras et al. 2022) with a residual-MLP denoiser,
3. sample, threshold ``done`` at 0.5, and hand the synthetic transitions to any transition learner.

Its output is a *bag of transitions*: nothing says which transition follows which, so a sample is saved as a
one-step episode (provenance ``kind="synthetic"``), TD3+BC/IQL/CQL/BC can train on it, and Decision Transformer,
which needs whole trajectories, refuses it (``stitchkit.train.run``).

The EDM pieces, as in Karras et al. (Table 1, "ours"): preconditioning c_skip, c_out, c_in, c_noise with
sigma_data = 1; training noise ln sigma ~ N(-1.2, 1.2^2) with loss weight (sigma^2 + sigma_data^2) / (sigma
sigma_data)^2; sampling by Heun's method on the rho = 7 schedule from sigma_max 80 to sigma_min 0.002, with
"churn" noise (SynthER's S_churn 80, S_tmin 0.05, S_tmax 50, S_noise 1.003). Sizes by profile (``baselines``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from stitchkit.augment.method import Job, Method, estimate_by_shortening, model_key
from stitchkit.data.episodes import Episode, Provenance, transitions
from stitchkit.files import atomic_torch_save
from stitchkit.profiles import Profile, SizeTable
from stitchkit.progress import bar


@dataclass(frozen=True)
class SerSizes:
    """SER (SynthER), one of DiffStitch's Table 1 baselines (notebook 08, ``stitchkit augment ser``). Paper/code
    values in comments."""

    width: int  # residual-MLP denoiser width (SynthER: 2048)
    depth: int  # residual blocks (6)
    train_steps: int  # (100k)
    batch: int  # (1024)
    lr: float  # AdamW with a cosine schedule (3e-4; the CPU profiles' short runs need 1e-3)
    sample_steps: int  # EDM (Heun) sampler steps (128)
    samples: int  # synthetic transitions kept (5M; the kit: 1M at full; stored packed: data.packing)


# SER's sizes per profile (``SIZES.of(profile)``)
SIZES = SizeTable(
    "ser",
    smoke=SerSizes(width=32, depth=2, train_steps=50, batch=64, lr=0.001, sample_steps=4, samples=200),
    lab=SerSizes(width=512, depth=4, train_steps=5000, batch=256, lr=0.001, sample_steps=32, samples=20_000),
    full=SerSizes(width=2048, depth=6, train_steps=100_000, batch=1024, lr=0.0003, sample_steps=128, samples=1_000_000),
)


@dataclass
class SERConfig:
    seed: int = 0
    samples: int | None = None  # synthetic transitions to keep (None: its sizes' ``samples``)
    sample_steps: int | None = None  # EDM sampler steps (None: its sizes' ``sample_steps``; SynthER 128)
    s_churn: float = 80.0  # SynthER's sampler settings (config/resmlp_denoiser.gin)
    s_tmin: float = 0.05
    s_tmax: float = 50.0
    s_noise: float = 1.003
    sigma_min: float = 0.002  # EDM defaults
    sigma_max: float = 80.0
    rho: float = 7.0
    clip_actions: bool = True  # the kit's: actions outside the action box [-1, 1] are clipped (SynthER keeps them)
    ratio: float = 1.0  # suggested original:synthetic ratio (SynthER's offline runs use synthetic data only)


# ------------------------------------------------------------------------------------------------- data
@dataclass
class TransitionCodec:
    """[s, a, r, s', done] <-> z-scored vectors. ``done`` is left as 0/1 and read back as ``done > 0.5``."""

    obs_dim: int
    act_dim: int
    mean: np.ndarray  # over the z-scored columns [s, a, r, s']
    std: np.ndarray

    @classmethod
    def fit(cls, tr: dict[str, np.ndarray]) -> TransitionCodec:
        raw = _stack(tr)[:, :-1].astype(np.float64)
        return cls(tr["observations"].shape[1], tr["actions"].shape[1], raw.mean(0), raw.std(0) + 1e-3)

    @property
    def dim(self) -> int:
        return 2 * self.obs_dim + self.act_dim + 2

    def encode(self, tr: dict[str, np.ndarray]) -> np.ndarray:
        x = _stack(tr)
        x[:, :-1] = (x[:, :-1] - self.mean) / self.std
        return x.astype(np.float32)

    def decode(self, x: np.ndarray) -> dict[str, np.ndarray]:
        x = np.asarray(x, np.float64)
        raw = x[:, :-1] * self.std + self.mean
        o, a = self.obs_dim, self.act_dim
        return {
            "observations": raw[:, :o].astype(np.float32),
            "actions": raw[:, o : o + a].astype(np.float32),
            "rewards": raw[:, o + a].astype(np.float32),
            "next_observations": raw[:, o + a + 1 :].astype(np.float32),
            "terminals": (x[:, -1] > 0.5),
        }


def _stack(tr: dict[str, np.ndarray]) -> np.ndarray:
    return np.concatenate(
        [tr["observations"], tr["actions"], tr["rewards"][:, None], tr["next_observations"], tr["terminals"][:, None]],
        1,
    ).astype(np.float64)


# ------------------------------------------------------------------------------------------------- network
class ResidualBlock(nn.Module):
    """x + W act(LayerNorm(x)): the pre-norm residual block of SynthER's denoiser."""

    def __init__(self, width: int):
        super().__init__()
        self.norm, self.linear = nn.LayerNorm(width), nn.Linear(width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.linear(nn.functional.silu(self.norm(x)))


class ResidualMLPDenoiser(nn.Module):
    """F(x, c_noise): the noise level enters as random Fourier features (fixed Gaussian frequencies) through a
    small MLP, concatenated to the input; then ``depth`` residual blocks of ``width``."""

    def __init__(self, dim: int, width: int, depth: int, time_dim: int = 128, seed: int = 0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.register_buffer("freqs", torch.randn(time_dim // 2, generator=g))
        self.time = nn.Sequential(nn.Linear(time_dim + 1, time_dim), nn.SiLU(), nn.Linear(time_dim, time_dim))
        self.proj = nn.Linear(dim + time_dim, width)
        self.blocks = nn.Sequential(*[ResidualBlock(width) for _ in range(depth)])
        self.out = nn.Sequential(nn.LayerNorm(width), nn.SiLU(), nn.Linear(width, dim))

    def forward(self, x: torch.Tensor, c_noise: torch.Tensor) -> torch.Tensor:
        f = 2 * math.pi * c_noise[:, None] * self.freqs
        t = self.time(torch.cat([c_noise[:, None], f.sin(), f.cos()], -1))
        return self.out(self.blocks(self.proj(torch.cat([x, t], -1))))


class EDM(nn.Module):
    """Karras et al.'s preconditioned denoiser D(x; sigma) = c_skip x + c_out F(c_in x, c_noise), its loss and
    its sampler. sigma_data = 1: the data are z-scored."""

    P_MEAN, P_STD = -1.2, 1.2

    def __init__(self, dim: int, width: int, depth: int, sigma_data: float = 1.0, seed: int = 0):
        super().__init__()
        torch.manual_seed(seed)
        self.net = ResidualMLPDenoiser(dim, width, depth, seed=seed)
        self.dim, self.sigma_data = dim, sigma_data

    def denoise(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        sd, s = self.sigma_data, sigma[:, None]
        c_skip = sd**2 / (s**2 + sd**2)
        c_out = s * sd / (s**2 + sd**2).sqrt()
        c_in = 1 / (s**2 + sd**2).sqrt()
        return c_skip * x + c_out * self.net(c_in * x, sigma.log() / 4)

    def loss(self, x0: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Denoising score matching at ln sigma ~ N(P_MEAN, P_STD^2), weighted so every noise level's target has
        unit variance (EDM eq. 8 with lambda(sigma) = (sigma^2 + sigma_data^2) / (sigma sigma_data)^2)."""
        n = len(x0)
        sigma = (torch.randn(n, generator=generator, device=x0.device) * self.P_STD + self.P_MEAN).exp()
        noisy = x0 + torch.randn(x0.shape, generator=generator, device=x0.device) * sigma[:, None]
        w = (sigma**2 + self.sigma_data**2) / (sigma * self.sigma_data) ** 2
        return (w[:, None] * (self.denoise(noisy, sigma) - x0) ** 2).mean()

    @torch.no_grad()
    def sample(
        self, n: int, cfg: SERConfig, steps: int, generator: torch.Generator | None = None, device: str = "cpu"
    ) -> torch.Tensor:
        """EDM's stochastic sampler (Karras et al. Algorithm 2): Heun steps down the rho-schedule; between
        S_tmin and S_tmax each step first raises the noise by a factor (1 + gamma) ("churn") and re-adds noise."""
        i = torch.arange(steps, dtype=torch.float64)
        inv = 1 / cfg.rho
        sig = (cfg.sigma_max**inv + i / max(steps - 1, 1) * (cfg.sigma_min**inv - cfg.sigma_max**inv)) ** cfg.rho
        sig = torch.cat([sig, sig.new_zeros(1)]).float().tolist()
        x = torch.randn(n, self.dim, generator=generator, device=device) * sig[0]
        gamma_max = min(cfg.s_churn / steps, math.sqrt(2) - 1)
        for k in range(steps):
            s_cur, s_next = sig[k], sig[k + 1]
            gamma = gamma_max if cfg.s_tmin <= s_cur <= cfg.s_tmax else 0.0
            s_hat = s_cur * (1 + gamma)
            if gamma > 0:
                eps = torch.randn(x.shape, generator=generator, device=device) * cfg.s_noise
                x = x + math.sqrt(s_hat**2 - s_cur**2) * eps
            d = (x - self.denoise(x, x.new_full((n,), s_hat))) / s_hat
            x_next = x + (s_next - s_hat) * d
            if s_next > 0:  # Heun's second-order correction
                d2 = (x_next - self.denoise(x_next, x.new_full((n,), s_next))) / s_next
                x_next = x + (s_next - s_hat) * (d + d2) / 2
            x = x_next
        return x


# ------------------------------------------------------------------------------------------------- training
@dataclass
class SERModels:
    edm: EDM
    codec: TransitionCodec
    curve: list[dict] = field(default_factory=list)


def estimate_train_seconds(
    episodes: list[Episode], profile: Profile, checkpoint_dir: Path | None = None, device: str = "cpu", probe: int = 20
) -> float:
    """Seconds :func:`train_models` will take here, said before it starts: ``probe`` training steps timed on this
    machine, scaled to the profile's; 0 when the model is cached."""
    return estimate_by_shortening(train_models, episodes, profile, SIZES, "train_steps", checkpoint_dir, device, probe)


def train_models(
    episodes: list[Episode],
    profile: Profile,
    seed: int = 0,
    checkpoint_dir: Path | None = None,
    log=print,
    device: str = "cpu",
) -> SERModels:
    """Fit the EDM model on the dataset's transitions: AdamW (weight decay 0) with a cosine schedule, the profile's
    steps and batch. Checkpoints every 10% to ``checkpoint_dir`` and resumes from there; a finished model is
    reloaded instead of retrained."""
    sz = SIZES.of(profile)
    final = checkpoint_dir / "models.pt" if checkpoint_dir else None
    if final is not None and final.exists():
        log(f"SER model: loaded from {final}")
        return torch.load(final, weights_only=False)
    tr = transitions(episodes)
    codec = TransitionCodec.fit(tr)
    x_all = torch.as_tensor(codec.encode(tr))
    models = SERModels(EDM(codec.dim, sz.width, sz.depth, seed=seed), codec)
    models.edm.to(device)
    opt = torch.optim.AdamW(models.edm.parameters(), lr=sz.lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, sz.train_steps)
    gen, rng = torch.Generator(device=device).manual_seed(seed), np.random.default_rng([seed, 29])
    step, running = 0, []
    ckpt = checkpoint_dir / "train.ckpt" if checkpoint_dir else None
    if ckpt is not None and ckpt.exists():
        st = torch.load(ckpt, weights_only=False)
        models.edm.load_state_dict(st["model"]), opt.load_state_dict(st["opt"]), sched.load_state_dict(st["sched"])
        gen.set_state(st["gen"])
        rng.bit_generator.state, models.curve, step = st["rng"], st["curve"], st["step"]
        log(f"SER model: resumed at step {step}")
    t0, every = time.perf_counter(), max(1, sz.train_steps // 50)
    tenth = max(1, sz.train_steps // 10)
    shown = bar(sz.train_steps, "SER diffusion", initial=step)
    while step < sz.train_steps:
        step += 1
        shown.update()
        loss = models.edm.loss(x_all[rng.integers(0, len(x_all), sz.batch)].to(device), gen)
        if not torch.isfinite(loss):
            raise FloatingPointError(
                f"SER diffusion loss is {float(loss)} at step {step}: lower ser_lr or check "
                "the dataset for NaN/inf values"
            )
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        running.append(loss.item())
        if step % every == 0 or step == sz.train_steps:
            models.curve.append({"step": step, "loss": float(np.mean(running))})
            running = []
        if step % tenth == 0 or step == sz.train_steps:
            log(f"  SER step {step}: loss {models.curve[-1]['loss']:.4f}")
            if ckpt is not None:
                atomic_torch_save(
                    ckpt,
                    {
                        "model": models.edm.state_dict(),
                        "opt": opt.state_dict(),
                        "sched": sched.state_dict(),
                        "gen": gen.get_state(),
                        "rng": rng.bit_generator.state,
                        "curve": models.curve,
                        "step": step,
                    },
                )
    models.edm.eval()
    shown.close()
    log(f"SER model ({sz.train_steps} steps) trained in {time.perf_counter() - t0:.0f} s")
    if final is not None:
        atomic_torch_save(final, models)
    return models


# ------------------------------------------------------------------------------------------------- sampling
@dataclass
class SERResult:
    episodes: list[Episode]  # one-step episodes, provenance kind "synthetic"
    data: dict[str, np.ndarray]  # the same transitions as flat arrays
    config: SERConfig
    stats: dict[str, Any]


def sample_transitions(
    models: SERModels,
    n: int,
    cfg: SERConfig,
    steps: int,
    chunk: int = 10_000,
    device: str = "cpu",
    progress: Callable[[int], None] | None = None,
) -> dict[str, np.ndarray]:
    """``n`` synthetic transitions as flat arrays, sampled in chunks from one seeded generator."""
    gen = torch.Generator(device=device).manual_seed(cfg.seed)
    parts = []
    for start in range(0, n, chunk):
        parts.append(models.edm.sample(min(chunk, n - start), cfg, steps, gen, device).cpu().numpy())
        if progress:
            progress(start + len(parts[-1]))
    out = models.codec.decode(np.concatenate(parts) if parts else np.zeros((0, models.codec.dim)))
    if cfg.clip_actions:
        out["actions"] = np.clip(out["actions"], -1, 1)
    return out


def generate(models: SERModels, profile: Profile, cfg: SERConfig, device: str = "cpu", log=print) -> SERResult:
    """Sample ``cfg.samples`` transitions and wrap each as a one-step episode (a synthetic transition has no
    neighbours: ``truncations`` marks that the episode stops without the MDP ending, unless ``done``)."""
    sz = SIZES.of(profile)
    n, steps = cfg.samples or sz.samples, cfg.sample_steps or sz.sample_steps
    t0 = time.perf_counter()
    data = sample_transitions(
        models,
        n,
        cfg,
        steps,
        chunk=100_000 if device != "cpu" else 5_000,
        device=device,
        progress=lambda k: log(f"  SER sampled {k}/{n}"),
    )
    seconds = time.perf_counter() - t0
    prov = Provenance(kind="synthetic", method="ser")
    episodes = [
        Episode(
            np.stack([data["observations"][i], data["next_observations"][i]]),
            data["actions"][i : i + 1],
            data["rewards"][i : i + 1],
            data["terminals"][i : i + 1],
            ~data["terminals"][i : i + 1],
            provenance=prov,
            id=i,
        )
        for i in range(n)
    ]
    stats = {
        "samples": n,
        "sample_steps": steps,
        "seconds": round(seconds, 2),
        "samples_per_s": round(n / max(seconds, 1e-9), 1),
        "done_fraction": float(data["terminals"].mean()),
        "accepted_transitions": n,
        "final_loss": models.curve[-1]["loss"] if models.curve else None,
    }
    return SERResult(episodes, data, cfg, stats)


def summary(result: SERResult) -> dict[str, Any]:
    return {"config": asdict(result.config), **result.stats}


def config_key(dataset_id: str, profile: Profile, seed: int) -> str:
    """Checkpoint folder name: one trained model per dataset (its contents), profile sizes and seed."""
    return model_key(dataset_id, profile.name, asdict(SIZES.of(profile)), seed)


def generate_dataset(job: Job) -> tuple[list[Episode], dict[str, Any]]:
    """``stitchkit augment ser``: fit (or reload) the EDM model on the dataset's transitions, then sample."""
    prof = job.profile
    models = train_models(
        job.episodes,
        prof,
        job.seed,
        job.checkpoint_dir("ser", config_key(job.dataset_id, prof, job.seed)),
        log=job.log,
        device=job.device,
    )
    result = generate(models, prof, job.config, device=job.device, log=job.log)
    return result.episodes, summary(result)


METHOD = Method(
    "ser",
    SERConfig,
    generate_dataset,
    saves="one synthetic transition (no trajectory)",
    empty_hint="ask for more samples (--option samples=N)",
    sizes=(SIZES,),
    paper={  # SynthER (Lu et al., NeurIPS 2023): config/resmlp_denoiser.gin, synther/diffusion/train_diffuser.py
        "width": 2048,
        "depth": 6,
        "train_steps": 100_000,
        "batch": 1024,
        "lr": 3e-4,
        "sample_steps": 128,
        "samples": 5_000_000,
        "ratio": "generated only (SynthER's offline buffer holds its samples alone)",
        "volume": "5,000,000 samples: about 12 x hopper-mr",
    },
)
