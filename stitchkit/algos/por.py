"""POR, Policy-guided Offline RL (Xu et al., NeurIPS 2022): stitch in state space, then ask how to get there.

Three parts, none of which queries a value on an action outside the data:

* a state value V(s), fit as an expectile of r + gamma V_target(s') (twin heads, V = their minimum);
* a **guide policy** pi_g(s' | s) that proposes the next *state*, trained by advantage-weighted regression on the
  data's next states (POR-r: weights exp(alpha (r + gamma V(s') - V(s))), clipped at 100);
* an **execute policy** pi_e(a | s, s') that says which action reaches a proposed next state, fit by maximum
  likelihood on the data's (s, a, s').

Acting: a = mean pi_e(s, mean pi_g(s)). Settings (released code): 2x256 networks, Adam 1e-4 for V and 1e-3 for the
policies with a cosine schedule, target rate 0.005; POR-r with tau 0.5, alpha 3 on MuJoCo and tau 0.9, alpha 10 on
mazes. The released code also has POR-q (hopper) and a 2x1024 execute policy; the kit implements POR-r at 2x256.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from stitchkit.algos.iql import EXP_ADV_MAX, expectile_loss
from stitchkit.algos.learner import Learner, train_widths
from stitchkit.nets import adam, mlp, soft_update


class GaussianHead(nn.Module):
    """N(mean(x), exp(log_std)) with a state-independent log-std clamped to [-5, 2] (POR's policies)."""

    def __init__(
        self,
        seeds: list[int],
        d_in: int,
        d_out: int,
        layer: int,
        tanh: bool = False,
        hidden: tuple[int, ...] = (256, 256),
    ):
        super().__init__()
        self.net = mlp(seeds, d_in, d_out, hidden=hidden, first_layer=layer, out_act=nn.Tanh() if tanh else None)
        self.log_std = nn.Parameter(torch.zeros(len(seeds), 1, d_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def log_prob(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        dist = torch.distributions.Normal(self.net(x), self.log_std.clamp(-5, 2).exp(), validate_args=False)
        return dist.log_prob(y).sum(-1)


class _Actor(nn.Module):
    def __init__(self, por: POR):
        super().__init__()
        self.__dict__["por"] = por  # a reference, not a submodule (no duplicate parameters)

    def act(self, obs: torch.Tensor) -> torch.Tensor:
        p = self.por
        return p.execute(torch.cat([obs, p.guide(obs)], -1))


class POR(nn.Module):
    def __init__(
        self,
        obs_dim: int,
        act_dim: int,
        seeds: list[int],
        expectile: float = 0.5,
        alpha: float = 3.0,
        discount: float = 0.99,
        tau: float = 0.005,
        v_lr: float = 1e-4,
        policy_lr: float = 1e-3,
        max_steps: int = 1_000_000,
        hidden: tuple[int, ...] = (256, 256),  # the released code's; a smaller width makes a laptop run cheaper
    ):
        super().__init__()
        self.v1 = mlp(seeds, obs_dim, 1, hidden=hidden, first_layer=20)
        self.v2 = mlp(seeds, obs_dim, 1, hidden=hidden, first_layer=25)
        self.v_target = copy.deepcopy(nn.ModuleList([self.v1, self.v2]))
        for p in self.v_target.parameters():
            p.requires_grad_(False)
        self.guide = GaussianHead(seeds, obs_dim, obs_dim, layer=30, hidden=hidden)
        self.execute = GaussianHead(seeds, 2 * obs_dim, act_dim, layer=35, tanh=True, hidden=hidden)
        self.v_opt = adam([*self.v1.parameters(), *self.v2.parameters()], lr=v_lr)
        self.g_opt = adam(self.guide.parameters(), lr=policy_lr)
        self.e_opt = adam(self.execute.parameters(), lr=policy_lr)
        self.g_sched = torch.optim.lr_scheduler.CosineAnnealingLR(self.g_opt, max_steps)
        self.e_sched = torch.optim.lr_scheduler.CosineAnnealingLR(self.e_opt, max_steps)
        self.expectile, self.alpha, self.discount, self.tau = expectile, alpha, discount, tau
        self.actor = _Actor(self)

    def optimizers(self) -> list[torch.optim.Optimizer]:
        return [self.v_opt, self.g_opt, self.e_opt]

    def value(self, obs: torch.Tensor, target: bool = False) -> torch.Tensor:
        v1, v2 = self.v_target if target else (self.v1, self.v2)
        return torch.minimum(v1(obs), v2(obs)).squeeze(-1)

    def update(self, b: dict[str, torch.Tensor], step: int) -> dict[str, torch.Tensor]:
        s, s2 = b["observations"], b["next_observations"]
        with torch.no_grad():
            y = b["rewards"] + (1.0 - b["terminals"]) * self.discount * self.value(s2, target=True)
        v_loss = sum(expectile_loss(y - v(s).squeeze(-1), self.expectile).mean(1) for v in (self.v1, self.v2)) / 2
        self.v_opt.zero_grad()
        v_loss.sum().backward()
        self.v_opt.step()
        soft_update(self.v_target, nn.ModuleList([self.v1, self.v2]), self.tau)
        with torch.no_grad():  # POR-r: imitate the data's next states, weighted by their advantage
            w = torch.exp(self.alpha * (y - self.value(s))).clamp(max=EXP_ADV_MAX)
        g_loss = -(w * self.guide.log_prob(s, s2)).mean(1)
        e_loss = -self.execute.log_prob(torch.cat([s, s2], -1), b["actions"]).mean(1)
        for opt, loss in ((self.g_opt, g_loss), (self.e_opt, e_loss)):
            opt.zero_grad()
            loss.sum().backward()
            opt.step()
        self.g_sched.step()
        self.e_sched.step()
        return {"v_loss": v_loss.detach(), "guide_loss": g_loss.detach(), "execute_loss": e_loss.detach()}


# POR's released settings: mazes tau 0.9, alpha 10; MuJoCo (POR-r) tau 0.5, alpha 3
LEARNER = Learner(
    "por",
    POR,
    "POR: a value-guided state planner plus an inverse dynamics policy",
    profile_options=train_widths,
    defaults={
        "*": {"expectile": 0.5, "alpha": 3.0},
        "maze": {"expectile": 0.9, "alpha": 10.0},
    },
)
