"""Goal-conditioned implicit V-learning (GCIVL; OGBench): a value V(s, g) learned by expectile regression with
hindsight rewards, and an actor trained by advantage-weighted regression on it. Its value stitches by itself:
a TD backup through a state two fragments share carries "how far to g" from one fragment into the other.

Rewards come from the value goals: 0 when the goal is the current state (then the bootstrap stops), else -1, so V
estimates minus the (discounted) steps to the goal. OGBench's settings: discount 0.99, expectile 0.9, AWR
temperature alpha 10 (weights clipped at 100), target networks with tau 0.005, two value heads (their mean is the
advantage's baseline, each regressed on its own target), value goals 0.2 current / 0.5 trajectory (geometric) /
0.3 random, actor goals from the trajectory (0.5 with random goals on stitch datasets). OGBench's value MLPs use
LayerNorm and GELU; the kit's use ReLU without LayerNorm (its shared ensemble MLP).
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from stitchkit.algos.gcbc import GoalActor, goal_network
from stitchkit.algos.iql import EXP_ADV_MAX
from stitchkit.algos.learner import Learner
from stitchkit.data.goals import GoalSampling
from stitchkit.nets import adam, mlp, soft_update


def expectile_weighted(adv: torch.Tensor, diff: torch.Tensor, expectile: float) -> torch.Tensor:
    """OGBench's expectile loss: the weight is chosen by the sign of the advantage, applied to ``diff``^2."""
    return torch.where(adv >= 0, expectile, 1.0 - expectile) * diff**2


class TwinGoalValue(nn.Module):
    def __init__(self, seeds: list[int], obs_dim: int, hidden: tuple[int, ...]):
        super().__init__()
        self.v1 = mlp(seeds, 2 * obs_dim, 1, hidden=hidden, first_layer=30)
        self.v2 = mlp(seeds, 2 * obs_dim, 1, hidden=hidden, first_layer=35)

    def forward(self, obs: torch.Tensor, goal: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.cat([obs, goal], -1)
        return self.v1(x).squeeze(-1), self.v2(x).squeeze(-1)


class GCIVL(nn.Module):
    def __init__(
        self,
        obs_dim: int,
        act_dim: int,
        seeds: list[int],
        hidden: tuple[int, ...] = (512, 512, 512),
        lr: float = 3e-4,
        discount: float = 0.99,
        tau: float = 0.005,
        expectile: float = 0.9,
        alpha: float = 10.0,
        actor_p_trajgoal: float = 1.0,
        actor_p_randomgoal: float = 0.0,
        value_p_curgoal: float = 0.2,
        value_p_trajgoal: float = 0.5,
        value_p_randomgoal: float = 0.3,
    ):
        super().__init__()
        hidden = tuple(hidden)
        self.actor = GoalActor(seeds, obs_dim, act_dim, hidden)
        self.value = TwinGoalValue(seeds, obs_dim, hidden)
        self.value_target = copy.deepcopy(self.value)
        for p in self.value_target.parameters():
            p.requires_grad_(False)
        self.actor_opt = adam(self.actor.parameters(), lr=lr)
        self.value_opt = adam(self.value.parameters(), lr=lr)
        self.discount, self.tau, self.expectile, self.alpha = discount, tau, expectile, alpha
        self.actor_goals = GoalSampling(0.0, actor_p_trajgoal, actor_p_randomgoal, prefix="actor_")
        self.value_goals = GoalSampling(
            value_p_curgoal, value_p_trajgoal, value_p_randomgoal, True, discount, prefix="value_"
        )

    def optimizers(self) -> list[torch.optim.Optimizer]:
        return [self.actor_opt, self.value_opt]

    def graph_key(self, step: int) -> None:
        return None

    def value_loss(self, b: dict[str, torch.Tensor]) -> torch.Tensor:
        g, r, m = b["value_goals"], b["rewards"], b["masks"]
        with torch.no_grad():
            nv1, nv2 = self.value_target(b["next_observations"], g)
            v1_t, v2_t = self.value_target(b["observations"], g)
            adv = r + self.discount * m * torch.minimum(nv1, nv2) - (v1_t + v2_t) / 2
            q1, q2 = r + self.discount * m * nv1, r + self.discount * m * nv2
        v1, v2 = self.value(b["observations"], g)
        loss = expectile_weighted(adv, q1 - v1, self.expectile) + expectile_weighted(adv, q2 - v2, self.expectile)
        return loss.mean(1)

    def actor_loss(self, b: dict[str, torch.Tensor]) -> torch.Tensor:
        g = b["actor_goals"]
        with torch.no_grad():
            v = sum(self.value(b["observations"], g)) / 2
            nv = sum(self.value(b["next_observations"], g)) / 2
            weight = torch.exp(self.alpha * (nv - v)).clamp(max=EXP_ADV_MAX)
        return (weight * ((self.actor(b["observations"], g) - b["actions"]) ** 2).sum(-1)).mean(1)

    def update(self, b: dict[str, torch.Tensor], step: int) -> dict[str, torch.Tensor]:
        value_loss = self.value_loss(b)
        self.value_opt.zero_grad()
        value_loss.sum().backward()
        self.value_opt.step()
        actor_loss = self.actor_loss(b)
        self.actor_opt.zero_grad()
        actor_loss.sum().backward()
        self.actor_opt.step()
        soft_update(self.value_target, self.value, self.tau)
        return {"value_loss": value_loss.detach(), "actor_loss": actor_loss.detach()}


def value_map(
    model: GCIVL, normalize: Callable[[np.ndarray], np.ndarray], xy: np.ndarray, goal_xy: np.ndarray, obs_dim: int
) -> np.ndarray:
    """V(s, g) at positions ``xy`` (n, 2), standing still, for the goal position ``goal_xy``, per seed: (seeds, n),
    the mean of the two value heads. OGBench's rewards (-1 per step until the goal) make V about minus the
    discounted steps to the goal, so a map of it shows where the value believes the goal is reachable from, and
    through which corridors: the picture of what TD learning stitched. ``normalize``: the learner's own observation
    normalizer (the original data's)."""
    obs = np.zeros((len(xy), obs_dim), np.float32)
    obs[:, :2] = xy
    goal = np.zeros_like(obs)
    goal[:, :2] = goal_xy
    n_seeds = next(model.value.parameters()).shape[0]
    o, g = (torch.as_tensor(normalize(a), dtype=torch.float32).expand(n_seeds, -1, -1) for a in (obs, goal))
    with torch.no_grad():
        v1, v2 = model.value(o, g)
    return ((v1 + v2) / 2).numpy()


LEARNER = Learner(
    "gcivl",
    GCIVL,
    "goal-conditioned implicit V-learning: a hindsight value that stitches, advantage-weighted actor",
    section="goals",
    goal_conditioned=True,
    profile_options=goal_network,
    defaults={"maze": {"actor_p_trajgoal": 0.5, "actor_p_randomgoal": 0.5}},  # OGBench's stitch-dataset setting
)
