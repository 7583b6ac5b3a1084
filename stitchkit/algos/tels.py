"""TELS (Cheng et al., ICLR 2026): POR's state stitching, moved into the latent space of a T-symmetry enforced
inverse dynamics model.

Two stages in one training run (the same front end as every learner, ``stitchkit train tels``):

1. the first ``idm_steps`` steps: train the TS-IDM (:mod:`stitchkit.tsidm`) on (s, a, s');
2. then freeze it and learn, on latent states z = phi(s):
   * V(z), an expectile of r + gamma V_target(z') (IQL/POR style, no Q function);
   * a guide policy that proposes the next latent state, either **deterministic** (paper Eq. 9):
     max lambda V(pi_g(z)) - eta ||psi_s(pi_g(z)) - s'||^2 - l_T-sym(z, h_inv(z, pi_g(z))), lambda = alpha / mean|V|,
     plus the kit's ``latent_match`` ||pi_g(z) - z'||^2: without it the guide runs to where V extrapolates upward,
     latent steps 40-200x the data's, which the decoder-space term alone does not stop (the decoder is many-to-one
     far from the data; measured in notebook 07's lab run), and the inferred actions are noise;
     or **stochastic, advantage-weighted** (Eq. 10 as read by the reviewers; POR-r in latent space):
     max exp(alpha (r + gamma V(z') - V(z))) log pi_g(z' | z).

Acting needs no further training: a* = psi_a(h_inv(z, pi_g(z))). The paper's beta, eta, alpha and expectile are
not public; the kit's defaults (beta 1, eta 1, TD3+BC's alpha 2.5 for the deterministic guide, POR's per-domain
expectile/alpha for the rest) are choices, listed in notebook 07.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from functools import partial
from typing import Literal

import torch
from torch import nn

from stitchkit.algos.iql import EXP_ADV_MAX, IQL, expectile_loss
from stitchkit.algos.learner import NOT_OPTIONS, Learner, train_widths
from stitchkit.algos.por import GaussianHead
from stitchkit.algos.td3bc import TD3BC
from stitchkit.nets import adam, mlp, soft_update
from stitchkit.options import schema
from stitchkit.profiles import Profile, SizeTable
from stitchkit.tsidm import LADDER, TSIDM, t_symmetry_loss


@dataclass(frozen=True)
class TelsSizes:
    """TELS and the small-data study (notebook 07, ``stitchkit train tels``). Paper values are not public."""

    idm_steps: int  # TS-IDM gradient steps before the latent policy's (which get the ``train`` section's steps)
    idm_hidden: int  # width of TS-IDM's 2-hidden-layer MLPs
    study_transitions: int  # transitions per small-data dataset (the paper: 10k)


# TELS's sizes per profile (its latent policy trains for the profile's ``train`` steps)
SIZES = SizeTable(
    "tels",
    smoke=TelsSizes(idm_steps=100, idm_hidden=32, study_transitions=1000),
    lab=TelsSizes(idm_steps=4000, idm_hidden=128, study_transitions=10_000),
    full=TelsSizes(idm_steps=200_000, idm_hidden=256, study_transitions=10_000),
)


class _Actor(nn.Module):
    def __init__(self, tels: TELS):
        super().__init__()
        self.__dict__["tels"] = tels  # a reference, not a submodule

    def act(self, obs: torch.Tensor) -> torch.Tensor:
        t = self.tels
        z = t.idm.phi(obs)
        return t.idm.infer_action(z, t.propose(z))


class TELS(nn.Module):
    def __init__(
        self,
        obs_dim: int,
        act_dim: int,
        seeds: list[int],
        guide: Literal["deterministic", "awr"] = "deterministic",
        idm_steps: int | None = None,
        max_steps: int = 1_000_000,
        terms: str = "full",
        beta: float = 1.0,
        expectile: float = 0.7,
        alpha: float | None = None,
        eta: float = 1.0,
        latent_match: float = 1.0,
        discount: float = 0.99,
        tau: float = 0.005,
        lr: float = 3e-4,
        idm_hidden: int = 256,
        hidden: tuple[int, ...] = (256, 256),
    ):
        super().__init__()
        if guide not in ("deterministic", "awr"):
            raise ValueError(f"unknown TELS guide {guide!r}; accepted: 'deterministic', 'awr'")
        if terms not in LADDER:
            raise ValueError(f"unknown TS-IDM terms {terms!r}; accepted: {', '.join(LADDER)}")
        self.idm = TSIDM(obs_dim, act_dim, seeds, idm_hidden, beta, LADDER[terms])
        self.v = mlp(seeds, obs_dim, 1, hidden=hidden, first_layer=60)
        self.v_target = copy.deepcopy(self.v)
        for p in self.v_target.parameters():
            p.requires_grad_(False)
        if guide == "deterministic":  # a residual step in latent space: z' = z + g(z)
            self.guide = mlp(seeds, obs_dim, obs_dim, hidden=hidden, first_layer=65)
        else:
            self.guide = GaussianHead(seeds, obs_dim, obs_dim, layer=65, hidden=hidden)
        self.idm_opt = adam(self.idm.parameters(), lr=lr)
        self.v_opt = adam(self.v.parameters(), lr=lr)
        self.g_opt = adam(self.guide.parameters(), lr=lr)
        self.guide_kind, self.idm_steps = guide, idm_steps if idm_steps is not None else max_steps // 2
        self.expectile, self.eta, self.discount, self.tau = expectile, eta, discount, tau
        self.latent_match = latent_match
        self.alpha = alpha if alpha is not None else (2.5 if guide == "deterministic" else 3.0)
        self.actor = _Actor(self)

    def optimizers(self) -> list[torch.optim.Optimizer]:
        return [self.idm_opt, self.v_opt, self.g_opt]

    def propose(self, z: torch.Tensor) -> torch.Tensor:
        """The guide policy's next latent state (its mean, for the stochastic one)."""
        return z + self.guide(z)

    def update(self, b: dict[str, torch.Tensor], step: int) -> dict[str, torch.Tensor]:
        s, a, s2 = b["observations"], b["actions"], b["next_observations"]
        if step < self.idm_steps:  # stage 1: the TS-IDM (steps count from 0)
            losses = self.idm.losses(s, a, s2)
            self.idm_opt.zero_grad()
            losses["total"].sum().backward()
            self.idm_opt.step()
            return {f"idm_{k}": v.detach() for k, v in losses.items()}
        self.idm.requires_grad_(False)  # stage 2: frozen latent space
        with torch.no_grad():
            z, z2 = self.idm.phi(s), self.idm.phi(s2)
            y = b["rewards"] + (1.0 - b["terminals"]) * self.discount * self.v_target(z2).squeeze(-1)
        v_loss = expectile_loss(y - self.v(z).squeeze(-1), self.expectile).mean(1)
        self.v_opt.zero_grad()
        v_loss.sum().backward()
        self.v_opt.step()
        soft_update(self.v_target, self.v, self.tau)
        if self.guide_kind == "deterministic":
            z_hat = self.propose(z)
            v_hat = self.v(z_hat).squeeze(-1)
            lmbda = self.alpha / v_hat.abs().mean(1).detach().clamp(min=1e-6)
            match = ((self.idm.psi_s(z_hat) - s2) ** 2).sum(-1).mean(1)
            stay = ((z_hat - z2) ** 2).sum(-1).mean(1)  # the kit's addition: see latent_match
            tsym = t_symmetry_loss(self.idm.h_fwd, self.idm.h_rvs, z, self.idm.h_inv(z, z_hat)).mean(1)
            g_loss = -lmbda * v_hat.mean(1) + self.eta * match + self.latent_match * stay + tsym
        else:
            with torch.no_grad():
                w = torch.exp(self.alpha * (y - self.v(z).squeeze(-1))).clamp(max=EXP_ADV_MAX)
            g_loss = -(w * self.guide.log_prob(z, z2 - z)).mean(1)
        self.g_opt.zero_grad()
        g_loss.sum().backward()
        self.g_opt.step()
        return {"v_loss": v_loss.detach(), "guide_loss": g_loss.detach()}


