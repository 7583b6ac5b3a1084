"""Decision Transformer (Chen et al., 2021): offline RL as sequence modelling, conditioned on the return to go.

Tokens (R_t, s_t, a_t) for K steps feed a causal transformer; the output at each state token predicts that step's
action. At evaluation the model is told the return it should achieve and the target is lowered by each reward
received. Trained on whole trajectories, original and stitched alike: a stitched trajectory is one more
sequence, which is why DiffStitch's augmentation helps DT. CORL's settings: embedding 128, 3 layers, 1 head,
K = 20, dropout 0.1, AdamW (lr 8e-4, weight decay 1e-4), gradient clip 0.25, 10k warm-up steps, returns-to-go
scaled by 1e-3, episode length 1000. Layers are seed-batched like every learner's (:mod:`stitchkit.nets`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from stitchkit.algos.learner import NOT_OPTIONS, Learner
from stitchkit.nets import EnsembleLayerNorm, EnsembleLinear, clip_grad_norm_per_member
from stitchkit.options import schema
from stitchkit.profiles import SizeTable


class Block(nn.Module):
    """Pre-norm transformer block: causal self-attention and an MLP, every weight per member."""

    def __init__(self, seeds: list[int], d: int, heads: int, dropout: float, layer: int):
        super().__init__()
        S = len(seeds)
        self.ln1, self.ln2 = EnsembleLayerNorm(S, d), EnsembleLayerNorm(S, d)
        self.qkv = EnsembleLinear(seeds, d, 3 * d, layer)
        self.proj = EnsembleLinear(seeds, d, d, layer + 1)
        self.fc1, self.fc2 = EnsembleLinear(seeds, d, 4 * d, layer + 2), EnsembleLinear(seeds, 4 * d, d, layer + 3)
        self.heads, self.drop = heads, nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, every: int = 1, at: int = 0) -> torch.Tensor:
        """(S, B, T, d) -> (S, B, T // every, d): the outputs at positions ``at, at + every, ...`` only.

        Why ``every``: only the state tokens' outputs are read after the last block (they predict the actions), so
        that block computes its queries, projection and MLP for one token in three (keys and values still span all
        tokens): 18% fewer FLOPs per update at the same outputs. Attention runs on (S * B, heads, T, d / heads), the
        4-D layout whose fused kernels (flash, memory-efficient) ``scaled_dot_product_attention`` picks; a 5-D input
        falls back to the written-out softmax."""
        S, B, T, d = x.shape
        H = self.heads
        h = self.ln1(x.reshape(S, B * T, d))
        if every == 1:
            q, k, v = self.qkv(h).reshape(S * B, T, 3, H, d // H).permute(2, 0, 3, 1, 4)
            att = nn.functional.scaled_dot_product_attention(
                q, k, v, is_causal=True, dropout_p=self.drop.p if self.training else 0.0
            )
        else:  # the queries' rows of the fused weight, applied to the kept tokens only
            x = x[:, :, at::every]
            w, b = self.qkv.weight, self.qkv.bias
            k, v = torch.baddbmm(b[..., d:], h, w[..., d:]).reshape(S * B, T, 2, H, d // H).permute(2, 0, 3, 1, 4)
            kept = h.reshape(S, B, T, d)[:, :, at::every].reshape(S, -1, d)
            q = torch.baddbmm(b[..., :d], kept, w[..., :d]).reshape(S * B, -1, H, d // H).transpose(1, 2)
            pos = torch.arange(T, device=x.device)
            mask = pos[None, :] <= pos[at::every, None]  # query at position p sees keys 0..p (causal)
            att = nn.functional.scaled_dot_product_attention(
                q, k, v, attn_mask=mask, dropout_p=self.drop.p if self.training else 0.0
            )
        T = x.shape[2]  # the kept positions
        att = att.transpose(1, 2).reshape(S, B * T, d)
        x = x + self.drop(self.proj(att)).reshape(S, B, T, d)
        h = self.ln2(x.reshape(S, B * T, d))
        return x + self.drop(self.fc2(nn.functional.gelu(self.fc1(h)))).reshape(S, B, T, d)


class DecisionTransformer(nn.Module):
    def __init__(
        self,
        obs_dim: int,
        act_dim: int,
        seeds: list[int],
        max_action: float = 1.0,
        d: int = 128,
        layers: int = 3,
        heads: int = 1,
        seq_len: int = 20,
        episode_len: int = 1000,
        dropout: float = 0.1,
    ):
        super().__init__()
        S = len(seeds)
        self.seq_len, self.episode_len, self.d, self.act_dim, self.max_action = (
            seq_len,
            episode_len,
            d,
            act_dim,
            max_action,
        )
        g = torch.Generator().manual_seed(seeds[0] * 31 + 5)
        self.time_emb = nn.Parameter(torch.randn(S, episode_len + seq_len, d, generator=g) * 0.02)
        self.emb_r = EnsembleLinear(seeds, 1, d, 100)
        self.emb_s = EnsembleLinear(seeds, obs_dim, d, 101)
        self.emb_a = EnsembleLinear(seeds, act_dim, d, 102)
        self.ln = EnsembleLayerNorm(S, d)
        self.blocks = nn.ModuleList(Block(seeds, d, heads, dropout, 110 + 10 * i) for i in range(layers))
        self.head = EnsembleLinear(seeds, d, act_dim, 150)
        self.drop = nn.Dropout(dropout)

    def forward(self, rtg: torch.Tensor, obs: torch.Tensor, act: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """rtg (S, B, K), obs (S, B, K, obs_dim), act (S, B, K, act_dim), t (S, B, K) -> actions (S, B, K, act_dim)."""
        S, B, K = rtg.shape
        flat = lambda x: x.reshape(S, B * K, x.shape[-1])
        te = torch.gather(self.time_emb, 1, t.reshape(S, B * K, 1).expand(S, B * K, self.d)).reshape(S, B, K, self.d)
        tokens = torch.stack(
            [
                self.emb_r(flat(rtg[..., None])).reshape(S, B, K, self.d) + te,
                self.emb_s(flat(obs)).reshape(S, B, K, self.d) + te,
                self.emb_a(flat(act)).reshape(S, B, K, self.d) + te,
            ],
            dim=3,
        )  # (S, B, K, 3, d)
        x = self.drop(self.ln(tokens.reshape(S, B * 3 * K, self.d))).reshape(S, B, 3 * K, self.d)
        for block in self.blocks[:-1]:
            x = block(x)
        state_out = self.blocks[-1](x, every=3, at=1)  # (S, B, K, d): the state tokens predict the actions
        return self.max_action * torch.tanh(self.head(state_out.reshape(S, B * K, self.d))).reshape(S, B, K, -1)


class DT(nn.Module):
    """The trainer: masked action MSE, AdamW with linear warm-up, per-member gradient clipping."""

    def __init__(
        self,
        obs_dim: int,
        act_dim: int,
        seeds: list[int],
        max_action: float = 1.0,
        lr: float = 8e-4,
        weight_decay: float = 1e-4,
        warmup: int = 10_000,
        clip: float = 0.25,
        rtg_scale: float = 1e-3,
        target_return: float = 3600.0,
        bf16: bool = False,
        **model_kwargs,
    ):
        super().__init__()
        self.model = DecisionTransformer(obs_dim, act_dim, seeds, max_action, **model_kwargs)
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=lr, weight_decay=weight_decay)
        self.sched = torch.optim.lr_scheduler.LambdaLR(self.opt, lambda s: min((s + 1) / warmup, 1.0))
        self.clip, self.rtg_scale, self.bf16 = clip, rtg_scale, bf16
        self.actor = DTActor(self, target_return)

    def optimizers(self) -> list[torch.optim.Optimizer]:
        return [self.opt]

    def graph_key(self, step: int) -> None:
        """Every step runs the same update: one CUDA graph (see :mod:`stitchkit.algos.graphed`)."""
        return None

    def update(self, b: dict[str, torch.Tensor], step: int) -> dict[str, torch.Tensor]:
        """``b`` holds (S, B, K, ...) windows (see :class:`stitchkit.data.samplers.WindowSampler`)."""
        self.model.train()
        # bf16: matmuls and attention in bfloat16, weights, optimizer and loss in float32. bfloat16 keeps float32's
        # exponent range, so gradients need no loss scaling (float16 would); tests/test_algos.py checks the curve.
        # No cast cache: a CUDA graph replays this update, and PyTorch asks graphed autocast regions to run without.
        with torch.autocast(b["actions"].device.type, dtype=torch.bfloat16, enabled=self.bf16, cache_enabled=False):
            pred = self.model(
                b["returns_to_go"] * self.rtg_scale,
                b["observations"][:, :, :-1],
                b["actions"],
                b["timesteps"].clamp(max=self.model.episode_len - 1).long(),
            )
        mask = b["mask"]
        loss = (((pred.float() - b["actions"]) ** 2).mean(-1) * mask).sum((1, 2)) / mask.sum((1, 2)).clamp(min=1)
        self.opt.zero_grad()
        loss.sum().backward()
        clip_grad_norm_per_member(self.model.parameters(), self.clip)
        self.opt.step()
        self.sched.step()
        return {"action_loss": loss.detach()}


class DTActor(nn.Module):
    """Acts in S x E environments at once, keeping the last K steps of each and the remaining target return."""

    def __init__(self, dt: DT, target_return: float):
        super().__init__()
        self._dt = [dt]  # not a submodule: the weights belong to the trainer
        self.target_return = target_return
        self.hist: dict[str, torch.Tensor] | None = None

    def reset(self) -> None:
        self.hist = None

    def observe(self, rewards: np.ndarray) -> None:
        """Lower the remaining target by the reward just received (the Evaluator calls it after each step)."""
        r = torch.as_tensor(rewards, dtype=torch.float32, device=self.hist["rtg"].device).reshape(
            self.hist["rtg"].shape[:2]
        )
        self.hist["rtg"][..., -1] -= r

    @torch.no_grad()
    def act(self, obs: torch.Tensor) -> torch.Tensor:
        dt = self._dt[0]
        model = dt.model.eval()
        S, E, _ = obs.shape
        A = model.act_dim
        if self.hist is None:
            dev = obs.device
            self.hist = {
                "rtg": torch.full((S, E, 1), float(self.target_return), device=dev),
                "obs": obs[:, :, None],
                "act": torch.zeros(S, E, 1, A, device=dev),
                "t": torch.zeros(S, E, 1, dtype=torch.long, device=dev),
            }
        else:  # a new step: the remaining return carries over, the previous action was already stored
            h = self.hist
            h["rtg"] = torch.cat([h["rtg"], h["rtg"][..., -1:]], -1)
            h["obs"] = torch.cat([h["obs"], obs[:, :, None]], 2)
            h["act"] = torch.cat([h["act"], torch.zeros(S, E, 1, A, device=obs.device)], 2)
            h["t"] = torch.cat([h["t"], h["t"][..., -1:] + 1], -1)
            for k in h:
                h[k] = h[k][:, :, -model.seq_len :]
        h = self.hist
        pred = model(h["rtg"] * dt.rtg_scale, h["obs"], h["act"], h["t"].clamp(max=model.episode_len - 1))
        action = pred[:, :, -1]
        h["act"][:, :, -1] = action
        return action


@dataclass(frozen=True)
class DTSizes:
    """Decision Transformer's own budget: a transformer over trajectory windows, trained on larger batches and
    for fewer steps than the MLP learners (CORL's configs)."""

    steps: int  # gradient steps (CORL: 100k)
    batch_size: int  # windows per batch (CORL: 4096)


SIZES = SizeTable(
    "dt",
    smoke=DTSizes(steps=20, batch_size=16),
    lab=DTSizes(steps=250, batch_size=64),
    full=DTSizes(steps=100_000, batch_size=4096),
)

LEARNER = Learner(
    "dt",
    DT,
    "Decision Transformer: return-conditioned sequence model",
    steps="dt.steps",
    batch="dt.batch_size",
    sizes=(SIZES,),
    sequence=True,
    option_types={**schema(DecisionTransformer, NOT_OPTIONS), **schema(DT, NOT_OPTIONS)},
)
