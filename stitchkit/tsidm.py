"""TELS's T-symmetry enforced inverse dynamics model (TS-IDM): a latent space shaped by dynamics and time reversal.

Seen from outside, TS-IDM is an inverse dynamics model (s, s') -> a. Inside (Cheng et al., ICLR 2026):

* state encoder z_s = phi(s) and decoder s_hat = psi_s(z_s);
* latent inverse dynamics z_a = h_inv(z_s, z_s') and action decoder a_hat = psi_a(z_a);
* latent ODE models: forward h_fwd(z_s, z_a) = dz_s/dt and reverse h_rvs(z_s', z_a) = -dz_s/dt.

Losses, each per member (seed) of a batch, ``beta`` weighting all dynamics terms (the paper's single beta):

* l_rec   = ||psi_s(z_s) - s||^2 + ||psi_a(h_inv(z_s, z_s')) - a||^2                      [paper, exact]
* l_dyn   = ||h_fwd - J_phi(s) s_dot||^2 + ||h_rvs - J_phi(s') (-s_dot)||^2                [reconstructed, TSRL code]
* l_ode   = ||J_psi(z_s) h_fwd - s_dot||^2 + ||J_psi(z_s') h_rvs - (-s_dot)||^2            [reconstructed, TSRL code]
* l_T-sym = ||h_fwd(z_s, z_a) + h_rvs(z_s + h_fwd(z_s, z_a), z_a)||^2                        [paper, exact]

with s_dot = s' - s. The Jacobian-vector products J v are forward-mode derivatives (``torch.func.jvp``) of the
whole batch at once: every sample's output depends on its own input only, so one jvp gives every J_i v_i.

T-symmetry says: step forward with h_fwd, then the reverse model must bring you back. For a time-reversible
system it can (see :func:`t_symmetry_loss` and its test); a dissipative one breaks it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.func import jvp

from stitchkit.nets import mlp
from stitchkit.progress import bar, seconds_per_step


@dataclass(frozen=True)
class TSIDMTerms:
    """Which parts are on: the paper's ablation ladder switches them on one by one."""

    ode_models: bool = True  # h_fwd, h_rvs and l_dyn ("+ h_fwd, h_rvs")
    decoder_ode: bool = True  # l_ode ("+ l_ode")
    t_symmetry: bool = True  # l_T-sym ("+ l_T-sym", the full model)


LADDER: dict[str, TSIDMTerms] = {  # the paper's ablation (Table: stepwise addition of TS-IDM sub-modules)
    "ae+inv": TSIDMTerms(False, False, False),
    "+fwd/rvs": TSIDMTerms(True, False, False),
    "+l_ode": TSIDMTerms(True, True, False),
    "full": TSIDMTerms(True, True, True),
}


def t_symmetry_loss(h_fwd, h_rvs, z: torch.Tensor, za: torch.Tensor) -> torch.Tensor:
    """||h_fwd(z, za) + h_rvs(z + h_fwd(z, za), za)||^2 per sample: go forward, the reverse model must undo it."""
    dz = h_fwd(z, za)
    return ((dz + h_rvs(z + dz, za)) ** 2).sum(-1)


