"""SER and TATU, DiffStitch's Table 1 baselines: the EDM sampler on a distribution with a known denoiser, SER's
codec round trip and a fit to a known distribution, TATU's truncation and penalty on a planted model, and both
through the augment interface (provenance, budget, Decision Transformer's refusal)."""

import numpy as np
import pytest
import torch

from stitchkit.augment import run as augment_run
from stitchkit.augment import ser, tatu
from stitchkit.augment.models import DynamicsEnsemble, RewardModel
from stitchkit.data import registry
from stitchkit.data.normalizers import ZScore

torch.set_num_threads(1)


class GaussianEDM(ser.EDM):
    """Data ~ N(m, s^2) per dimension: the ideal denoiser is known, D(x; sigma) = (s^2 x + sigma^2 m) / (s^2 +
    sigma^2), so the sampler alone is under test."""

    def __init__(self, m: torch.Tensor, s: torch.Tensor):
        super().__init__(len(m), 8, 1)
        self.m, self.s = m, s

    def denoise(self, x, sigma):
        v = sigma[:, None] ** 2
        return (self.s**2 * x + v * self.m) / (self.s**2 + v)


@pytest.mark.parametrize("churn,steps", [(0.0, 32), (80.0, 128)])  # churn needs SynthER's 128 steps (32: +6% std)
def test_edm_sampler_reproduces_a_gaussian_from_its_exact_denoiser(churn, steps):
    m, s = torch.tensor([3.0, -1.0, 0.0]), torch.tensor([0.5, 2.0, 0.05])
    x = GaussianEDM(m, s).sample(
        20_000, ser.SERConfig(s_churn=churn), steps=steps, generator=torch.Generator().manual_seed(0)
    )
    assert torch.allclose(x.mean(0), m, atol=0.05)
    assert torch.allclose(x.std(0), s, rtol=0.05)