class _FeatureActor(nn.Module):
    def __init__(self, owner: TSIDMFeatures):
        super().__init__()
        self.__dict__["owner"] = owner

    def act(self, obs: torch.Tensor) -> torch.Tensor:
        o = self.owner
        return o.inner.actor.act(o.idm.phi(obs))


class TSIDMFeatures(nn.Module):
    """Any learner (TD3+BC, IQL) learning on TS-IDM latent states z = phi(s) instead of s: the paper's
    "plugging TS-IDM representations into IQL or TD3+BC". The TS-IDM trains first (``idm_steps``), then freezes."""

    def __init__(
        self,
        obs_dim: int,
        act_dim: int,
        seeds: list[int],
        inner: str = "td3bc",
        idm_steps: int = 0,
        idm_hidden: int = 256,
        beta: float = 1.0,
        max_steps: int = 1_000_000,
        **inner_kwargs,
    ):
        super().__init__()
        inners = {"td3bc": TD3BC, "iql": IQL}
        if inner not in inners:
            raise ValueError(f"unknown inner learner {inner!r}; accepted: {', '.join(inners)}")
        if inner == "iql":
            inner_kwargs.setdefault("max_steps", max_steps)
        self.idm = TSIDM(obs_dim, act_dim, seeds, idm_hidden, beta)
        self.inner = inners[inner](obs_dim, act_dim, seeds, **inner_kwargs)
        self.idm_opt = adam(self.idm.parameters(), lr=3e-4)
        self.idm_steps = idm_steps
        self.actor = _FeatureActor(self)

    def optimizers(self) -> list[torch.optim.Optimizer]:
        return [self.idm_opt, *self.inner.optimizers()]

    def update(self, b: dict[str, torch.Tensor], step: int) -> dict[str, torch.Tensor]:
        if step < self.idm_steps:
            losses = self.idm.losses(b["observations"], b["actions"], b["next_observations"])
            self.idm_opt.zero_grad()
            losses["total"].sum().backward()
            self.idm_opt.step()
            return {f"idm_{k}": v.detach() for k, v in losses.items()}
        with torch.no_grad():
            latent = {
                **b,
                "observations": self.idm.phi(b["observations"]),
                "next_observations": self.idm.phi(b["next_observations"]),
            }
        return self.inner.update(latent, step - self.idm_steps)