class TSIDM(nn.Module):
    """S members (seeds) at once; inputs (S, B, d). Latent sizes as TSRL: dim z_s = obs_dim, dim z_a = act_dim."""

    def __init__(
        self,
        obs_dim: int,
        act_dim: int,
        seeds: list[int],
        hidden: int = 256,
        beta: float = 1.0,
        terms: TSIDMTerms = TSIDMTerms(),
        layer: int = 40,
    ):
        super().__init__()
        h2 = (hidden, hidden)
        zs, za = obs_dim, act_dim
        self.phi = mlp(seeds, obs_dim, zs, h2, layer)
        self.psi_s = mlp(seeds, zs, obs_dim, h2, layer + 3)
        self.h_inv_net = mlp(seeds, 2 * zs, za, h2, layer + 6)
        self.psi_a = mlp(seeds, za, act_dim, h2, layer + 9, out_act=nn.Tanh())
        self.h_fwd_net = mlp(seeds, zs + za, zs, h2, layer + 12)
        self.h_rvs_net = mlp(seeds, zs + za, zs, h2, layer + 15)
        self.beta, self.terms = beta, terms

    def h_inv(self, z: torch.Tensor, z_next: torch.Tensor) -> torch.Tensor:
        return self.h_inv_net(torch.cat([z, z_next], -1))

    def h_fwd(self, z: torch.Tensor, za: torch.Tensor) -> torch.Tensor:
        return self.h_fwd_net(torch.cat([z, za], -1))

    def h_rvs(self, z_next: torch.Tensor, za: torch.Tensor) -> torch.Tensor:
        return self.h_rvs_net(torch.cat([z_next, za], -1))

    def infer_action(self, z: torch.Tensor, z_next: torch.Tensor) -> torch.Tensor:
        """a* = psi_a(h_inv(z_s, z_s')): TELS's training-free action inference."""
        return self.psi_a(self.h_inv(z, z_next))

    def losses(self, s: torch.Tensor, a: torch.Tensor, s_next: torch.Tensor) -> dict[str, torch.Tensor]:
        """Every term, per member (S,), and their weighted ``total``."""
        # s and s' go through each network as one batch of 2B rows, and a jvp returns the network's output with the
        # directional derivative, so phi runs once for z, z', J_phi(s) s_dot and J_phi(s') (-s_dot) (a third fewer
        # passes than one call each; the same numbers). Forward-mode AD refuses broadcast (expanded) inputs.
        pair = torch.cat([s, s_next], -2).contiguous()
        t, n = self.terms, s.shape[-2]
        s_dot = s_next - s
        if t.ode_models:
            zz, jzz = jvp(self.phi, (pair,), (torch.cat([s_dot, -s_dot], -2),))
            jz, jz_next = jzz[..., :n, :], jzz[..., n:, :]
        else:
            zz = self.phi(pair)
        z, z_next = zz[..., :n, :], zz[..., n:, :]
        za = self.h_inv(z, z_next)
        sq = lambda x: (x**2).sum(-1).mean(-1)
        if t.ode_models:
            fwd, rvs = self.h_fwd(z, za), self.h_rvs(z_next, za)
        if t.ode_models and t.decoder_ode:  # psi_s(z) for l_rec, and J_psi(z) h_fwd, J_psi(z') h_rvs for l_ode
            ss, jss = jvp(self.psi_s, (zz,), (torch.cat([fwd, rvs], -2),))
            s_rec = ss[..., :n, :]
        else:
            s_rec = self.psi_s(z)
        out = {"rec": sq(s_rec - s) + sq(self.psi_a(za) - a)}
        zero = torch.zeros_like(out["rec"])
        out |= {"dyn": zero, "ode": zero, "tsym": zero}
        if t.ode_models:
            out["dyn"] = sq(fwd - jz) + sq(rvs - jz_next)
            if t.decoder_ode:
                out["ode"] = sq(jss[..., :n, :] - s_dot) + sq(jss[..., n:, :] + s_dot)
            if t.t_symmetry:
                out["tsym"] = t_symmetry_loss(self.h_fwd, self.h_rvs, z, za).mean(-1)
        out["total"] = out["rec"] + self.beta * (out["dyn"] + out["ode"] + out["tsym"])
        return out


# The small-data study (TELS's Table 1 protocol at the kit's scale): whole-trajectory subsamples of about
# ``tels.SIZES.of(profile).study_transitions`` transitions, chosen by the registry's fixed subsample seed.
STUDY_PARENTS = (  # notebook 07 at `lab`: hopper, every study learner; the maze, TELS alone (to look at its guide)
    "stitchkit/hopper/medium-expert-v0",
    "stitchkit/pointmaze-medium/stitch-v0",
)
STUDY_ALGOS = ("tels", "por", "td3bc")  # the TELS summary's row; IQL is one `stitchkit train iql` away


def study_id(parent: str, transitions: int) -> str:
    """``stitchkit/hopper/medium-expert-v0``, 10,000 -> ``stitchkit/hopper/medium-expert-10k-v0``."""
    return f"{parent.rsplit('-v', 1)[0]}-{transitions // 1000}k-v0"


