"""TELS: T-symmetry on known systems, the batched Jacobian-vector products, TS-IDM's action inference, the
ablation switches, and TELS/POR through the training front end."""

import numpy as np
import pytest
import torch

from stitchkit.train import make_algo
from stitchkit.tsidm import LADDER, TSIDM, oscillator_models, t_symmetry_loss

torch.set_num_threads(1)


def test_t_symmetry_is_zero_for_a_reversible_system_and_positive_for_a_dissipative_one():
    z = torch.randn(256, 2, generator=torch.Generator().manual_seed(0))
    za = torch.zeros(256, 0)
    reversible = t_symmetry_loss(*oscillator_models(0.0)[1:], z, za)
    damped = t_symmetry_loss(*oscillator_models(0.5)[1:], z, za)
    assert reversible.max() < 1e-10
    assert damped.mean() > 1e-4 and (damped > 0).all()
    assert (
        t_symmetry_loss(*oscillator_models(0.1)[1:], z, za).mean() < damped.mean()
    )  # more dissipation, larger violation
    # a reverse model that is the forward step's exact inverse (what TS-IDM's learned h_rvs can be) gives zero loss
    # at any damping: the loss compares two models, not the physics of time reversal
    for damping in (0.0, 0.5, 1.0):
        assert t_symmetry_loss(*oscillator_models(damping, reverse="inverse")[1:], z, za).max() < 1e-10


def test_batched_jvp_equals_per_sample_jacobians():
    m = TSIDM(3, 2, seeds=[0, 1], hidden=16)
    s, v = torch.randn(2, 5, 3), torch.randn(2, 5, 3)
    jv = torch.func.jvp(m.phi, (s,), (v,))[1]
    for k in range(2):
        for i in range(5):
            jac = torch.autograd.functional.jacobian(lambda y, k=k, i=i: m.phi(y)[k, i], s)  # (out, S, B, d)
            assert torch.allclose(jac[:, k, i] @ v[k, i], jv[k, i], atol=1e-5)


def point_mass(n: int = 4000, seed: int = 0):
    """(p, v) in 2-D: v' = 0.9 v + 0.1 a, p' = p + 0.1 v'; actions uniform in [-1, 1]^2."""
    rng = np.random.default_rng(seed)
    s = rng.uniform(-1, 1, (n, 4)).astype(np.float32)
    a = rng.uniform(-1, 1, (n, 2)).astype(np.float32)
    v2 = 0.9 * s[:, 2:] + 0.1 * a
    s2 = np.concatenate([s[:, :2] + 0.1 * v2, v2], 1)
    return torch.as_tensor(s), torch.as_tensor(a), torch.as_tensor(s2)


def test_action_inference_recovers_dataset_actions():
    """Stated error: mean squared action error below 0.02 on training pairs (predicting 0 would score 0.33)."""
    s, a, s2 = point_mass()
    m = TSIDM(4, 2, seeds=[0], hidden=64)
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(0)
    for _ in range(1500):
        idx = torch.randint(0, len(s), (256,), generator=g)
        loss = m.losses(s[idx][None], a[idx][None], s2[idx][None])["total"].sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        a_hat = m.infer_action(m.phi(s[None]), m.phi(s2[None]))[0]
        terms = m.losses(s[None], a[None], s2[None])
    err = float(((a_hat - a) ** 2).mean())
    assert err < 0.02, err
    assert float(terms["tsym"]) < 0.01 and float(terms["dyn"]) < 0.05


def test_the_ablation_ladder_switches_terms_off():
    s, a, s2 = (x[None, :64] for x in point_mass(64))
    for name, terms in LADDER.items():
        with torch.no_grad():
            out = TSIDM(4, 2, [0], hidden=16, terms=terms).losses(s, a, s2)
        assert (float(out["dyn"]) > 0) == terms.ode_models
        assert (float(out["ode"]) > 0) == terms.decoder_ode
        assert (float(out["tsym"]) > 0) == terms.t_symmetry, name


def test_tels_stages_and_options():
    tels = make_algo("tels", 4, 2, [0, 1], steps=20, idm_steps=5)
    s, a, s2 = point_mass(32)
    b = {
        "observations": s[None].expand(2, -1, -1),
        "actions": a[None].expand(2, -1, -1),
        "next_observations": s2[None].expand(2, -1, -1),
        "rewards": torch.zeros(2, 32),
        "terminals": torch.zeros(2, 32),
    }
    assert set(tels.update(b, 1)) >= {"idm_total", "idm_tsym"}
    before = [p.clone() for p in tels.idm.parameters()]
    assert set(tels.update(b, 6)) == {"v_loss", "guide_loss"}
    assert all(torch.equal(p, q) for p, q in zip(before, tels.idm.parameters()))  # frozen in stage 2
    assert tels.actor.act(s[None].expand(2, -1, -1)).shape == (2, 32, 2)
    awr = make_algo("tels", 4, 2, [0], steps=20, dataset_id="stitchkit/pointmaze-medium/stitch-v0")
    assert awr.guide_kind == "awr" and awr.expectile == 0.9
    with pytest.raises(ValueError, match="unknown tels option"):
        make_algo("tels", 4, 2, [0], steps=20, temperature=1.0)
    with pytest.raises(ValueError, match="not a valid one of deterministic, awr"):
        make_algo("tels", 4, 2, [0], steps=20, guide="greedy")


