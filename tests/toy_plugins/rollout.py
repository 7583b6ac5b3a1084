"""A realistic plug-in method: short rollouts of a learned one-step model from dataset states (MOPO-style, without
the penalty). Everything about it lives here: its sizes per profile (a :class:`SizeTable`), its per-dataset
defaults, its model training (cached under ``data/checkpoints/rollout/``, keyed by its sizes and the data), its cost
estimate, its generator, and its declaration. Registering it is one line in ``stitchkit.plugins``."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from stitchkit.augment.method import Job, Method, estimate_by_shortening, model_key
from stitchkit.data.episodes import Episode, Provenance, transitions
from stitchkit.files import atomic_torch_save
from stitchkit.profiles import Profile, SizeTable


@dataclass(frozen=True)
class RolloutSizes:
    model_steps: int  # gradient steps of the one-step model
    hidden: int  # its MLP width (2 hidden layers)
    rollouts: int  # rollouts started from dataset states
    length: int  # model steps per rollout


SIZES = SizeTable(
    "rollout",
    smoke=RolloutSizes(model_steps=60, hidden=32, rollouts=12, length=3),
    lab=RolloutSizes(model_steps=2_000, hidden=128, rollouts=500, length=5),
    full=RolloutSizes(model_steps=50_000, hidden=256, rollouts=20_000, length=5),
)


@dataclass
class RolloutConfig:
    noise: float = 0.1  # Gaussian noise added to the data's action at every rollout step
    seed: int = 0


def train_models(
    episodes: list[Episode],
    profile: Profile,
    seed: int = 0,
    checkpoint_dir: Path | None = None,
    device: str = "cpu",
    log=print,
) -> nn.Module:
    """(s, a) -> (s' - s, r), an MLP fitted by MSE; reloaded from ``checkpoint_dir`` when it holds one."""
    sz = SIZES.of(profile)
    tr = transitions(episodes)
    x = torch.as_tensor(np.concatenate([tr["observations"], tr["actions"]], 1), dtype=torch.float32)
    y = torch.as_tensor(
        np.concatenate([tr["next_observations"] - tr["observations"], tr["rewards"][:, None]], 1), dtype=torch.float32
    )
    torch.manual_seed(seed)
    w = sz.hidden
    model = nn.Sequential(nn.Linear(x.shape[1], w), nn.ReLU(), nn.Linear(w, w), nn.ReLU(), nn.Linear(w, y.shape[1]))
    final = checkpoint_dir / "models.pt" if checkpoint_dir else None
    if final is not None and final.exists():
        model.load_state_dict(torch.load(final))
        return model
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(seed)
    for _ in range(sz.model_steps):
        i = torch.randint(0, len(x), (256,), generator=g)
        loss = ((model(x[i]) - y[i]) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    log(f"rollout model: {sz.model_steps} steps, final MSE {loss.item():.4f}")
    if final is not None:
        atomic_torch_save(final, model.state_dict())
    return model


def estimate_train_seconds(episodes, profile: Profile, checkpoint_dir: Path | None = None, probe: int = 20) -> float:
    return estimate_by_shortening(train_models, episodes, profile, SIZES, "model_steps", checkpoint_dir, probe=probe)


def config_key(dataset_id: str, profile: Profile, seed: int) -> str:
    return model_key(dataset_id, profile.name, asdict(SIZES.of(profile)), seed)


def generate(job: Job) -> tuple[list[Episode], dict]:
    cfg, sz = job.config, SIZES.of(job.profile)
    ckpt = job.checkpoint_dir("rollout", config_key(job.dataset_id, job.profile, cfg.seed))
    model = train_models(job.episodes, job.profile, cfg.seed, ckpt, job.device, job.log)
    rng = np.random.default_rng(cfg.seed)
    out = []
    for k in range(sz.rollouts):
        e = int(rng.integers(len(job.episodes)))
        src = job.episodes[e]
        t = int(rng.integers(len(src)))
        obs, acts, rews = [src.observations[t]], [], []
        for h in range(sz.length):
            data_action = src.actions[min(t + h, len(src) - 1)]
            a = np.clip(data_action + cfg.noise * rng.standard_normal(len(data_action)), -1, 1)
            with torch.no_grad():
                pred = model(torch.as_tensor(np.concatenate([obs[-1], a]), dtype=torch.float32)).numpy()
            obs.append(obs[-1] + pred[:-1])
            acts.append(a)
            rews.append(pred[-1])
        n = len(acts)
        out.append(
            Episode(
                np.array(obs, dtype=src.observations.dtype),
                np.array(acts, dtype=src.actions.dtype),
                np.array(rews),
                np.zeros(n, bool),
                np.r_[np.zeros(n - 1, bool), True],
                provenance=Provenance(kind="rollout", method="rollout", source_episode=int(src.id), source_step=t),
                id=k,
            )
        )
    return out, {"config": asdict(cfg), "accepted_transitions": sz.rollouts * sz.length, "ratio": 4.0}


METHOD = Method(
    "rollout",
    RolloutConfig,
    generate,
    saves="a short rollout of a learned one-step model from a dataset state",
    empty_hint="ask for more rollouts",
    defaults={"maze": {"noise": 0.02}, "hopper": {"noise": 0.05}},
    sizes=(SIZES,),
)
