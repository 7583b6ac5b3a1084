"""Behaviour cloning: regress the dataset's actions (CORL's ``any_percent_bc`` with all the data)."""

from __future__ import annotations

import torch
from torch import nn

from stitchkit.algos.learner import Learner, train_widths
from stitchkit.nets import DeterministicActor, adam


class BC(nn.Module):
    def __init__(
        self,
        obs_dim: int,
        act_dim: int,
        seeds: list[int],
        max_action: float = 1.0,
        lr: float = 3e-4,
        hidden: tuple[int, ...] = (256, 256),
    ):
        super().__init__()
        self.actor = DeterministicActor(seeds, obs_dim, act_dim, max_action, hidden=hidden)
        self.opt = adam(self.actor.parameters(), lr=lr)

    def optimizers(self) -> list[torch.optim.Optimizer]:
        return [self.opt]

    def graph_key(self, step: int) -> None:
        """Every step runs the same update: one CUDA graph (see :mod:`stitchkit.algos.graphed`)."""
        return None

    def update(self, batch: dict[str, torch.Tensor], step: int) -> dict[str, torch.Tensor]:
        loss = ((self.actor(batch["observations"]) - batch["actions"]) ** 2).mean((1, 2))  # (S,)
        self.opt.zero_grad()
        loss.sum().backward()  # members are independent: the sum's gradient is each member's own
        self.opt.step()
        return {"actor_loss": loss.detach()}


LEARNER = Learner("bc", BC, "behaviour cloning: regress the data's actions", profile_options=train_widths)
