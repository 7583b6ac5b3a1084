"""Goal-conditioned behaviour cloning (GCBC; OGBench's baseline): imitate the data's action, given a goal the data
reached later in the same trajectory.

pi(s, g) regresses the action taken at s, with g a future state of s's own trajectory (hindsight relabelling,
:mod:`stitchkit.data.goals`). It never chains trajectories by itself: with fragments 4 cells long it learns 4-cell
trips, and reaches a goal 10 cells away only where its network happens to generalise across fragments (Ghugare
et al., ICLR 2024). That is what stitched data changes. OGBench's actor is a Gaussian with a constant std, whose
log-likelihood is the squared error used here, with tanh on the mean; its actor goals are uniform over the rest
of the trajectory (``actor_p_trajgoal`` 1; 0.5 with random goals on its stitch datasets, see ``LEARNER``).
``actor_p_swap`` > 0 turns on Ghugare et al.'s temporal goal augmentation (:meth:`GoalIndex.swap`): stitching by
relabelling goals across trajectories that cross, with no generated data.
"""

from __future__ import annotations

import torch
from torch import nn

from stitchkit.algos.learner import Learner
from stitchkit.data.goals import GoalSampling
from stitchkit.nets import adam, mlp


class GoalActor(nn.Module):
    """a = max_action * tanh(MLP([s, g])): the deterministic goal-conditioned policy (S members)."""

    def __init__(self, seeds: list[int], obs_dim: int, act_dim: int, hidden: tuple[int, ...], layer: int = 0):
        super().__init__()
        self.net = mlp(seeds, 2 * obs_dim, act_dim, hidden=hidden, first_layer=layer, out_act=nn.Tanh())

    def forward(self, obs: torch.Tensor, goal: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([obs, goal], -1))

    def act(self, obs: torch.Tensor, goal: torch.Tensor) -> torch.Tensor:
        return self(obs, goal)


class GCBC(nn.Module):
    def __init__(
        self,
        obs_dim: int,
        act_dim: int,
        seeds: list[int],
        hidden: tuple[int, ...] = (512, 512, 512),
        lr: float = 3e-4,
        actor_p_curgoal: float = 0.0,
        actor_p_trajgoal: float = 1.0,
        actor_p_randomgoal: float = 0.0,
        actor_p_swap: float = 0.0,
        swap_size: float = 2.0,
    ):
        super().__init__()
        self.actor = GoalActor(seeds, obs_dim, act_dim, tuple(hidden))
        self.opt = adam(self.actor.parameters(), lr=lr)
        self.actor_goals = GoalSampling(
            actor_p_curgoal,
            actor_p_trajgoal,
            actor_p_randomgoal,
            p_swap=actor_p_swap,
            swap_size=swap_size,
            prefix="actor_",
        )
        self.value_goals: GoalSampling | None = None  # no value function

    def optimizers(self) -> list[torch.optim.Optimizer]:
        return [self.opt]

    def graph_key(self, step: int) -> None:
        return None

    def update(self, b: dict[str, torch.Tensor], step: int) -> dict[str, torch.Tensor]:
        loss = ((self.actor(b["observations"], b["actor_goals"]) - b["actions"]) ** 2).mean((1, 2))  # (S,)
        self.opt.zero_grad()
        loss.sum().backward()
        self.opt.step()
        return {"actor_loss": loss.detach()}


def goal_network(profile) -> dict:
    """The network width is sized by the profile (2x256 on a laptop, OGBench's 3x512 at full)."""
    return {"hidden": profile.goals.hidden}


LEARNER = Learner(
    "gcbc",
    GCBC,
    "goal-conditioned behaviour cloning (hindsight goals from the same trajectory)",
    section="goals",
    goal_conditioned=True,
    profile_options=goal_network,
)