def oscillator_models(damping: float, dt: float = 0.1, omega: float = 1.0, reverse: str = "flip"):
    """A pendulum-like toy with known answers: x'' = -omega^2 x - 2 damping x', state z = (x, v), exact one-step map
    Phi = exp(A dt). Returns Phi, the forward model h_fwd(z) = Phi z - z, and a reverse model h_rvs of one of two
    kinds:

    * ``reverse="flip"``: physical time reversal built from the same law - flip the velocity, step forward, flip
      back: h_rvs(z') = T Phi T z' - z'. Without damping T Phi T = Phi^-1 (the system is time-reversible) and
      l_T-sym is exactly 0; with damping it is not, and the loss grows with the damping.
    * ``reverse="inverse"``: the exact inverse step, h_rvs(z') = Phi^-1 z' - z'. l_T-sym is 0 at every damping. This
      is what TS-IDM can reach: its h_rvs is a learned network, not a velocity flip, so the loss asks for forward and
      reverse models that undo each other, which a damped system's do too."""
    if reverse not in ("flip", "inverse"):
        raise ValueError(f"reverse must be 'flip' or 'inverse', got {reverse!r}")
    a = torch.tensor([[0.0, 1.0], [-(float(omega) ** 2), -2 * float(damping)]])
    phi = torch.linalg.matrix_exp(a * dt)
    flip = torch.diag(torch.tensor([1.0, -1.0]))
    back = flip @ phi @ flip if reverse == "flip" else torch.linalg.inv(phi)
    return phi, (lambda z, za: z @ phi.T - z), (lambda z2, za: z2 @ back.T - z2)


def fit_tsidm(
    s: np.ndarray,
    a: np.ndarray,
    s_next: np.ndarray,
    terms: TSIDMTerms,
    steps: int,
    hidden: int = 128,
    batch: int = 256,
    lr: float = 3e-4,
    beta: float = 1.0,
    seed: int = 0,
    held_out: float = 0.1,
    evaluations: int = 20,
) -> tuple[TSIDM, list[dict]]:
    """One TS-IDM (one seed) on normalized transitions, alone, with a curve (``evaluations`` points) of every loss
    term on held-out pairs and the action-inference error there: for studying what each term does (notebook 07)."""
    rng = np.random.default_rng([seed, 61])
    perm = rng.permutation(len(s))
    n_held = max(1, int(held_out * len(s)))
    held, train = perm[:n_held], perm[n_held:]
    t = lambda x, i: torch.as_tensor(x[i], dtype=torch.float32)[None]
    model = TSIDM(s.shape[1], a.shape[1], [seed], hidden, beta, terms)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    curve, every = [], max(1, steps // evaluations)
    shown = bar(steps, f"TS-IDM ({terms_name(terms)})")
    for step in range(1, steps + 1):
        shown.update(1)
        idx = train[rng.integers(0, len(train), batch)]
        loss = model.losses(t(s, idx), t(a, idx), t(s_next, idx))["total"].sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % every == 0 or step == steps:
            hb = held[:4096]
            out = model.losses(t(s, hb), t(a, hb), t(s_next, hb))
            with torch.no_grad():
                a_hat = model.infer_action(model.phi(t(s, hb)), model.phi(t(s_next, hb)))
            curve.append(
                {
                    "step": step,
                    **{k: float(v.detach()) for k, v in out.items()},
                    "action_mse": float(((a_hat - t(a, hb)) ** 2).mean()),
                }
            )
    shown.close()
    return model.eval(), curve


def terms_name(terms: TSIDMTerms) -> str:
    """The ladder's name of a set of loss terms ("full", "+l_ode", ...), or "custom"."""
    return next((name for name, t in LADDER.items() if t == terms), "custom")


def estimate_fit_seconds(
    s: np.ndarray, a: np.ndarray, s_next: np.ndarray, steps: int, hidden: int, probe: int = 20
) -> float:
    """Seconds :func:`fit_tsidm` with every term will take here for ``steps``: ``probe`` training steps timed on this
    machine, scaled up (its few held-out measurements left out); said before a notebook fits several."""
    fit = lambda n: fit_tsidm(s, a, s_next, LADDER["full"], n, hidden, evaluations=1)
    return seconds_per_step(fit, probe) * steps
