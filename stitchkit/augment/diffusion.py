"""DiffStitch's generative model: a state-only diffusion model over H-step windows, conditioned by inpainting.

* **Network**: a 1-D temporal U-Net (Janner et al.'s Diffuser): residual blocks of Conv1d(k=5) -> GroupNorm(8) ->
  Mish with the diffusion-step (and optional return) embedding added after the first conv; stride-2 down- and
  transposed-conv up-sampling; no attention. It sees the noisy window only: the mask is *not* an input.
* **Process**: epsilon prediction, cosine schedule (s=0.008, betas <= 0.999), K steps.
* **Conditioning = inpainting**: known states are written into the window (``x <- x*(1-known) + values*known``)
  before every network call in training and after every reverse step in sampling; the loss counts generated
  positions only (mask-weighted epsilon MSE).
* **Sampling**: the ancestral (DDPM) sampler with x0 clipped to [-1, 1] and noise scaled by 0.5 (the released
  code's low-temperature sampling), or a strided DDIM-style sampler over far fewer steps, denser at low noise,
  with per-step noise: measured, deterministic DDIM (eta=0) accepts half as many bridges when inpainting.
* **Guidance** (both optional): classifier-free return guidance (eps_u + w (eps_c - eps_u), condition dropped with
  p=0.25 in training), and a differentiable ``guide(x0) -> loss`` whose gradient moves each step's x0 estimate by
  ``guide_scale`` (RMS, in normalized units) downhill - a normalized step, since the loss's scale varies by orders
  of magnitude between datasets (used for dynamics guidance, :mod:`stitchkit.augment.diffstitch`).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable

import torch
from torch import nn

Guide = Callable[[torch.Tensor], torch.Tensor]  # x0 estimate (B, H, d) -> per-sample loss (B,)


def cosine_beta_schedule(k: int, s: float = 0.008) -> torch.Tensor:
    """Nichol & Dhariwal's cosine schedule: alpha_bar(t) = cos^2(((t/K)+s)/(1+s) * pi/2), betas clipped."""
    t = torch.linspace(0, k, k + 1, dtype=torch.float64)
    abar = torch.cos(((t / k) + s) / (1 + s) * math.pi / 2) ** 2
    abar = abar / abar[0]
    return (1 - abar[1:] / abar[:-1]).clamp(0, 0.999).float()