def test_transition_codec_round_trip_and_done_threshold():
    rng = np.random.default_rng(0)
    n = 50
    tr = {
        "observations": rng.normal(5, 3, (n, 4)).astype(np.float32),
        "actions": rng.uniform(-1, 1, (n, 2)),
        "rewards": rng.normal(0, 1, n).astype(np.float32),
        "next_observations": rng.normal(size=(n, 4)),
        "terminals": (rng.random(n) < 0.3).astype(np.float32),
    }
    codec = ser.TransitionCodec.fit(tr)
    x = codec.encode(tr)
    assert x.shape == (n, codec.dim) == (n, 4 + 2 + 1 + 4 + 1)
    assert np.allclose(x[:, :-1].mean(0), 0, atol=1e-5) and set(np.unique(x[:, -1])) <= {0.0, 1.0}
    back = codec.decode(x)
    for k in ("observations", "actions", "rewards", "next_observations"):
        assert np.allclose(back[k], tr[k], atol=1e-4), k
    assert (back["terminals"] == (tr["terminals"] > 0.5)).all()
    x[:, -1] = [0.49, 0.51] * (n // 2)
    assert codec.decode(x)["terminals"].tolist() == [False, True] * (n // 2)


def test_edm_training_learns_a_correlated_distribution():
    """A trained denoiser and the sampler together recover a correlated 2-D distribution's mean and covariance."""
    rng = np.random.default_rng(0)
    cov = np.array([[1.0, 0.8], [0.8, 1.0]])
    data = torch.as_tensor(rng.multivariate_normal([0.0, 0.0], cov, 4000), dtype=torch.float32)
    torch.manual_seed(0)
    edm = ser.EDM(2, 64, 2, seed=0)
    opt = torch.optim.Adam(edm.parameters(), lr=2e-3)
    gen = torch.Generator().manual_seed(0)
    for _ in range(1500):
        loss = edm.loss(data[torch.randint(0, len(data), (256,), generator=gen)], gen)
        opt.zero_grad()
        loss.backward()
        opt.step()
    x = edm.sample(4000, ser.SERConfig(s_churn=0.0), steps=32, generator=torch.Generator().manual_seed(1)).numpy()
    assert np.abs(x.mean(0)).max() < 0.15
    assert np.abs(np.cov(x.T) - cov).max() < 0.2, np.cov(x.T)


def planted_tatu(offsets: np.ndarray, reward: float, max_disc: float, obs_dim: int = 11) -> tatu.TATUModels:
    """Members predict s' = s + offset_k exactly (zero weights, tiny variance); the reward model returns a
    constant; the CVAE's output does not matter. z-scoring is the identity."""
    m = len(offsets)
    dyn = DynamicsEnsemble(obs_dim, 3, m, m, hidden=8)
    with torch.no_grad():
        for layer in dyn.layers:
            layer.weight.zero_()
            layer.bias.zero_()
        dyn.layers[-1].bias[:, 0, :obs_dim] = torch.as_tensor(offsets, dtype=torch.float32)
        dyn.layers[-1].bias[:, 0, obs_dim:] = -20.0
        dyn.min_logvar.fill_(-40.0)  # next-state noise std ~ e^-10
    rew = RewardModel(obs_dim, 3, hidden=4)
    with torch.no_grad():
        for p in rew.parameters():
            p.zero_()
        rew.net[-1].bias.fill_(reward)
    norm = ZScore(np.zeros(obs_dim), np.ones(obs_dim), eps=0.0)
    return tatu.TATUModels(dyn, rew, tatu.BehaviourVAE(obs_dim, 3, 8), norm, max_disc, np.zeros(0))


def test_tatu_truncates_at_the_accumulated_uncertainty_and_penalises_rewards():
    obs_dim = 11
    offsets = np.zeros((2, obs_dim))
    offsets[0, 5], offsets[1, 5] = 0.1, -0.1  # both members 0.1 from their mean: u = 0.1 at every step
    models = planted_tatu(offsets, reward=1.0, max_disc=0.875)  # threshold 0.875 / 3.5 = 0.25: 2 steps kept
    start = np.zeros((4, obs_dim), np.float32)
    start[:, 0] = 1.25  # a healthy hopper
    cfg = tatu.TATUConfig(horizon=5, penalty=1.5, pessimism=3.5)
    r = tatu.rollout(models, "hopper", start, cfg, torch.Generator().manual_seed(0))
    assert np.allclose(r.uncertainty, 0.1, atol=1e-5)
    assert r.kept.sum(1).tolist() == [2, 2, 2, 2]
    assert np.allclose(r.rewards, 1.0 - 1.5 * 0.1, atol=1e-5)
    eps = tatu.to_episodes(r)
    assert [len(e) for e in eps] == [2] * 4 and all(e.truncations[-1] and not e.terminations.any() for e in eps)
    # a looser pessimism keeps the whole horizon
    r = tatu.rollout(models, "hopper", start, tatu.TATUConfig(pessimism=1.0), torch.Generator().manual_seed(0))
    assert r.kept.all()


def test_tatu_keeps_the_terminal_step_and_stops_there():
    obs_dim = 11
    offsets = np.zeros((2, obs_dim))
    offsets[:, 0] = -0.2  # both members agree: the hopper sinks 0.2 m a step, u = 0
    models = planted_tatu(offsets, reward=0.5, max_disc=1.0)
    start = np.zeros((1, obs_dim), np.float32)
    start[0, 0] = 1.25  # 1.05, 0.85, 0.65 (< 0.7: terminal at the third step)
    r = tatu.rollout(models, "hopper", start, tatu.TATUConfig(), torch.Generator().manual_seed(0))
    assert r.kept[0].tolist() == [True, True, True, False, False]
    (ep,) = tatu.to_episodes(r)
    assert len(ep) == 3 and ep.terminations.tolist() == [False, False, True] and not ep.truncations.any()
    assert np.allclose(ep.observations[:, 0], [1.25, 1.05, 0.85, 0.65], atol=1e-3)


def test_tatu_and_ser_through_the_augment_interface(data_root):
    parent = "stitchkit/hopper/medium-replay-v0"
    quiet = dict(log=lambda *_: None)
    s = augment_run("tatu", parent, profile="smoke", pessimism=1.0, transitions=150, **quiet)
    assert s["accepted_transitions"] == 150 and s["ratio"] == pytest.approx(0.7 / 0.3)
    out = registry.load_episodes(registry.augmented_id(parent, "tatu"), "smoke")
    data = registry.load_episodes(parent, "smoke")
    assert sum(len(e) for e in out) == 150 and all(1 <= len(e) <= 5 for e in out)
    for e in out:  # every rollout starts from the dataset state its provenance names
        p = e.provenance
        assert p.kind == "rollout" and p.method == "tatu"
        assert np.allclose(e.observations[0], data[p.source_episode].observations[p.source_step], atol=1e-4)
    s = augment_run("ser", parent, profile="smoke", samples=64, **quiet)
    syn = registry.load_episodes(registry.augmented_id(parent, "ser"), "smoke")
    assert s["samples"] == 64 and len(syn) == 64 and all(len(e) == 1 and e.provenance.kind == "synthetic" for e in syn)
    assert all(np.abs(e.actions).max() <= 1 for e in syn)
    from stitchkit.train import run as train_run

    for method, what in (("ser", "single synthetic transitions"), ("tatu", "short model rollouts")):
        with pytest.raises(ValueError, match=what):
            train_run(
                "dt",
                parent,
                seeds=1,
                profile="smoke",
                augmented_id=registry.augmented_id(parent, method),
                progress=False,
            )


def test_saving_the_same_generated_data_again_keeps_the_dataset(data_root):
    """Re-saving identical data must not rewrite it: its metadata fingerprints every cached training run."""
    from stitchkit import augment

    parent = "stitchkit/hopper/medium-replay-v0"
    out = registry.augmented_id(parent, "tatu")
    augment_run("tatu", parent, out, "smoke", pessimism=1.0, transitions=60, log=lambda *_: None)
    meta = registry.dataset_dir(out) / "data" / "metadata.json"
    before = meta.read_bytes()
    summary = registry.read_metadata(out)["stitchkit"]["augment"]
    eps = registry.load_episodes(out, "smoke")
    augment.save(out, eps, {**summary, "seconds": 123.0}, "smoke")  # same data, other timings
    assert meta.read_bytes() == before
    eps[0].rewards[0] += 1.0  # different data is written
    augment.save(out, eps, summary, "smoke")
    assert registry.load_episodes(out, "smoke")[0].rewards[0] == pytest.approx(eps[0].rewards[0])


def test_tatu_takes_its_maze_pessimism_from_its_own_defaults_table():
    """Per-dataset defaults live with the method: the CLI, the grids and notebook 08 get 0.5 on the maze without
    passing it, hopper keeps TATU's published 3.5, and an explicit option still wins."""
    from stitchkit import augment
    from stitchkit.bench import load_grid

    maze, hopper = "stitchkit/pointmaze-medium/stitch-v0", "stitchkit/hopper/medium-replay-v0"
    assert augment.resolved_config("tatu", maze).pessimism == 0.5
    assert augment.resolved_config("tatu", "stitchkit/pointmaze-medium/stitch-10k-v0").pessimism == 0.5
    assert augment.resolved_config("tatu", hopper).pessimism == 3.5
    assert augment.resolved_config("tatu", maze, {"pessimism": "2"}).pessimism == 2.0
    for name in ("smoke", "lab", "full"):  # no grid restates a method's per-dataset default by hand
        grid = load_grid(name)
        for method in grid.augmenters:
            if method != "none":
                for d in grid.datasets:
                    defaults = augment.resolved_config(method, d)
                    given = grid.options_for(method, d)
                    assert not any(getattr(defaults, k) == v for k, v in given.items()), (name, d)


def test_ser_and_tatu_training_estimates_are_measured_and_zero_when_cached(tmp_path):
    from test_diffstitch import point_episodes

    from stitchkit.augment import ser
    from stitchkit.profiles import get_profile

    smoke, eps = get_profile("smoke"), point_episodes()
    for module in (ser, tatu):
        folder = tmp_path / module.__name__
        assert module.estimate_train_seconds(eps, smoke, folder, probe=3) > 0
        module.train_models(eps, smoke, checkpoint_dir=folder, log=lambda *_: None)
        assert module.estimate_train_seconds(eps, smoke, folder) == 0.0
