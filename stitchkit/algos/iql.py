"""Implicit Q-Learning (Kostrikov et al., 2022): never query Q on actions outside the data.

V is fit as an upper expectile of Q over the *dataset's* actions, Q regresses r + gamma V(s'), and the actor is
advantage-weighted regression: imitate the data, weighted by exp(beta * (Q - V)), clipped at 100. CORL's
defaults: beta 3, expectile 0.7, tau 0.005, Adam 3e-4 with the actor's rate on a cosine schedule to 0; a
Gaussian actor, or a deterministic one (CORL's choice for hopper medium and medium-replay, where CORL also scales
the rewards so the dataset's returns span 1000: ``normalize_reward``, applied by the trainer to the data).
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from stitchkit.algos.learner import Learner, train_widths
from stitchkit.nets import DeterministicActor, GaussianActor, TwinQ, adam, mlp, soft_update

EXP_ADV_MAX = 100.0


def expectile_loss(diff: torch.Tensor, expectile: float) -> torch.Tensor:
    """|tau - 1(diff < 0)| diff^2: minimised by the tau-expectile (tau = 0.5 gives the mean)."""
    weight = torch.where(diff > 0, expectile, 1.0 - expectile)
    return weight * diff**2


class IQL(nn.Module):
    def __init__(
        self,
        obs_dim: int,
        act_dim: int,
        seeds: list[int],
        max_action: float = 1.0,
        beta: float = 3.0,
        expectile: float = 0.7,
        discount: float = 0.99,
        tau: float = 0.005,
        lr: float = 3e-4,
        deterministic: bool = False,
        max_steps: int = 1_000_000,
        hidden: tuple[int, ...] = (256, 256),  # CORL's; a smaller width makes a laptop run cheaper
        normalize_reward: bool = False,  # read by the trainer, which scales the data's rewards (return_range_scale)
    ):
        super().__init__()
        actor_cls = DeterministicActor if deterministic else GaussianActor
        self.actor = actor_cls(seeds, obs_dim, act_dim, max_action, hidden=hidden)
        self.q = TwinQ(seeds, obs_dim, act_dim, hidden=hidden)
        self.q_target = copy.deepcopy(self.q)
        for p in self.q_target.parameters():
            p.requires_grad_(False)
        self.v = mlp(seeds, obs_dim, 1, hidden=hidden, first_layer=20)
        self.v_opt = adam(self.v.parameters(), lr=lr)
        self.q_opt = adam(self.q.parameters(), lr=lr)
        self.actor_opt = adam(self.actor.parameters(), lr=lr)
        self.actor_sched = torch.optim.lr_scheduler.CosineAnnealingLR(self.actor_opt, max_steps)
        self.beta, self.expectile, self.discount, self.tau = beta, expectile, discount, tau
        self.deterministic = deterministic

    def optimizers(self) -> list[torch.optim.Optimizer]:
        return [self.v_opt, self.q_opt, self.actor_opt]

    def graph_key(self, step: int) -> None:
        """Every step runs the same update: one CUDA graph (see :mod:`stitchkit.algos.graphed`)."""
        return None

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        return self.v(obs).squeeze(-1)

    def update(self, b: dict[str, torch.Tensor], step: int) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            target_q = torch.minimum(*self.q_target(b["observations"], b["actions"]))
            next_v = self.value(b["next_observations"])
        # V: expectile of Q over the dataset's actions
        adv = target_q - self.value(b["observations"])
        v_loss = expectile_loss(adv, self.expectile).mean(1)
        self.v_opt.zero_grad()
        v_loss.sum().backward()
        self.v_opt.step()
        # Q: one-step backup through V
        y = b["rewards"] + (1.0 - b["terminals"]) * self.discount * next_v
        q1, q2 = self.q(b["observations"], b["actions"])
        q_loss = ((q1 - y) ** 2).mean(1) + ((q2 - y) ** 2).mean(1)
        self.q_opt.zero_grad()
        q_loss.sum().backward()
        self.q_opt.step()
        soft_update(self.q_target, self.q, self.tau)
        # actor: advantage-weighted regression
        weight = torch.exp(self.beta * adv.detach()).clamp(max=EXP_ADV_MAX)
        if self.deterministic:
            bc = ((self.actor(b["observations"]) - b["actions"]) ** 2).sum(-1)
        else:
            bc = -self.actor.dist(b["observations"]).log_prob(b["actions"]).sum(-1)
        actor_loss = (weight * bc).mean(1)
        self.actor_opt.zero_grad()
        actor_loss.sum().backward()
        self.actor_opt.step()
        self.actor_sched.step()
        return {"v_loss": v_loss.detach(), "q_loss": q_loss.detach(), "actor_loss": actor_loss.detach()}


# CORL's per-dataset configs (keys: stitchkit.data.registry.dataset_keys; a subsample reads as its parent)
LEARNER = Learner(
    "iql",
    IQL,
    "Implicit Q-Learning: expectile values, advantage-weighted actor",
    profile_options=train_widths,
    defaults={
        "hopper/medium": {"deterministic": True, "tau": 0.001, "normalize_reward": True},
        "hopper/medium-replay": {"deterministic": True, "tau": 0.001, "normalize_reward": True},
        "hopper/medium-expert": {"beta": 6.0, "expectile": 0.5},
    },
)
