"""Three profiles, one code path: ``smoke`` (CI), ``lab`` (a 2-core laptop, the default), ``full`` (one GPU).

A profile changes sizes and step counts only, never what the code does: every notebook and command reads
its sizes from here, so the smoke run in CI goes through exactly the lines a full GPU run does. The profile
comes from the argument, else ``STITCHKIT_PROFILE``, else ``lab``. Each section below belongs to one part of
the kit; a new notebook adds its own section rather than hard-coding numbers.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any

PROFILE_ENV = "STITCHKIT_PROFILE"
DEFAULT_PROFILE = "lab"


class ProfileError(ValueError):
    """An unknown profile name."""


@dataclass(frozen=True)
class TourSizes:
    """The toy stitching world of notebook 00."""

    n_fragments: int  # trajectory fragments scattered in the plane
    fragment_len: int  # steps per fragment
    n_worlds: int  # random worlds in the "how often does stitching help" measurement


@dataclass(frozen=True)
class DataSizes:
    """The offline datasets of notebook 01 and ``stitchkit data build``."""

    maze_episodes: int  # 200-step stitch episodes (OGBench: 5,000)
    locomotion_steps: int  # transitions per locomotion dataset (D4RL: 1M)
    ref_episodes: int  # episodes behind each reference score (Minari: 100)


@dataclass(frozen=True)
class TrainSizes:
    """The offline RL learners (notebook 04, ``stitchkit train``)."""

    seeds: int  # seeds per run, trained together (CORL: 4)
    steps: int  # gradient steps (CORL: 1M)
    eval_every: int  # steps between evaluations (CORL: 5,000)
    eval_episodes: int  # episodes per evaluation and seed (CORL: 10)
    batch_size: int  # (CORL: 256)
    cql_steps: int  # CQL's gradient steps: its penalty costs ~30 critic passes per state, GPU territory
    dt_steps: int  # Decision Transformer's gradient steps (CORL: 100k)
    dt_batch_size: int  # Decision Transformer's windows per batch (CORL's configs: 4096)
    hidden: tuple[int, ...] = (256, 256)  # MLP widths of BC, TD3+BC, IQL, POR, TELS (CORL); cost grows ~width²


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


@dataclass(frozen=True)
class TelsSizes:
    """TELS and the small-data study (notebook 07, ``stitchkit train tels``). Paper values are not public."""

    idm_steps: int  # TS-IDM gradient steps before the latent policy's (which get the ``train`` section's steps)
    idm_hidden: int  # width of TS-IDM's 2-hidden-layer MLPs
    study_transitions: int  # transitions per small-data dataset (the paper: 10k)


@dataclass(frozen=True)
class BaselineSizes:
    """SER and TATU, DiffStitch's Table 1 baselines (notebook 08, ``stitchkit augment ser|tatu``). TATU's models
    train for the ``stitch`` section's ``model_steps``, with its ``ensemble``. Paper/code values in comments."""

    ser_width: int  # residual-MLP denoiser width (SynthER: 2048)
    ser_depth: int  # residual blocks (6)
    ser_train_steps: int  # (100k)
    ser_batch: int  # (1024)
    ser_lr: float  # AdamW with a cosine schedule (3e-4; the CPU profiles' short runs need 1e-3)
    ser_sample_steps: int  # EDM (Heun) sampler steps (128)
    ser_samples: int  # synthetic transitions kept (5M; the kit: 1M at full, one Minari episode each)
    tatu_vae_hidden: int  # behaviour CVAE width (BCQ's 750)
    tatu_rollout_batch: int  # rollouts started together from dataset states (5,000)
    tatu_transitions: int  # model transitions kept (the model-free variant: 2x the dataset)


