"""A toy learner: every member outputs one learned constant action. The plug-in contract in full: a seed-batched
``nn.Module`` with ``update(batch, step) -> {loss: (S,)}``, ``optimizers()``, an ``actor.act`` and a ``LEARNER``."""

from __future__ import annotations

import torch
from torch import nn

from stitchkit.algos.learner import Learner


class _Actor(nn.Module):
    def __init__(self, owner: ConstantAction):
        super().__init__()
        self._owner = [owner]

    def act(self, obs: torch.Tensor) -> torch.Tensor:
        a = self._owner[0].action
        return a[:, None].expand(obs.shape[0], obs.shape[1], a.shape[-1])


class ConstantAction(nn.Module):
    def __init__(self, obs_dim: int, act_dim: int, seeds: list[int], lr: float = 0.1):
        super().__init__()
        self.action = nn.Parameter(torch.zeros(len(seeds), act_dim))
        self.opt = torch.optim.SGD(self.parameters(), lr=lr)
        self.actor = _Actor(self)

    def optimizers(self) -> list[torch.optim.Optimizer]:
        return [self.opt]

    def update(self, b: dict[str, torch.Tensor], step: int) -> dict[str, torch.Tensor]:
        loss = ((self.action[:, None] - b["actions"]) ** 2).mean((1, 2))
        self.opt.zero_grad()
        loss.sum().backward()
        self.opt.step()
        return {"loss": loss.detach()}


LEARNER = Learner("constant", ConstantAction, "one constant action", defaults={"maze": {"lr": 0.5}})
