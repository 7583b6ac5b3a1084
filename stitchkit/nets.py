"""Networks for the learners, batched over seeds: every layer holds S independent members.

Running S seeds of an algorithm as one model (parameters of shape (S, ...), inputs of shape (S, B, ...)) turns S
small matrix products into one batched product, which is what makes 8 seeds cost far less than 8 runs on a GPU.
The members never mix: each has its own initialisation (seeded from its own seed), its own data and noise, and
Adam's update is elementwise, so member i of an S-seed run follows the same path as a single run with seed i.
A single run is simply S = 1: one code path.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable, Iterator

import torch
from torch import nn


class EnsembleLinear(nn.Module):
    """y[s] = x[s] @ W[s] + b[s] for each member s; initialised like ``nn.Linear``, member by member."""

    def __init__(self, seeds: list[int], d_in: int, d_out: int, layer: int):
        super().__init__()
        bound = 1.0 / math.sqrt(d_in)
        w, b = [], []
        for seed in seeds:  # member s drawn from its own generator: the same as a single run with that seed
            g = torch.Generator().manual_seed(seed * 1000 + layer)
            w.append((torch.rand(d_in, d_out, generator=g) * 2 - 1) * bound)
            b.append((torch.rand(1, d_out, generator=g) * 2 - 1) * bound)
        self.weight = nn.Parameter(torch.stack(w))
        self.bias = nn.Parameter(torch.stack(b))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.bias, x, self.weight)


def mlp(
    seeds: list[int],
    d_in: int,
    d_out: int,
    hidden: tuple[int, ...] = (256, 256),
    first_layer: int = 0,
    out_act: nn.Module | None = None,
) -> nn.Sequential:
    """An S-member MLP with ReLU hidden layers. ``first_layer`` offsets the per-layer seeds so that two networks
    of one run (actor, critic) are initialised differently."""
    dims = (d_in, *hidden, d_out)
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
        layers.append(EnsembleLinear(seeds, a, b, first_layer + i))
        if i < len(dims) - 2:
            layers.append(nn.ReLU(inplace=True))  # in place: a matmul's backward never reads its own output
    if out_act is not None:
        layers.append(out_act)
    return nn.Sequential(*layers)


class DeterministicActor(nn.Module):
    """a = max_action * tanh(MLP(s)) (TD3+BC, BC, IQL's deterministic variant)."""

    def __init__(
        self,
        seeds: list[int],
        obs_dim: int,
        act_dim: int,
        max_action: float = 1.0,
        layer: int = 0,
        hidden: tuple[int, ...] = (256, 256),
    ):
        super().__init__()
        self.net = mlp(seeds, obs_dim, act_dim, hidden=hidden, first_layer=layer, out_act=nn.Tanh())
        self.max_action = max_action

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.max_action * self.net(obs)

    def act(self, obs: torch.Tensor) -> torch.Tensor:
        return self(obs)


class GaussianActor(nn.Module):
    """IQL's stochastic actor: mean = tanh(MLP(s)), a state-independent log-std clamped to [-20, 2] (CORL)."""

    def __init__(
        self,
        seeds: list[int],
        obs_dim: int,
        act_dim: int,
        max_action: float = 1.0,
        layer: int = 0,
        hidden: tuple[int, ...] = (256, 256),
    ):
        super().__init__()
        self.net = mlp(seeds, obs_dim, act_dim, hidden=hidden, first_layer=layer, out_act=nn.Tanh())
        self.log_std = nn.Parameter(torch.zeros(len(seeds), 1, act_dim))
        self.max_action = max_action

    def dist(self, obs: torch.Tensor) -> torch.distributions.Normal:
        # no argument validation: its check reads a GPU flag on the host, which a CUDA graph cannot capture
        return torch.distributions.Normal(self.net(obs), self.log_std.clamp(-20.0, 2.0).exp(), validate_args=False)

    def act(self, obs: torch.Tensor) -> torch.Tensor:
        return (self.max_action * self.net(obs)).clamp(-self.max_action, self.max_action)


class TanhGaussianActor(nn.Module):
    """SAC/CQL's actor: a = max_action * tanh(u), u ~ N(mu(s), std(s)); ``sample`` returns a and log pi(a|s)."""

    def __init__(
        self,
        seeds: list[int],
        obs_dim: int,
        act_dim: int,
        max_action: float = 1.0,
        hidden: tuple[int, ...] = (256, 256, 256),
        layer: int = 0,
    ):
        super().__init__()
        self.net = mlp(seeds, obs_dim, 2 * act_dim, hidden=hidden, first_layer=layer)
        self.max_action, self.act_dim = max_action, act_dim

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, log_std = self.net(obs).split(self.act_dim, -1)
        return mu, log_std.clamp(-20.0, 2.0)

    def sample(self, obs: torch.Tensor, noise: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Reparameterised sample with the given standard-normal ``noise`` (same shape as the action)."""
        mu, log_std = self(obs)
        u = mu + log_std.exp() * noise
        log_prob = (-0.5 * noise**2 - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)
        log_prob = log_prob - (2 * (math.log(2) - u - nn.functional.softplus(-2 * u))).sum(-1)  # tanh correction
        return self.max_action * torch.tanh(u), log_prob

    def act(self, obs: torch.Tensor) -> torch.Tensor:
        return self.max_action * torch.tanh(self(obs)[0])


class TwinQ(nn.Module):
    """Two Q networks over (s, a); returns both (each (S, B))."""

    def __init__(
        self, seeds: list[int], obs_dim: int, act_dim: int, layer: int = 10, hidden: tuple[int, ...] = (256, 256)
    ):
        super().__init__()
        self.q1 = mlp(seeds, obs_dim + act_dim, 1, hidden=hidden, first_layer=layer)
        self.q2 = mlp(seeds, obs_dim + act_dim, 1, hidden=hidden, first_layer=layer + 5)

    def forward(self, obs: torch.Tensor, act: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        sa = torch.cat([obs, act], -1)
        return self.q1(sa).squeeze(-1), self.q2(sa).squeeze(-1)

    def first(self, obs: torch.Tensor, act: torch.Tensor) -> torch.Tensor:
        """Q1 alone (an actor loss that reads only Q1 need not pay for Q2's forward and backward)."""
        return self.q1(torch.cat([obs, act], -1)).squeeze(-1)


def adam(params: Iterable[torch.Tensor], lr: float, **kwargs) -> torch.optim.Adam:
    """The learners' Adam, fused: one kernel for all parameters instead of about ten small ops per tensor, which
    on a CPU is 15-20% of a 256-wide TD3+BC update. The fused kernel rounds differently from the op-by-op
    update (a few 1e-8 per step on these weights), so a run is reproducible on its own but not bit-equal to one
    made with ``fused=False``."""
    return torch.optim.Adam(params, lr=lr, fused=True, **kwargs)


@contextlib.contextmanager
def frozen(module: nn.Module) -> Iterator[None]:
    """Inside, ``module``'s parameters take no gradient: a loss that only passes *through* a network (TD3+BC's
    actor loss through the critic) skips the network's weight gradients, a third of its backward pass. The input
    gradients it does compute are the same kernels on the same values, so the result is bit-identical."""
    flags = [p.requires_grad for p in module.parameters()]
    module.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(module.parameters(), flags):
            p.requires_grad_(flag)


def soft_update(target: nn.Module, source: nn.Module, tau: float) -> None:
    """Polyak averaging, elementwise (so per member), as one foreach op over all tensors."""
    with torch.no_grad():
        torch._foreach_lerp_(list(target.parameters()), list(source.parameters()), tau)


class EnsembleLayerNorm(nn.Module):
    """LayerNorm with a separate scale and shift per member (a shared one would couple the seeds)."""

    def __init__(self, n: int, d: int, eps: float = 1e-5):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n, 1, d))
        self.bias = nn.Parameter(torch.zeros(n, 1, d))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (S, N, d)
        return nn.functional.layer_norm(x, x.shape[-1:], eps=self.eps) * self.weight + self.bias


def clip_grad_norm_per_member(params, max_norm: float) -> torch.Tensor:
    """Clip each member's gradient to ``max_norm`` on its own (parameters have the member axis first)."""
    params = [p for p in params if p.grad is not None]
    norms = torch.stack([p.grad.flatten(1).pow(2).sum(1) for p in params]).sum(0).sqrt()  # (S,)
    scale = (max_norm / (norms + 1e-6)).clamp(max=1.0)
    for p in params:
        p.grad.mul_(scale.view(-1, *([1] * (p.grad.dim() - 1))))
    return norms