@dataclass(frozen=True)
class GoalSizes:
    """Goal-conditioned learners on the maze (``stitchkit train gcbc|gcivl``). OGBench's values in comments; the
    `lab` sizes were picked by measurement (2x128, 10k steps: the original-data arm still fails the long tasks
    while chained data lifts it; with more steps or width the gap closes, see notebook 02's sweep)."""

    steps: int  # gradient steps (OGBench: 1M)
    batch_size: int  # (1024)
    hidden: tuple[int, ...]  # MLP widths of actor and value (3 x 512)
    eval_every: int  # steps between evaluations
    eval_episodes: int  # episodes per evaluation task and seed (50)
    horizon: int  # steps per evaluation episode (1000)


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    tour: TourSizes
    data: DataSizes
    train: TrainSizes
    stitch: StitchSizes
    astro: AstroSizes
    tels: TelsSizes
    baselines: BaselineSizes
    goals: GoalSizes

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


PROFILES: dict[str, Profile] = {
    "smoke": Profile(
        name="smoke",
        description="CI: seconds per step; proves every line runs, results mean nothing",
        tour=TourSizes(n_fragments=60, fragment_len=20, n_worlds=5),
        data=DataSizes(maze_episodes=25, locomotion_steps=2_000, ref_episodes=2),
        train=TrainSizes(
            seeds=2,
            steps=200,
            eval_every=100,
            eval_episodes=2,
            batch_size=64,
            cql_steps=20,
            dt_steps=20,
            dt_batch_size=16,
            hidden=(32, 32),
        ),
        stitch=StitchSizes(
            horizon=24,
            unet_dim=8,
            unet_mults=(1, 2),
            diffusion_steps=10,
            strided_steps=2,
            diffusion_train_steps=30,
            diffusion_batch=8,
            diffusion_lr=1e-3,
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
        astro=AstroSizes(
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
        tels=TelsSizes(idm_steps=100, idm_hidden=32, study_transitions=1_000),
        baselines=BaselineSizes(
            ser_width=32,
            ser_depth=2,
            ser_train_steps=50,
            ser_batch=64,
            ser_lr=1e-3,
            ser_sample_steps=4,
            ser_samples=200,
            tatu_vae_hidden=32,
            tatu_rollout_batch=64,
            tatu_transitions=200,
        ),
        goals=GoalSizes(steps=200, batch_size=64, hidden=(32, 32), eval_every=100, eval_episodes=1, horizon=200),
    ),
    "lab": Profile(
        name="lab",
        description="default: a 2-core laptop CPU, minutes per notebook, results that already show the effect",
        tour=TourSizes(n_fragments=60, fragment_len=20, n_worlds=100),
        data=DataSizes(maze_episodes=500, locomotion_steps=100_000, ref_episodes=100),
        train=TrainSizes(
            seeds=3,
            steps=10_000,
            eval_every=2_500,
            eval_episodes=5,
            batch_size=256,
            cql_steps=1_000,
            dt_steps=1_000,
            dt_batch_size=64,
            # measured on hopper medium-replay (benchmarks/lab_sizes.py, 3 seeds, 10k steps): TD3+BC 21.7 at 128 vs
            # 17.3 at 256, IQL 11.2 vs 18.9 (CIs overlap), a third of the update's cost (notebooks 01 and 04)
            hidden=(128, 128),
        ),
        stitch=StitchSizes(
            horizon=64,
            unet_dim=32,
            unet_mults=(1, 2, 4),
            diffusion_steps=100,
            strided_steps=10,
            diffusion_train_steps=2_500,
            diffusion_batch=64,
            diffusion_lr=1e-3,
            ema_start=500,
            model_steps=3_000,
            model_batch=256,
            ensemble=7,
            window_low=10,
            window_high=40,
            stitch_batch=64,
            candidates=512,
            budget=20_000,
            max_iterations=200,
        ),
        astro=AstroSizes(
            distance_steps=4_000,
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
        tels=TelsSizes(idm_steps=4_000, idm_hidden=128, study_transitions=10_000),
        baselines=BaselineSizes(
            ser_width=512,
            ser_depth=4,
            ser_train_steps=5_000,
            ser_batch=256,
            ser_lr=1e-3,
            ser_sample_steps=32,
            ser_samples=20_000,
            tatu_vae_hidden=256,
            tatu_rollout_batch=2_000,
            tatu_transitions=20_000,
        ),
        goals=GoalSizes(
            steps=10_000, batch_size=256, hidden=(128, 128), eval_every=5_000, eval_episodes=5, horizon=1000
        ),
    ),
    "full": Profile(
        name="full",
        description="one GPU: the papers' settings",
        tour=TourSizes(n_fragments=60, fragment_len=20, n_worlds=1000),
        data=DataSizes(maze_episodes=5_000, locomotion_steps=1_000_000, ref_episodes=100),
        train=TrainSizes(
            seeds=4,
            steps=1_000_000,
            eval_every=5_000,
            eval_episodes=10,
            batch_size=256,
            cql_steps=1_000_000,
            dt_steps=100_000,
            dt_batch_size=4096,
        ),
        stitch=StitchSizes(
            horizon=100,
            unet_dim=128,
            unet_mults=(1, 4, 8),
            diffusion_steps=100,
            strided_steps=10,
            diffusion_train_steps=1_000_000,
            diffusion_batch=64,
            diffusion_lr=2e-4,
            ema_start=2_000,
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
        astro=AstroSizes(
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
        tels=TelsSizes(idm_steps=200_000, idm_hidden=256, study_transitions=10_000),
        baselines=BaselineSizes(
            ser_width=2048,
            ser_depth=6,
            ser_train_steps=100_000,
            ser_batch=1024,
            ser_lr=3e-4,
            ser_sample_steps=128,
            ser_samples=1_000_000,
            tatu_vae_hidden=750,
            tatu_rollout_batch=5_000,
            tatu_transitions=2_000_000,
        ),
        goals=GoalSizes(
            steps=1_000_000, batch_size=1024, hidden=(512, 512, 512), eval_every=100_000, eval_episodes=50, horizon=1000
        ),
    ),
}
PROFILE_NAMES: tuple[str, ...] = tuple(PROFILES)


def get_profile(name: str | Profile | None = None) -> Profile:
    """Return the named profile, or the one ``STITCHKIT_PROFILE`` names, or ``lab``."""
    if isinstance(name, Profile):
        return name
    source = "profile"
    if name is None:
        name, source = os.environ.get(PROFILE_ENV) or DEFAULT_PROFILE, PROFILE_ENV
    key = name.strip().lower()
    if key not in PROFILES:
        raise ProfileError(f"unknown {source} {name!r}; valid profiles: {', '.join(PROFILE_NAMES)}")
    return PROFILES[key]


def with_sizes(profile: Profile, sizes: dict[str, dict[str, Any]]) -> Profile:
    """``profile`` with some sizes replaced, ``{section: {field: value}}`` (a campaign's generator sizes over its
    base profile's). The result keeps the base's name, because it reads the same datasets (``data`` is the base's
    unless replaced too); whatever it trains is keyed by the sizes themselves, never by the name. An unknown
    section or field is an error that lists the accepted ones."""
    sections = {f.name for f in dataclasses.fields(Profile)} - {"name", "description"}
    changes: dict[str, Any] = {}
    for section, values in sizes.items():
        if section not in sections:
            raise ProfileError(f"unknown size section {section!r}; accepted: {', '.join(sorted(sections))}")
        current = getattr(profile, section)
        names = {f.name for f in dataclasses.fields(current)}
        unknown = set(values) - names
        if unknown:
            raise ProfileError(f"unknown {section} size(s) {sorted(unknown)}; accepted: {', '.join(sorted(names))}")
        typed = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
        changes[section] = dataclasses.replace(current, **typed)
    return dataclasses.replace(profile, **changes)


def report_mode() -> bool:
    """True while ``make report`` executes a notebook: widgets then fall back to self-contained HTML."""
    return os.environ.get("STITCHKIT_REPORT", "") not in ("", "0", "false")