class SinusoidalEmbedding(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        half = self.dim // 2
        freq = torch.exp(-math.log(10000) * torch.arange(half, device=t.device) / (half - 1))
        arg = t.float()[:, None] * freq[None]
        return torch.cat([arg.sin(), arg.cos()], dim=-1)


class ConvBlock(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, kernel: int = 5):
        super().__init__(nn.Conv1d(c_in, c_out, kernel, padding=kernel // 2), nn.GroupNorm(8, c_out), nn.Mish())


class ResidualTemporalBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, embed_dim: int):
        super().__init__()
        self.block1, self.block2 = ConvBlock(c_in, c_out), ConvBlock(c_out, c_out)
        self.embed = nn.Sequential(nn.Mish(), nn.Linear(embed_dim, c_out))
        self.skip = nn.Conv1d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.block1(x) + self.embed(emb)[:, :, None]
        return self.block2(h) + self.skip(x)


class TemporalUnet(nn.Module):
    """eps_theta(x_k, k[, return]) for windows x of shape (B, H, d). H must be divisible by 2^(levels-1)."""

    def __init__(
        self,
        horizon: int,
        obs_dim: int,
        dim: int = 128,
        mults: tuple[int, ...] = (1, 4, 8),
        returns_condition: bool = False,
        condition_dropout: float = 0.25,
    ):
        super().__init__()
        if horizon % 2 ** (len(mults) - 1):
            raise ValueError(
                f"horizon {horizon} must be divisible by {2 ** (len(mults) - 1)} for {len(mults)} U-Net levels"
            )
        chans = [obs_dim, *[dim * m for m in mults]]
        self.time_mlp = nn.Sequential(
            SinusoidalEmbedding(dim), nn.Linear(dim, dim * 4), nn.Mish(), nn.Linear(dim * 4, dim)
        )
        self.returns_condition, self.condition_dropout = returns_condition, condition_dropout
        embed_dim = dim
        if returns_condition:
            self.returns_mlp = nn.Sequential(
                nn.Linear(1, dim), nn.Mish(), nn.Linear(dim, dim * 4), nn.Mish(), nn.Linear(dim * 4, dim)
            )
            embed_dim = 2 * dim
        n = len(mults)
        self.downs, self.ups = nn.ModuleList(), nn.ModuleList()
        for i, (a, b) in enumerate(zip(chans[:-1], chans[1:])):
            last = i == n - 1
            self.downs.append(
                nn.ModuleList(
                    [
                        ResidualTemporalBlock(a, b, embed_dim),
                        ResidualTemporalBlock(b, b, embed_dim),
                        nn.Conv1d(b, b, 3, 2, 1) if not last else nn.Identity(),
                    ]
                )
            )
        mid = chans[-1]
        self.mid1, self.mid2 = ResidualTemporalBlock(mid, mid, embed_dim), ResidualTemporalBlock(mid, mid, embed_dim)
        for a, b in reversed(list(zip(chans[1:-1], chans[2:]))):
            self.ups.append(
                nn.ModuleList(
                    [
                        ResidualTemporalBlock(b * 2, a, embed_dim),
                        ResidualTemporalBlock(a, a, embed_dim),
                        nn.ConvTranspose1d(a, a, 4, 2, 1),
                    ]
                )
            )
        self.final = nn.Sequential(ConvBlock(dim, dim), nn.Conv1d(dim, obs_dim, 1))

    def forward(
        self,
        x: torch.Tensor,
        k: torch.Tensor,
        returns: torch.Tensor | None = None,
        use_dropout: bool = True,
        force_dropout: bool = False,
    ) -> torch.Tensor:
        x = x.transpose(1, 2)  # (B, d, H)
        emb = self.time_mlp(k)
        if self.returns_condition:
            r = self.returns_mlp(returns.reshape(-1, 1))
            if force_dropout:
                r = r * 0
            elif use_dropout and self.training:
                keep = torch.rand(r.shape[0], 1, device=r.device) >= self.condition_dropout
                r = r * keep
            emb = torch.cat([emb, r], dim=-1)
        skips = []
        for b1, b2, down in self.downs:
            x = b2(b1(x, emb), emb)
            skips.append(x)
            x = down(x)
        x = self.mid2(self.mid1(x, emb), emb)
        for b1, b2, up in self.ups:
            x = torch.cat([x, skips.pop()], dim=1)
            x = up(b2(b1(x, emb), emb))
        return self.final(x).transpose(1, 2)


def apply_conditioning(x: torch.Tensor, known: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """Inpainting: positions where ``known`` (B, H) is true take ``values`` (B, H, d)."""
    k = known[..., None].to(x.dtype)
    return x * (1 - k) + values * k


class StateDiffusion(nn.Module):
    """Epsilon-prediction diffusion over windows of CDF-normalized states, with an EMA copy for sampling."""

    def __init__(self, net: TemporalUnet, steps: int = 100, noise_scale: float = 0.5, ema_decay: float = 0.995):
        super().__init__()
        self.net, self.k, self.noise_scale, self.ema_decay = net, steps, noise_scale, ema_decay
        self.ema = copy.deepcopy(net).requires_grad_(False)
        betas = cosine_beta_schedule(steps)
        alphas = 1 - betas
        abar = torch.cumprod(alphas, 0)
        abar_prev = torch.cat([torch.ones(1), abar[:-1]])
        for name, value in dict(
            betas=betas,
            abar=abar,
            abar_prev=abar_prev,
            post_var=betas * (1 - abar_prev) / (1 - abar),
            post_c0=betas * abar_prev.sqrt() / (1 - abar),
            post_ct=(1 - abar_prev) * alphas.sqrt() / (1 - abar),
        ).items():
            self.register_buffer(name, value)

    # ---------------------------------------------------------------------------------------------- training
    def loss(
        self,
        x0: torch.Tensor,
        known: torch.Tensor,
        returns: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Mask-weighted epsilon MSE: only the generated (unknown) positions count."""
        b = x0.shape[0]
        k = torch.randint(0, self.k, (b,), device=x0.device, generator=generator)
        noise = torch.randn(x0.shape, device=x0.device, generator=generator)
        ab = self.abar[k][:, None, None]
        xk = apply_conditioning(ab.sqrt() * x0 + (1 - ab).sqrt() * noise, known, x0)
        eps = self.net(xk, k, returns)
        w = (~known)[..., None].to(x0.dtype)
        return ((eps - noise) ** 2 * w).sum() / (w.sum() * x0.shape[-1]).clamp(min=1)

    @torch.no_grad()
    def update_ema(self, step: int, start: int, every: int = 10) -> None:
        """EMA of the weights (decay 0.995, every 10 steps from ``start``; a plain copy before)."""
        if step < start:
            self.ema.load_state_dict(self.net.state_dict())
        elif step % every == 0:
            for pe, p in zip(self.ema.parameters(), self.net.parameters()):
                pe.lerp_(p, 1 - self.ema_decay)
            for be, b in zip(self.ema.buffers(), self.net.buffers()):
                be.copy_(b)

    # ---------------------------------------------------------------------------------------------- sampling
    def _eps(self, x: torch.Tensor, k: int, returns: torch.Tensor | None, weight: float) -> torch.Tensor:
        kk = torch.full((x.shape[0],), k, device=x.device, dtype=torch.long)
        if returns is None or not self.ema.returns_condition:
            return self.ema(x, kk, returns, use_dropout=False, force_dropout=self.ema.returns_condition)
        cond = self.ema(x, kk, returns, use_dropout=False)
        uncond = self.ema(x, kk, returns, force_dropout=True)
        return uncond + weight * (cond - uncond)

    def _x0(
        self, x: torch.Tensor, eps: torch.Tensor, k: int, guide: Guide | None, guide_scale: float, known: torch.Tensor
    ) -> torch.Tensor:
        ab = self.abar[k]
        x0 = ((x - (1 - ab).sqrt() * eps) / ab.sqrt()).clamp(-1, 1)
        if guide is not None and guide_scale > 0:
            with torch.enable_grad():
                z = x0.detach().requires_grad_(True)
                (grad,) = torch.autograd.grad(guide(z).sum(), z)
            grad = grad * (~known)[..., None]
            rms = grad.pow(2).mean(dim=(1, 2), keepdim=True).sqrt().clamp(min=1e-12)
            x0 = (x0 - guide_scale * grad / rms).clamp(-1, 1)  # a step of RMS guide_scale down the gradient
        return x0

    spacing: str = "quadratic"

    def strided_steps(self, steps: int) -> list[int]:
        """The noise levels a strided sampler visits, K-1 down to 0: evenly spaced ("linear"), or denser at low
        noise ("quadratic", DDIM's choice for small step counts), where inpainted and generated parts are
        reconciled."""
        if self.spacing == "linear":
            ks = torch.linspace(self.k - 1, 0, steps)
        else:
            ks = torch.linspace((self.k - 1) ** 0.5, 0, steps) ** 2
        return sorted({int(k) for k in ks.round().long().tolist()}, reverse=True)

    @torch.no_grad()
    def sample(
        self,
        known: torch.Tensor,
        values: torch.Tensor,
        steps: int | None = None,
        returns: torch.Tensor | None = None,
        return_weight: float = 1.2,
        guide: Guide | None = None,
        guide_scale: float = 0.0,
        generator: torch.Generator | None = None,
        trace: list | None = None,
        eta: float = 2.0,
    ) -> torch.Tensor:
        """Windows (B, H, d) agreeing with ``values`` where ``known``. ``steps=None`` runs the full ancestral
        sampler over all K steps; an int runs the strided DDIM sampler over that many evenly spaced steps, with
        fresh noise sigma = eta * sigma_DDIM per step, times the sampler's 0.5 temperature (eta=0: deterministic
        DDIM). The noise lets the inpainted and generated parts reconcile, as the ancestral sampler's does; the
        default eta=2 (with the 0.5 temperature: DDIM's eta=1 noise, while the deterministic term shrinks, clamped at
        0) accepted the most bridges of the settings measured (notebook 05).
        ``trace`` (a list) collects the window after every step, for pictures of denoising."""
        shape, dev = values.shape, values.device
        x = self.noise_scale * torch.randn(shape, device=dev, generator=generator)
        x = apply_conditioning(x, known, values)
        full = steps is None or steps >= self.k
        ks = list(range(self.k - 1, -1, -1)) if full else self.strided_steps(steps)
        for i, k in enumerate(ks):
            x0 = self._x0(x, self._eps(x, k, returns, return_weight), k, guide, guide_scale, known)
            if i + 1 == len(ks):
                x = x0  # the last step of either sampler lands on the x0 estimate
            elif full:  # ancestral: the posterior q(x_{k-1} | x_k, x0) plus 0.5-tempered noise
                noise = torch.randn(shape, device=dev, generator=generator)
                x = self.post_c0[k] * x0 + self.post_ct[k] * x + self.noise_scale * self.post_var[k].sqrt() * noise
            else:  # strided: jump to the next visited level, DDIM's direction term plus fresh noise
                ab, ab_next = self.abar[k], self.abar[ks[i + 1]]
                eps = (x - ab.sqrt() * x0) / (1 - ab).sqrt()  # consistent with the clipped (and guided) x0
                sigma = eta * ((1 - ab_next) / (1 - ab) * (1 - ab / ab_next)).clamp(min=0).sqrt()
                noise = torch.randn(shape, device=dev, generator=generator)
                x = (
                    ab_next.sqrt() * x0
                    + (1 - ab_next - sigma**2).clamp(min=0).sqrt() * eps
                    + self.noise_scale * sigma * noise
                )
            x = apply_conditioning(x, known, values)
            if trace is not None:
                trace.append(x.clone())
        return x


def training_mask(
    batch: int, horizon: int, generator: torch.Generator | None = None, device: str | torch.device = "cpu"
) -> torch.Tensor:
    """DiffStitch's training masks: state 0 always known, plus one random known block [a, b] with
    1 <= a <= b <= H-2, so the last state is never known."""
    a = torch.randint(1, horizon - 1, (batch,), generator=generator, device=device)
    b = a + (torch.rand(batch, generator=generator, device=device) * (horizon - 1 - a)).long()
    idx = torch.arange(horizon, device=device)[None]
    known = (idx >= a[:, None]) & (idx <= b[:, None])
    known[:, 0] = True
    return known


def diffusion_from_sizes(obs_dim: int, sizes, returns_condition: bool = False) -> StateDiffusion:
    net = TemporalUnet(sizes.horizon, obs_dim, sizes.unet_dim, tuple(sizes.unet_mults), returns_condition)
    return StateDiffusion(net, sizes.diffusion_steps)


def denoise_error(model: StateDiffusion, x0: torch.Tensor, known: torch.Tensor, k: int) -> float:
    """Held-out check: MSE of the x0 estimate at noise level k on the generated positions."""
    with torch.no_grad():
        noise = torch.randn_like(x0)
        ab = model.abar[k]
        xk = apply_conditioning(ab.sqrt() * x0 + (1 - ab).sqrt() * noise, known, x0)
        eps = model.ema(
            xk,
            torch.full((x0.shape[0],), k, dtype=torch.long),
            None,
            use_dropout=False,
            force_dropout=model.ema.returns_condition,
        )
        x0_hat = ((xk - (1 - ab).sqrt() * eps) / ab.sqrt()).clamp(-1, 1)
        w = (~known)[..., None].float()
        return float(((x0_hat - x0) ** 2 * w).sum() / (w.sum() * x0.shape[-1]))


__all__ = [
    "StateDiffusion",
    "TemporalUnet",
    "apply_conditioning",
    "cosine_beta_schedule",
    "denoise_error",
    "diffusion_from_sizes",
    "training_mask",
]
