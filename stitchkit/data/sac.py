"""Soft actor-critic (Haarnoja et al. 2018), the agent whose replay buffer D4RL's medium-replay datasets are.

Why the kit's own and not stable-baselines3's: the recording takes hours and must survive a session whose
``data/`` is wiped, so a run resumes from a few committed megabytes (this agent's state, its random states and the
recorded actions, from which the buffer is replayed) and continues bit for bit. SB3 saves its whole replay buffer
(over 100 MB pickled at 400k transitions) and does not resume bit for bit. Speed is alike: 60-66 updates per
second on one idle core here against SB3's 52-55, 38 against 36 with both cores busy (``benchmarks/sac_speed.py``).
The settings are rlkit's (D4RL's SAC) and SB3's defaults, which agree:
256-256 ReLU networks, Adam 3e-4 for actor, twin critics and temperature, batch 256, discount 0.99, Polyak 0.005
every step, automatic entropy with target -|A| and initial temperature 1, tanh-squashed Gaussian actor with log-std
clamped to [-20, 2]. The actor is :class:`~stitchkit.data.policies.SquashedGaussianActor`, so its checkpoints are
the kit's behaviour-policy files.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from stitchkit.data.policies import LOG_STD_MAX, LOG_STD_MIN, SquashedGaussianActor


def mlp(inp: int, out: int, hidden: int = 256) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(inp, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, out)
    )


class SAC:
    """One SAC agent: :meth:`act` for the environment, :meth:`update` for one gradient step on a batch."""

    def __init__(self, obs_dim: int, act_dim: int, low: np.ndarray, high: np.ndarray, seed: int, hidden: int = 256):
        torch.manual_seed(seed)
        if not (np.allclose(low, -1) and np.allclose(high, 1)):
            raise ValueError("the kit's SAC assumes actions in [-1, 1] (true of hopper, walker2d and halfcheetah)")
        self.actor = SquashedGaussianActor(obs_dim, act_dim, low, high, hidden)
        self.q1, self.q2 = mlp(obs_dim + act_dim, 1, hidden), mlp(obs_dim + act_dim, 1, hidden)
        self.q1_target, self.q2_target = copy.deepcopy(self.q1), copy.deepcopy(self.q2)
        for p in [*self.q1_target.parameters(), *self.q2_target.parameters()]:
            p.requires_grad_(False)
        self.log_alpha = torch.zeros(1, requires_grad=True)  # temperature 1 at the start (rlkit, SB3)
        self.target_entropy = -float(act_dim)
        self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr=3e-4)
        self.q_opt = torch.optim.Adam([*self.q1.parameters(), *self.q2.parameters()], lr=3e-4)
        self.alpha_opt = torch.optim.Adam([self.log_alpha], lr=3e-4)
        self.gamma, self.tau = 0.99, 0.005
        self.generator = torch.Generator().manual_seed(seed)
        self._online = [*self.q1.parameters(), *self.q2.parameters()]
        self._target = [*self.q1_target.parameters(), *self.q2_target.parameters()]

    def _sample(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """A reparameterised tanh-Gaussian action and its log-probability (with the tanh correction)."""
        h = self.actor.latent_pi(obs)
        mu = self.actor.mu(h)
        log_std = self.actor.log_std(h).clamp(LOG_STD_MIN, LOG_STD_MAX)
        eps = torch.randn(mu.shape, generator=self.generator)
        pre = mu + log_std.exp() * eps
        a = torch.tanh(pre)
        logp = (-0.5 * eps.pow(2) - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)
        logp = logp - (2 * (math.log(2) - pre - F.softplus(-2 * pre))).sum(-1)  # log(1 - tanh^2), stable
        return a, logp

    def act(self, obs: np.ndarray) -> np.ndarray:
        return self.actor.act(obs[None], self.generator)[0].astype(np.float32)

    def update(self, obs, act, rew, next_obs, done) -> dict[str, float]:
        """One gradient step of critics, actor and temperature (SAC v2, as rlkit and SB3 order them)."""
        alpha = self.log_alpha.detach().exp()
        with torch.no_grad():
            a2, logp2 = self._sample(next_obs)
            x2 = torch.cat([next_obs, a2], -1)
            q_next = torch.min(self.q1_target(x2), self.q2_target(x2)).squeeze(-1) - alpha * logp2
            target = rew + self.gamma * (1.0 - done) * q_next
        x = torch.cat([obs, act], -1)
        q_loss = F.mse_loss(self.q1(x).squeeze(-1), target) + F.mse_loss(self.q2(x).squeeze(-1), target)
        self.q_opt.zero_grad(set_to_none=True)
        q_loss.backward()
        self.q_opt.step()

        a, logp = self._sample(obs)
        xa = torch.cat([obs, a], -1)
        for p in self._online:
            p.requires_grad_(False)
        q_pi = torch.min(self.q1(xa), self.q2(xa)).squeeze(-1)
        for p in self._online:
            p.requires_grad_(True)
        actor_loss = (alpha * logp - q_pi).mean()
        self.actor_opt.zero_grad(set_to_none=True)
        actor_loss.backward()
        self.actor_opt.step()

        alpha_loss = -(self.log_alpha * (logp.detach() + self.target_entropy)).mean()
        self.alpha_opt.zero_grad(set_to_none=True)
        alpha_loss.backward()
        self.alpha_opt.step()

        with torch.no_grad():
            torch._foreach_lerp_(self._target, self._online, self.tau)
        return {"q_loss": q_loss.item(), "actor_loss": actor_loss.item(), "alpha": alpha.item()}

    def state_dict(self) -> dict:
        return {
            "actor": self.actor.state_dict(),
            "q1": self.q1.state_dict(),
            "q2": self.q2.state_dict(),
            "q1_target": self.q1_target.state_dict(),
            "q2_target": self.q2_target.state_dict(),
            "log_alpha": self.log_alpha.detach().clone(),
            "actor_opt": self.actor_opt.state_dict(),
            "q_opt": self.q_opt.state_dict(),
            "alpha_opt": self.alpha_opt.state_dict(),
            "generator": self.generator.get_state(),
        }

    def load_state_dict(self, sd: dict) -> None:
        for name in ("actor", "q1", "q2", "q1_target", "q2_target"):
            getattr(self, name).load_state_dict(sd[name])
        with torch.no_grad():
            self.log_alpha.copy_(sd["log_alpha"])
        for name in ("actor_opt", "q_opt", "alpha_opt"):
            getattr(self, name).load_state_dict(sd[name])
        self.generator.set_state(sd["generator"])