def _tsidm_sizes(profile: Profile) -> dict:
    """The TS-IDM's steps and width are sized by the profile (they run before the learner's own steps), the policy
    and value networks' widths as every learner's (``profile.train.hidden``)."""
    sz = SIZES.of(profile)
    return {"idm_steps": sz.idm_steps, "idm_hidden": sz.idm_hidden, **train_widths(profile)}


# POR's released maze settings; TELS's maze results use its advantage-weighted guide (reviewers)
LEARNER = Learner(
    "tels",
    TELS,
    "TELS: TS-IDM representation + latent state-stitching guide policy",
    profile_options=_tsidm_sizes,
    sizes=(SIZES,),
    defaults={"maze": {"guide": "awr", "expectile": 0.9, "alpha": 10.0}},
)
TSIDM_TD3BC = Learner(
    "tsidm-td3bc",
    partial(TSIDMFeatures, inner="td3bc"),
    "TD3+BC on TS-IDM latent states",
    profile_options=_tsidm_sizes,
    sizes=(SIZES,),
    option_types={**schema(TD3BC, NOT_OPTIONS), **schema(TSIDMFeatures, NOT_OPTIONS)},
)
TSIDM_IQL = Learner(
    "tsidm-iql",
    partial(TSIDMFeatures, inner="iql"),
    "IQL on TS-IDM latent states",
    profile_options=_tsidm_sizes,
    sizes=(SIZES,),
    option_types={**schema(IQL, NOT_OPTIONS), **schema(TSIDMFeatures, NOT_OPTIONS)},
)
