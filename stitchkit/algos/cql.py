"""Conservative Q-Learning (Kumar et al., 2020): SAC whose critics are pushed down on actions the data lacks.

The critic loss adds alpha * (logsumexp_a Q(s, a) - Q(s, a_data)): the soft maximum over sampled actions
(uniform, current-policy and next-policy actions, importance-weighted by their densities) is lowered, the data's
actions are raised. With alpha = 0 (or ``conservative=False``) what remains is the SAC-style backbone.
CORL's settings: actor and critics with 3 hidden layers of 256, policy lr 3e-5, Q lr 3e-4, soft target 5e-3,
automatic entropy tuning to -|A|, no entropy in the backup, alpha 10, 10 sampled actions, temperature 1; rewards
scaled so the returns span 1000 on hopper medium only (``normalize_reward``, applied by the trainer).
(CORL also uses orthogonal initialisation; the kit keeps the default uniform one.)
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
from torch import nn

from stitchkit.algos.learner import Learner
from stitchkit.algos.noise import MemberGenerators, member_rand, member_randn
from stitchkit.nets import TanhGaussianActor, TwinQ, adam, soft_update
from stitchkit.profiles import SizeTable


class CQL(nn.Module):
    def __init__(
        self,
        obs_dim: int,
        act_dim: int,
        seeds: list[int],
        max_action: float = 1.0,
        cql_alpha: float = 10.0,
        n_actions: int = 10,
        temperature: float = 1.0,
        discount: float = 0.99,
        tau: float = 5e-3,
        policy_lr: float = 3e-5,
        q_lr: float = 3e-4,
        conservative: bool = True,
        hidden: tuple[int, ...] = (256, 256, 256),
        normalize_reward: bool = False,  # read by the trainer, which scales the data's rewards (return_range_scale)
    ):
        super().__init__()
        S = len(seeds)
        self.actor = TanhGaussianActor(seeds, obs_dim, act_dim, max_action, hidden=hidden)
        self.critic = TwinQ(seeds, obs_dim, act_dim, hidden=hidden)
        self.critic_target = copy.deepcopy(self.critic)
        for p in self.critic_target.parameters():
            p.requires_grad_(False)
        self.log_alpha = nn.Parameter(torch.zeros(S))
        self.actor_opt = adam(self.actor.parameters(), lr=policy_lr)
        self.critic_opt = adam(self.critic.parameters(), lr=q_lr)
        self.alpha_opt = adam([self.log_alpha], lr=policy_lr)
        self.gens = MemberGenerators(seeds)
        # the penalty's own random draws, so that computing it never shifts the backbone's random stream
        self.cql_gens = MemberGenerators([seed + 104729 for seed in seeds])
        self.target_entropy = -float(act_dim)
        self.cql_alpha, self.n_actions, self.temperature = cql_alpha, n_actions, temperature
        self.discount, self.tau, self.max_action, self.act_dim = discount, tau, max_action, act_dim
        self.conservative = conservative

    def optimizers(self) -> list[torch.optim.Optimizer]:
        return [self.actor_opt, self.critic_opt, self.alpha_opt]

    def graph_key(self, step: int) -> None:
        """Every step runs the same update: one CUDA graph (see :mod:`stitchkit.algos.graphed`)."""
        return None

    def _sample(self, obs: torch.Tensor, gens: list[torch.Generator] | None = None):
        noise = member_randn(gens or self.gens, obs.shape[1:-1] + (self.act_dim,), obs.device)
        return self.actor.sample(obs, noise)

    def td_loss(self, b: dict[str, torch.Tensor]) -> torch.Tensor:
        with torch.no_grad():
            next_a, _ = self._sample(b["next_observations"])
            target_q = torch.minimum(*self.critic_target(b["next_observations"], next_a))
            y = b["rewards"] + (1.0 - b["terminals"]) * self.discount * target_q
        q1, q2 = self.critic(b["observations"], b["actions"])
        return ((q1 - y) ** 2).mean(1) + ((q2 - y) ** 2).mean(1)

    def cql_penalty(self, b: dict[str, torch.Tensor]) -> torch.Tensor:
        """Per member: sum over both critics of mean_s [T logsumexp(Q(s, a_i) / T - log density) - Q(s, a_data)]."""
        S, B, _ = b["observations"].shape
        N, A = self.n_actions, self.act_dim
        rep = lambda x: x.unsqueeze(2).expand(S, B, N, x.shape[-1]).reshape(S, B * N, x.shape[-1])
        obs, next_obs = rep(b["observations"]), rep(b["next_observations"])
        rand_a = member_rand(self.cql_gens, (B * N, A), obs.device) * 2 - 1
        with torch.no_grad():
            curr_a, curr_logp = self._sample(obs, self.cql_gens)
            next_a, next_logp = self._sample(next_obs, self.cql_gens)
        penalty = torch.zeros(S, device=obs.device)
        for qi, q_data in zip((self.critic.q1, self.critic.q2), self.critic(b["observations"], b["actions"])):
            q = lambda a, qi=qi: qi(torch.cat([obs, a], -1)).reshape(S, B, N)
            cat = torch.cat(
                [
                    q(rand_a) - A * math.log(0.5),  # uniform density on [-1, 1]^A is 0.5^A
                    q(next_a) - next_logp.reshape(S, B, N),
                    q(curr_a) - curr_logp.reshape(S, B, N),
                ],
                dim=2,
            )
            ood = torch.logsumexp(cat / self.temperature, dim=2) * self.temperature
            penalty = penalty + (ood - q_data).mean(1)
        return penalty

    def update(self, b: dict[str, torch.Tensor], step: int) -> dict[str, torch.Tensor]:
        # entropy temperature and actor (SAC)
        new_a, logp = self._sample(b["observations"])
        alpha_loss = -(self.log_alpha * (logp.detach() + self.target_entropy).mean(1))
        alpha = self.log_alpha.exp().detach()
        q_new = torch.minimum(*self.critic(b["observations"], new_a))
        actor_loss = (alpha[:, None] * logp - q_new).mean(1)
        self.alpha_opt.zero_grad()
        alpha_loss.sum().backward()
        self.alpha_opt.step()
        self.actor_opt.zero_grad()
        actor_loss.sum().backward()
        self.actor_opt.step()
        # critics: TD + conservative penalty
        td = self.td_loss(b)
        penalty = self.cql_penalty(b) if self.conservative else torch.zeros_like(td)
        critic_loss = td + self.cql_alpha * penalty
        self.critic_opt.zero_grad()
        critic_loss.sum().backward()
        self.critic_opt.step()
        soft_update(self.critic_target, self.critic, self.tau)
        return {
            "critic_loss": critic_loss.detach(),
            "td_loss": td.detach(),
            "cql_penalty": penalty.detach(),
            "actor_loss": actor_loss.detach(),
            "alpha": alpha,
        }


@dataclass(frozen=True)
class CQLSizes:
    """CQL's own step budget: its penalty costs about 30 critic passes per state, so it cannot share the other
    learners' (GPU territory: `lab` gives it a short run that shows the loop, not CORL's score)."""

    steps: int  # gradient steps (CORL: 1M); the batch is the profile's ``train.batch_size`` (256)


SIZES = SizeTable("cql", smoke=CQLSizes(steps=20), lab=CQLSizes(steps=250), full=CQLSizes(steps=1_000_000))

LEARNER = Learner(
    "cql",
    CQL,
    "Conservative Q-Learning: SAC with Q pushed down off the data",
    steps="cql.steps",  # its own (GPU-sized) budget
    sizes=(SIZES,),
    defaults={"hopper/medium": {"normalize_reward": True}},  # CORL's configs: rewards scaled on hopper medium only
)
