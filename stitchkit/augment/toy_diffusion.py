"""Diffusion before the U-Net: DiffStitch's own model on 2-D paths small enough to watch.

Each window is H points of a path in the plane (a constant-turn arc at constant speed), so a window is a tiny
"trajectory" of 2-D states. The model is the kit's :class:`~stitchkit.augment.diffusion.StateDiffusion` with a
small :class:`~stitchkit.augment.diffusion.TemporalUnet`, trained exactly as DiffStitch's (epsilon prediction,
cosine schedule, DiffStitch's inpainting masks, EMA), only with fewer channels and steps. Notebook 05 section 1
draws the forward process, one reverse step, samples, and what inpainting does: fix the last points of one path and
the first points of another, and the model fills the bridge between them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from stitchkit.augment.diffusion import StateDiffusion, TemporalUnet, training_mask
from stitchkit.profiles import SizeTable

HORIZON = 16


@dataclass(frozen=True)
class ToySizes:
    train_steps: int  # gradient steps of the toy model (lab: about 20 s on one core; its loss has flattened)
    windows: int  # training windows


SIZES = SizeTable(
    "toy_diffusion",
    smoke=ToySizes(train_steps=20, windows=256),
    lab=ToySizes(train_steps=800, windows=4_000),  # about 25 s on one core
    full=ToySizes(train_steps=3_000, windows=20_000),
)


def arcs(n: int, horizon: int = HORIZON, seed: int = 0, speed: float = 0.06) -> torch.Tensor:
    """``n`` windows (n, H, 2): paths of constant speed and constant turn rate, starting anywhere in the middle of
    the square [-1, 1]^2 with any heading (clipped to it, rarely); the data a toy diffusion model learns."""
    g = torch.Generator().manual_seed(seed)
    start = (torch.rand(n, 2, generator=g) - 0.5) * 0.8
    heading = torch.rand(n, generator=g) * 2 * math.pi
    turn = (torch.rand(n, generator=g) - 0.5) * 0.5  # radians per step
    angle = heading[:, None] + turn[:, None] * torch.arange(horizon)[None]
    steps = speed * torch.stack([angle.cos(), angle.sin()], -1)
    return (start[:, None] + torch.cumsum(steps, 1) - steps[:, :1]).clamp(-1, 1)


def train(
    windows: torch.Tensor,
    steps: int,
    seed: int = 0,
    dim: int = 16,
    diffusion_steps: int = 50,
    batch: int = 64,
    lr: float = 3e-3,
) -> tuple[StateDiffusion, list[float]]:
    """A small :class:`StateDiffusion` (U-Net ``dim`` x (1, 2)) trained on ``windows`` with DiffStitch's training
    masks; returns it with its loss every step. Measured here (800 steps): lr 3e-3 gave samples whose mean turn is
    twice the data's, 1e-3 three times; DiffStitch's own lr is 2e-4 over 1M steps."""
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    model = StateDiffusion(TemporalUnet(windows.shape[1], 2, dim, (1, 2)), diffusion_steps)
    opt = torch.optim.Adam(model.net.parameters(), lr=lr)
    losses = []
    for step in range(steps):
        x0 = windows[torch.randint(0, len(windows), (batch,), generator=g)]
        loss = model.loss(x0, training_mask(batch, windows.shape[1], g), generator=g)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        model.update_ema(step, start=steps)  # a plain copy: the EMA (decay 0.995 every 10 steps) would lag a short run
        losses.append(loss.item())
    return model.eval(), losses


def noised(model: StateDiffusion, x0: torch.Tensor, k: int, seed: int = 0) -> torch.Tensor:
    """The forward process q(x_k | x_0): sqrt(abar_k) x0 + sqrt(1 - abar_k) noise."""
    noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(seed))
    ab = model.abar[k]
    return ab.sqrt() * x0 + (1 - ab).sqrt() * noise


@torch.no_grad()
def predict_x0(model: StateDiffusion, xk: torch.Tensor, k: int) -> torch.Tensor:
    """One reverse step's estimate of x_0 from x_k: (x_k - sqrt(1 - abar_k) eps_theta(x_k, k)) / sqrt(abar_k)."""
    eps = model.ema(xk, torch.full((xk.shape[0],), k, dtype=torch.long), None, use_dropout=False)
    ab = model.abar[k]
    return ((xk - (1 - ab).sqrt() * eps) / ab.sqrt()).clamp(-1, 1)


def bridge_layout(source: torch.Tensor, target: torch.Tensor, gap: int, tail: int = 2, head: int = 3):
    """DiffStitch's inpainting layout in 2-D: the source's last ``tail`` points first, then ``gap`` free points,
    then the target's first ``head`` points; the rest of the window is free. Returns (known (B, H), values)."""
    b, h = source.shape[0], source.shape[1]
    known = torch.zeros(b, h, dtype=torch.bool)
    values = torch.zeros(b, h, 2)
    known[:, :tail], values[:, :tail] = True, source[:, -tail:]
    at = tail + gap
    known[:, at : at + head], values[:, at : at + head] = True, target[:, :head]
    return known, values