@pytest.mark.parametrize("algo", ["tels", "por"])
def test_tels_and_por_train_through_the_front_end(data_root, algo):
    from stitchkit.train import run as train_run

    out = train_run(algo, "stitchkit/pointmaze-medium/stitch-v0", seeds=[0, 1], profile="smoke", progress=False)
    assert np.isfinite(out["score"]["last_mean"]) and len(out["seeds"]) == 2


def test_tsidm_features_feed_an_evaluator():
    algo = make_algo("tsidm-td3bc", 4, 2, [0, 1], steps=20, idm_steps=3, idm_hidden=16)
    s, a, s2 = point_mass(32)
    b = {
        "observations": s[None].repeat(2, 1, 1),
        "actions": a[None].repeat(2, 1, 1),
        "next_observations": s2[None].repeat(2, 1, 1),
        "rewards": torch.zeros(2, 32),
        "terminals": torch.zeros(2, 32),
    }
    assert "idm_total" in algo.update(b, 0)
    assert "critic_loss" in algo.update(b, 3)  # then TD3+BC on z = phi(s)
    assert algo.actor.act(b["observations"]).shape == (2, 32, 2)
    with pytest.raises(ValueError, match="unknown tsidm-td3bc option 'inner'"):
        make_algo("tsidm-td3bc", 4, 2, [0], steps=20, inner="cql")


def test_train_cli_takes_options_and_names_bad_ones(tmp_path):
    import subprocess

    from conftest import stitchkit_cmd, subprocess_env

    env = subprocess_env(
        STITCHKIT_DATA=str(tmp_path), MINARI_DATASETS_PATH=str(tmp_path / "minari"), OMP_NUM_THREADS="1"
    )
    base = stitchkit_cmd() + [
        "train",
        "tels",
        "--dataset",
        "stitchkit/pointmaze-medium/stitch-v0",
        "--profile",
        "smoke",
    ]
    bad = subprocess.run(base + ["--option", "temperature=2"], capture_output=True, text=True, env=env, timeout=600)
    assert bad.returncode == 2 and "unknown tels option" in bad.stderr and "guide" in bad.stderr
    ok = subprocess.run(
        base + ["--option", "terms=+l_ode", "--json"], capture_output=True, text=True, env=env, timeout=600
    )
    assert ok.returncode == 0, ok.stderr
    assert '"algo": "tels"' in ok.stdout.strip().splitlines()[-1]


def test_fit_estimate_is_measured_and_the_ladder_names_its_terms(monkeypatch):
    """The estimate runs the real fit loop once and scales its measured step time by the steps (the clock is fixed
    here: comparing two timings would test the machine's noise, not the code)."""
    from stitchkit import tsidm

    calls = []

    def fixed(run, probe):
        run(2)  # the loop really runs
        calls.append(probe)
        return 0.01

    monkeypatch.setattr(tsidm, "seconds_per_step", fixed)
    rng = np.random.default_rng(0)
    s, a = rng.normal(size=(300, 4)).astype(np.float32), rng.normal(size=(300, 2)).astype(np.float32)
    assert tsidm.estimate_fit_seconds(s, a, s + 0.1, 100, 16, probe=5) == pytest.approx(1.0)
    assert tsidm.estimate_fit_seconds(s, a, s + 0.1, 1000, 16, probe=5) == pytest.approx(10.0)
    assert calls == [5, 5]
    assert [tsidm.terms_name(t) for t in tsidm.LADDER.values()] == list(tsidm.LADDER)
    assert tsidm.terms_name(tsidm.TSIDMTerms(False, True, False)) == "custom"


def test_batched_losses_equal_the_terms_computed_one_call_at_a_time():
    """losses() runs s and s' through each network as one batch and takes outputs from the jvps: the same numbers
    as the paper's terms written out call by call."""
    from torch.func import jvp

    torch.manual_seed(0)
    m = TSIDM(4, 2, [0, 1], hidden=16)
    s, a, s2 = torch.randn(2, 32, 4), torch.rand(2, 32, 2) * 2 - 1, torch.randn(2, 32, 4)
    z, z2 = m.phi(s), m.phi(s2)
    za = m.h_inv(z, z2)
    sq = lambda x: (x**2).sum(-1).mean(-1)
    fwd, rvs, sd = m.h_fwd(z, za), m.h_rvs(z2, za), s2 - s
    ref = {
        "rec": sq(m.psi_s(z) - s) + sq(m.psi_a(za) - a),
        "dyn": sq(fwd - jvp(m.phi, (s,), (sd,))[1]) + sq(rvs - jvp(m.phi, (s2,), (-sd,))[1]),
        "ode": sq(jvp(m.psi_s, (z,), (fwd,))[1] - sd) + sq(jvp(m.psi_s, (z2,), (rvs,))[1] + sd),
        "tsym": t_symmetry_loss(m.h_fwd, m.h_rvs, z, za).mean(-1),
    }
    out = m.losses(s, a, s2)
    for k, v in ref.items():
        assert torch.allclose(out[k], v, atol=1e-5), k
