"""TD3+BC (Fujimoto & Gu, 2021): TD3 whose actor also imitates the data, with lambda = alpha / mean|Q|.

CORL's settings: actor and twin critics 256-256, Adam 3e-4, tau 0.005, policy noise 0.2 clipped at 0.5, actor and
target updates every 2 steps, alpha 2.5. Every quantity is per member (seed): lambda is computed from each
member's own Q, so S members behave as S separate runs.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from stitchkit.algos.learner import Learner, train_widths
from stitchkit.algos.noise import MemberGenerators, member_randn
from stitchkit.nets import DeterministicActor, TwinQ, adam, frozen, soft_update


class TD3BC(nn.Module):
    def __init__(
        self,
        obs_dim: int,
        act_dim: int,
        seeds: list[int],
        max_action: float = 1.0,
        alpha: float = 2.5,
        discount: float = 0.99,
        tau: float = 0.005,
        policy_noise: float = 0.2,
        noise_clip: float = 0.5,
        policy_freq: int = 2,
        lr: float = 3e-4,
        hidden: tuple[int, ...] = (256, 256),  # CORL's; a smaller width makes a laptop run cheaper
    ):
        super().__init__()
        self.actor = DeterministicActor(seeds, obs_dim, act_dim, max_action, hidden=hidden)
        self.critic = TwinQ(seeds, obs_dim, act_dim, hidden=hidden)
        self.actor_target, self.critic_target = copy.deepcopy(self.actor), copy.deepcopy(self.critic)
        for p in (*self.actor_target.parameters(), *self.critic_target.parameters()):
            p.requires_grad_(False)
        self.actor_opt = adam(self.actor.parameters(), lr=lr)
        self.critic_opt = adam(self.critic.parameters(), lr=lr)
        self.gens = MemberGenerators(seeds)
        self.alpha, self.discount, self.tau = alpha, discount, tau
        self.policy_noise, self.noise_clip, self.policy_freq, self.max_action = (
            policy_noise,
            noise_clip,
            policy_freq,
            max_action,
        )
        self.register_buffer("_actor_loss", torch.zeros(len(seeds)), persistent=False)  # moves with .to(device)

    def optimizers(self) -> list[torch.optim.Optimizer]:
        return [self.actor_opt, self.critic_opt]

    def graph_key(self, step: int) -> bool:
        """The update's Python-side branch: whether this step also updates the actor (one CUDA graph each)."""
        return step % self.policy_freq == 0

    def critic_loss(self, b: dict[str, torch.Tensor]) -> torch.Tensor:
        """Per member: MSE of both critics to r + gamma (1 - done) min Q'(s', pi'(s') + clipped noise)."""
        with torch.no_grad():
            noise = (member_randn(self.gens, b["actions"].shape[1:], b["actions"].device) * self.policy_noise).clamp(
                -self.noise_clip, self.noise_clip
            )
            next_a = (self.actor_target(b["next_observations"]) + noise).clamp(-self.max_action, self.max_action)
            target_q = torch.minimum(*self.critic_target(b["next_observations"], next_a))
            y = b["rewards"] + (1.0 - b["terminals"]) * self.discount * target_q
        q1, q2 = self.critic(b["observations"], b["actions"])
        return ((q1 - y) ** 2).mean(1) + ((q2 - y) ** 2).mean(1)

    def actor_loss(self, b: dict[str, torch.Tensor]) -> torch.Tensor:
        """Per member: -lambda Q(s, pi(s)) + MSE(pi(s), a), lambda = alpha / mean|Q| (detached)."""
        pi = self.actor(b["observations"])
        with frozen(self.critic):  # the gradient passes through Q1 to the actor; the critic's own is not needed
            q = self.critic.first(b["observations"], pi)
        lmbda = self.alpha / q.abs().mean(1).detach()
        return -lmbda * q.mean(1) + ((pi - b["actions"]) ** 2).mean((1, 2))

    def update(self, b: dict[str, torch.Tensor], step: int) -> dict[str, torch.Tensor]:
        critic_loss = self.critic_loss(b)
        self.critic_opt.zero_grad()
        critic_loss.sum().backward()
        self.critic_opt.step()
        if step % self.policy_freq == 0:
            actor_loss = self.actor_loss(b)
            self.actor_opt.zero_grad()
            actor_loss.sum().backward()
            self.actor_opt.step()
            soft_update(self.actor_target, self.actor, self.tau)
            soft_update(self.critic_target, self.critic, self.tau)
            self._actor_loss = actor_loss.detach()
        return {"critic_loss": critic_loss.detach(), "actor_loss": self._actor_loss}


def value_gap(algo: TD3BC, observations: torch.Tensor, actions: torch.Tensor) -> dict[str, float]:
    """How the critic values the actor's actions against the data's own, on states ``observations`` (normalised as
    the run normalised them, (S, B, d) or (B, d)) and the data's ``actions``: the means of min(Q1, Q2)(s, a) and
    min(Q1, Q2)(s, pi(s)), and their difference.

    Why: the critic learns only from the data's actions, so where the actor moves away from them its Q is an
    extrapolation nothing corrects. A gap that grows says the actor is chasing that extrapolation; TD3+BC's
    behaviour-cloning term (and a smaller alpha) holds the actor near the data, where the critic is trained."""
    members = algo._actor_loss.shape[0]
    s = observations if observations.dim() == 3 else observations.expand(members, *observations.shape)
    a = actions if actions.dim() == 3 else actions.expand(members, *actions.shape)
    with torch.no_grad():
        q_data = torch.minimum(*algo.critic(s, a))
        q_policy = torch.minimum(*algo.critic(s, algo.actor(s)))
    return {
        "q_data": float(q_data.mean()),
        "q_policy": float(q_policy.mean()),
        "gap": float((q_policy - q_data).mean()),
    }


LEARNER = Learner("td3bc", TD3BC, "TD3+BC: TD3 whose actor also imitates the data", profile_options=train_widths)
