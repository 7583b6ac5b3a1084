"""The small models around a state-only generator: inverse dynamics, reward, and a dynamics ensemble.

A state-only diffusion model gives states; these give the rest of a transition and judge it:

* :class:`InverseDynamics` a = f_psi(s, s') - the actions of a bridge (wrap-up). MLP 2d -> 256 -> 256 -> |A|
  (the released code's; it trains it jointly with the diffusion model, the kit trains it alone, with its own curve).
* :class:`RewardModel` r = f_phi(s, a) - the rewards of a bridge (wrap-up). The paper's separate 4-layer MLP (the
  released code reads rewards off the dynamics ensemble instead).
* :class:`DynamicsEnsemble` s' ~ N(mu_k(s, a), sigma_k(s, a)), k = 1..7 - qualification. MOPO-style: 4 x 200 swish
  MLPs predicting the state change, Gaussian NLL with soft-bounded log-variance, the 5 members with the lowest
  held-out error are the elites, and a prediction is the elites' mean (the released code picks one random elite
  per call; the mean is deterministic and no worse).

All three work on CDF-normalized states (actions raw, they already live in [-1, 1]), the space the diffusion model
samples in, so qualification measures ||cdf(s_hat') - f(cdf(s_hat), a_hat)||^2 exactly as the released code does,
and its thresholds delta carry over.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from stitchkit.algos.common import check_finite
from stitchkit.nets import EnsembleLinear
from stitchkit.progress import bar, seconds_per_step


def _mlp(d_in: int, d_out: int, hidden: tuple[int, ...], act=nn.ReLU) -> nn.Sequential:
    dims, layers = (d_in, *hidden, d_out), []
    for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(dims) - 2:
            layers.append(act())
    return nn.Sequential(*layers)


class InverseDynamics(nn.Module):
    def __init__(self, obs_dim: int, act_dim: int, hidden: int = 256):
        super().__init__()
        self.net = _mlp(2 * obs_dim, act_dim, (hidden, hidden))

    def forward(self, s: torch.Tensor, s_next: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([s, s_next], -1)).clamp(-1, 1)

    def loss(self, b: dict[str, torch.Tensor]) -> torch.Tensor:
        return ((self.net(torch.cat([b["s"], b["s_next"]], -1)) - b["a"]) ** 2).mean()


class RewardModel(nn.Module):
    def __init__(self, obs_dim: int, act_dim: int, hidden: int = 256):
        super().__init__()
        self.net = _mlp(obs_dim + act_dim, 1, (hidden, hidden, hidden))

    def forward(self, s: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([s, a], -1)).squeeze(-1)

    def loss(self, b: dict[str, torch.Tensor]) -> torch.Tensor:
        return ((self(b["s"], b["a"]) - b["r"]) ** 2).mean()


class DynamicsEnsemble(nn.Module):
    """n Gaussian members over (s, a) -> s' - s; members see their own bootstrap batches."""

    def __init__(self, obs_dim: int, act_dim: int, members: int = 7, elites: int = 5, hidden: int = 200, seed: int = 0):
        super().__init__()
        seeds = [seed * 100 + k for k in range(members)]
        dims = (obs_dim + act_dim, hidden, hidden, hidden, hidden, 2 * obs_dim)
        self.layers = nn.ModuleList(
            [EnsembleLinear(seeds, a, b, i) for i, (a, b) in enumerate(zip(dims[:-1], dims[1:]))]
        )
        self.max_logvar = nn.Parameter(torch.full((1, 1, obs_dim), 0.5))
        self.min_logvar = nn.Parameter(torch.full((1, 1, obs_dim), -10.0))
        self.register_buffer("elite_idx", torch.arange(min(elites, members)))
        self.members, self.obs_dim = members, obs_dim
        self.decay = [2.5e-5, 5e-5, 7.5e-5, 7.5e-5, 1e-4]  # MOPO's per-layer L2

    def forward(self, s: torch.Tensor, a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(M, B, d) inputs or (B, d) broadcast to every member -> mean next state and log-variance (M, B, d)."""
        x = torch.cat([s, a], -1)
        if x.dim() == 2:
            x = x.expand(self.members, *x.shape)
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = x * torch.sigmoid(x)  # swish
        mu, logvar = x.split(self.obs_dim, -1)
        logvar = self.max_logvar - nn.functional.softplus(self.max_logvar - logvar)
        logvar = self.min_logvar + nn.functional.softplus(logvar - self.min_logvar)
        s0 = s if s.dim() == 3 else s.expand(self.members, *s.shape)
        return s0 + mu, logvar

    def predict(self, s: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        """The elites' mean next state (B, d): deterministic."""
        mu, _ = self(s, a)
        return mu[self.elite_idx].mean(0)

    def disagreement(self, s: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        """max_k ||mu_k - mean mu|| over the elites (TATU's and MOPO's uncertainty)."""
        return self.predict_with_disagreement(s, a)[1]

    def predict_with_disagreement(
        self, s: torch.Tensor, a: torch.Tensor, scale: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Both from one pass: the elites' mean next state (B, d) and their disagreement (B,). ``scale`` (d,)
        measures the disagreement in other units, e.g. a z-score's std for raw state units."""
        mu = self(s, a)[0][self.elite_idx]
        mean = mu.mean(0)
        spread = mu - mean if scale is None else (mu - mean) * scale
        return mean, spread.norm(dim=-1).max(0).values

    def loss(self, b: dict[str, torch.Tensor]) -> torch.Tensor:
        mu, logvar = self(b["s"], b["a"])
        nll = (((mu - b["s_next"]) ** 2) * torch.exp(-logvar) + logvar).mean()
        l2 = sum(d * (layer.weight**2).sum() / 2 for d, layer in zip(self.decay, self.layers))
        return nll + 0.01 * (self.max_logvar.sum() - self.min_logvar.sum()) + l2

    @torch.no_grad()
    def choose_elites(self, s: torch.Tensor, a: torch.Tensor, s_next: torch.Tensor) -> torch.Tensor:
        """Held-out MSE per member; the best ``len(elite_idx)`` become the elites."""
        mse = ((self(s, a)[0] - s_next) ** 2).mean(dim=(1, 2))
        self.elite_idx.copy_(torch.argsort(mse)[: len(self.elite_idx)])
        return mse


@dataclass
class TransitionData:
    """CDF-normalized (s, a, r, s') arrays with a fixed held-out tail for the curves."""

    s: np.ndarray
    a: np.ndarray
    r: np.ndarray
    s_next: np.ndarray
    holdout: np.ndarray = field(default=None)  # bool mask

    @classmethod
    def from_arrays(cls, s, a, r, s_next, seed: int = 0, holdout: float = 0.1) -> TransitionData:
        rng = np.random.default_rng([seed, 13])
        mask = np.zeros(len(s), bool)
        mask[rng.permutation(len(s))[: max(1, int(holdout * len(s)))]] = True
        f = lambda x: np.asarray(x, np.float32)
        return cls(f(s), f(a), f(r), f(s_next), mask)

    def tensors(self, idx: np.ndarray, device: str = "cpu") -> dict[str, torch.Tensor]:
        return {k: torch.as_tensor(getattr(self, k)[idx], device=device) for k in ("s", "a", "r", "s_next")}


def fit(
    model: nn.Module,
    data: TransitionData,
    steps: int,
    batch: int,
    lr: float = 1e-3,
    seed: int = 0,
    members: int | None = None,
    device: str = "cpu",
    name: str = "model",
    log_every: int = 0,
) -> list[dict]:
    """Adam on ``model.loss`` over the training part of ``data``; returns a curve of train and held-out loss.

    ``members`` > 0 gives each ensemble member its own bootstrap batch (shape (M, B, ...))."""
    rng = np.random.default_rng([seed, 17])
    train_idx, held = np.flatnonzero(~data.holdout), np.flatnonzero(data.holdout)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    held_b = data.tensors(held[:4096], device)
    curve, every = [], log_every or max(1, steps // 20)
    model.train()
    shown = bar(steps, f"{name} model")
    for step in range(1, steps + 1):
        shown.update()
        shape = (members, batch) if members else (batch,)
        b = data.tensors(train_idx[rng.integers(0, len(train_idx), size=shape)], device)
        loss = model.loss(b)
        check_finite({f"{name} loss": loss}, step)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % every == 0 or step == steps:
            with torch.no_grad():
                curve.append({"step": step, "train": float(loss), "held_out": _held_out_error(model, held_b)})
    shown.close()
    model.eval()
    return curve


def fit_seconds(
    model: nn.Module,
    data: TransitionData,
    steps: int,
    batch: int,
    members: int | None = None,
    device: str = "cpu",
    probe: int = 20,
) -> float:
    """Seconds :func:`fit` will take here for ``steps``: its loop timed for ``probe`` steps on this machine, without
    the held-out logging (which a short probe would do at every step), scaled up. A method's estimate sums these."""
    model.to(device)
    run = lambda n: fit(model, data, n, batch, members=members, device=device, log_every=10**9)
    return steps * seconds_per_step(run, probe)


@torch.no_grad()
def _held_out_error(model: nn.Module, b: dict[str, torch.Tensor]) -> float:
    """The error a user cares about: action / reward / next-state MSE on held-out transitions."""
    if hasattr(model, "held_out_error"):
        return float(model.held_out_error(b))
    if isinstance(model, InverseDynamics):
        return float(((model(b["s"], b["s_next"]) - b["a"]) ** 2).mean())
    if isinstance(model, RewardModel):
        return float(((model(b["s"], b["a"]) - b["r"]) ** 2).mean())
    return float(((model.predict(b["s"], b["a"]) - b["s_next"]) ** 2).sum(-1).mean())
