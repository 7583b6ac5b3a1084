"""ASTRO-style stitching: the temporal distance beats Euclidean distance where Euclidean misleads, the pair rule
on a planted answer, Rollout Deviation Feedback lowers the deviation, and the augmenter's output round trip."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from stitchkit.augment import astro
from stitchkit.augment import run as augment_run
from stitchkit.augment.models import DynamicsEnsemble, InverseDynamics, TransitionData, fit
from stitchkit.augment.temporal import auc, distance_quality, spearman, train_distance
from stitchkit.data import registry
from stitchkit.data.episodes import Episode
from stitchkit.options import OptionError
from stitchkit.profiles import get_profile

torch.set_num_threads(1)


def hairpin_episodes(n: int = 60, seed: int = 0) -> list[Episode]:
    """A hairpin corridor: out along y = 0 from x = 0 to 10, back along y = 1.5. Points facing each other across
    the hairpin are 1.5 apart in the plane but up to 40 steps apart along the corridor."""
    rng = np.random.default_rng(seed)
    out = np.stack([np.arange(0, 10, 0.5), np.zeros(20)], 1)
    turn = np.stack([np.full(3, 10.0), np.array([0.5, 1.0, 1.5])], 1)
    back = np.stack([np.arange(9.5, -0.5, -0.5), np.full(20, 1.5)], 1)
    path = np.concatenate([out, turn, back])
    eps = []
    for i in range(n):
        a = int(rng.integers(0, len(path) - 12))
        b = int(rng.integers(a + 11, len(path)))
        obs = path[a : b + 1] + rng.normal(0, 0.05, (b + 1 - a, 2))
        m = len(obs) - 1
        eps.append(Episode(obs, np.zeros((m, 1)), np.zeros(m), np.zeros(m, bool), np.zeros(m, bool), id=i))
    return eps


def test_rank_metrics_on_known_answers():
    x = np.array([1.0, 2.0, 3.0, 4.0])
    assert spearman(x, x**3) == pytest.approx(1.0) and spearman(x, -x) == pytest.approx(-1.0)
    assert auc(x, np.array([True, True, False, False])) == pytest.approx(1.0)
    assert auc(x, np.array([False, False, True, True])) == pytest.approx(0.0)


def test_temporal_distance_beats_euclidean_on_the_hairpin():
    train, held = hairpin_episodes(60, 0), hairpin_episodes(20, 1)
    model, curve = train_distance(train, lambda x: x, steps=1500, batch=256, cap=30, latent_dim=8, hidden=64, seed=0)
    assert curve[-1]["loss"] < 0.5 * curve[0]["loss"]
    q = distance_quality(model, held, lambda x: x, cap=30, horizon=10, n=2000)
    assert q["learned"]["spearman"] > q["euclidean"]["spearman"] + 0.05
    assert q["learned"]["mae_steps"] < q["euclidean"]["mae_steps"]
    # across the hairpin: 1.5 apart in the plane, 30 steps apart along the corridor
    with torch.no_grad():
        d = float(model(torch.tensor([[3.0, 0.0]]), torch.tensor([[3.0, 1.5]])))
    assert d > 15, d


def test_select_pairs_follows_its_rule():
    dist = torch.tensor([[5.0, 12.0, 20.0, 15.0, 14.0]])
    gain = torch.tensor([[1.0, 0.5, 2.0, -0.1, 0.4]])
    nov = torch.tensor([[0.0, 0.0, 0.0, 0.0, 1.0]])
    same = torch.tensor([[False, False, False, False, False]])
    # candidate 0 is too near, 2 too far, 3 not better: 1 (gain 0.5) vs 4 (gain 0.4 + 0.5 * novelty 1.0)
    chosen, ok = astro.select_pairs(dist, gain, nov, same, d_min=10, d_max=16, coverage_weight=0.5)
    assert ok.item() and chosen.item() == 4
    chosen, ok = astro.select_pairs(dist, gain, nov, same, d_min=10, d_max=16, coverage_weight=0.0)
    assert chosen.item() == 1
    _, ok = astro.select_pairs(dist, gain, nov, torch.ones_like(same), 10, 16, 0.5)
    assert not ok.item()  # nothing on another trajectory


def test_stitched_gain_is_zero_for_the_source_own_future():
    """Stitching a constant-reward trajectory to its own state k steps ahead changes nothing: gain 0."""
    r, gamma, n, k = -1.0, 0.99, 150, 25
    rtg = lambda m: r * (1 - gamma**m) / (1 - gamma)
    gain = astro.stitched_gain(
        torch.tensor([[float(k)]]), torch.tensor([rtg(n)]), torch.tensor([[rtg(n - k)]]), r, gamma
    )
    assert abs(float(gain)) < 1e-4
    better = astro.stitched_gain(torch.tensor([[float(k)]]), torch.tensor([rtg(n)]), torch.tensor([[0.0]]), r, gamma)
    assert float(better) > 0  # a target at the goal (no more -1 rewards) is better


@pytest.fixture(scope="module")
def point_models():
    """Inverse dynamics and dynamics ensemble of a 2-D point mass s' = s + 0.1 a (with a weak drag)."""
    rng = np.random.default_rng(0)
    s = rng.uniform(-1, 1, (6000, 2)).astype(np.float32)
    a = rng.uniform(-1, 1, (6000, 2)).astype(np.float32)
    s2 = 0.98 * s + 0.1 * a
    data = TransitionData.from_arrays(s, a, np.zeros(len(s)), s2)
    inv, dyn = InverseDynamics(2, 2, 64), DynamicsEnsemble(2, 2, members=3, elites=2, hidden=64)
    torch.manual_seed(0)
    fit(inv, data, 1500, 128)
    fit(dyn, data, 1500, 128, members=3)
    return SimpleNamespace(inverse=inv, dynamics=dyn)


def test_rollout_deviation_feedback_lowers_the_deviation(point_models):
    """Reference: a straight line the point cannot quite follow with inverse-dynamics actions alone (the learned
    models are imperfect and the drag compounds); RDF must bring the arrived states closer, on average."""
    g = torch.Generator().manual_seed(0)
    b, t = 32, 12
    start = torch.rand(b, 2, generator=g) - 0.5
    goal = start + (torch.rand(b, 2, generator=g) - 0.5) * 1.2
    frac = torch.linspace(0, 1, t + 1)[None, :, None]
    reference = start[:, None] + frac * (goal - start)[:, None]
    delta = torch.full((b,), t)
    p = astro.plan(point_models, reference, delta, iterations=40)
    dev = p.trace["deviation"].mean(1)  # per iteration, mean over bridges
    assert dev.shape == (42,)  # open loop, feedback, then 40 gradient steps
    assert dev[1] < dev[0] and dev[-1] < 0.5 * dev[0], dev
    assert float(p.end_error.mean()) <= float(p.trace["end"][0].mean())
    states, _ = astro.rollout(point_models.dynamics, reference[:, 0], p.actions)
    assert torch.allclose(states, p.states, atol=1e-5)  # the kept states are the kept actions' rollout
    assert p.actions.abs().max() <= 1.0
    off = astro.plan(point_models, reference, delta, iterations=40, feedback=False)
    assert off.trace["deviation"].shape[0] == 1  # the ablation judges the open-loop actions only


@pytest.fixture(scope="module")
def maze_smoke(tmp_path_factory):
    root = tmp_path_factory.mktemp("astro")
    mp = pytest.MonkeyPatch()
    mp.setenv("STITCHKIT_DATA", str(root))
    mp.setenv("MINARI_DATASETS_PATH", str(root / "minari"))
    parent = "stitchkit/pointmaze-medium/stitch-v0"
    eps = registry.load_episodes(parent, "smoke", build_missing=True, log=lambda *_: None)
    models = astro.train_models(eps, get_profile("smoke"), 0, log=lambda *_: None)
    yield parent, eps, models
    mp.undo()


LOOSE = dict(d_min=1.0, end_delta=float("inf"), uncertainty_factor=float("inf"), return_filter=False)


def test_astro_bridges_follow_the_model_and_land_on_the_target(maze_smoke):
    parent, eps, models = maze_smoke
    res = astro.stitch(models, eps, "pointmaze-medium", get_profile("smoke"), astro.AstroConfig(**LOOSE), parent)
    assert res.stats["accepted"] > 0 and len(res.stats["rdf_mean_deviation"]) == 2 + 4
    for br in (b for b in res.bridges if b.accepted):
        (e, t), (e2, t2) = br.source, br.target
        assert np.array_equal(br.states[0], eps[e].observations[t]) and np.array_equal(
            br.states[-1], eps[e2].observations[t2]
        )
        cdf = models.stitch.cdf
        x = torch.as_tensor(cdf.normalize(br.states), dtype=torch.float32)
        pred = models.stitch.dynamics.predict(x[:-2], torch.as_tensor(br.actions[:-1]))
        # every transition but the last is the learned model's own prediction (CDF round trip aside)
        assert torch.allclose(pred, x[1:-1], atol=2e-3)
    again = astro.stitch(models, eps, "pointmaze-medium", get_profile("smoke"), astro.AstroConfig(**LOOSE), parent)
    assert [b.source for b in again.bridges] == [b.source for b in res.bridges]  # same seed, same result
    ep = res.episodes[0]
    assert ep.provenance.method == "astro" and len(ep.observations) == len(ep.actions) + 1


def test_astro_stitching_stopped_part_way_resumes_and_a_finished_run_loads(maze_smoke, tmp_path, monkeypatch):
    """Killed after a checkpoint, ASTRO's loop continues to the bridges and RDF traces of a run that never stopped;
    run again when finished, it plans nothing (notebook 06 run a second time loads its run this way)."""
    from stitchkit.augment import bridges as bridges_module

    monkeypatch.setattr(bridges_module, "CHECKPOINT_EVERY", 2)
    parent, eps, models = maze_smoke
    smoke, cfg, kw = get_profile("smoke"), astro.AstroConfig(**LOOSE), dict(budget=10**9, max_iterations=5)
    straight = astro.stitch(models, eps, "pointmaze-medium", smoke, cfg, parent, **kw)

    def stop_at_3(st: dict) -> None:
        if st["iteration"] == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        astro.stitch(models, eps, "pointmaze-medium", smoke, cfg, parent, progress=stop_at_3, resume_dir=tmp_path, **kw)
    resumed = astro.stitch(models, eps, "pointmaze-medium", smoke, cfg, parent, resume_dir=tmp_path, **kw)
    assert [b.source for b in resumed.bridges] == [b.source for b in straight.bridges] and straight.bridges
    assert all(np.array_equal(x.states, y.states) for x, y in zip(straight.bridges, resumed.bridges))
    assert resumed.stats["rdf_mean_deviation"] == straight.stats["rdf_mean_deviation"]  # traces restored too
    ran: list[dict] = []
    again = astro.stitch(
        models, eps, "pointmaze-medium", smoke, cfg, parent, progress=ran.append, resume_dir=tmp_path, **kw
    )
    assert ran == [] and again.stats["accepted"] == straight.stats["accepted"]
    assert again.stats["rdf_mean_deviation"] == straight.stats["rdf_mean_deviation"]


def test_astro_through_the_augment_interface(data_root):
    parent = "stitchkit/pointmaze-medium/stitch-v0"
    out = registry.augmented_id(parent, "astro", "loose")
    summary = augment_run("astro", parent, out, "smoke", log=lambda *_: None, **LOOSE)
    assert summary["method"] == "astro" and summary["accepted"] > 0
    assert set(summary["distance_quality"]) >= {"learned", "euclidean"}
    eps = registry.load_episodes(out, "smoke")
    assert all(e.provenance.method == "astro" for e in eps)
    with pytest.raises(OptionError, match="unknown astro option 'horizon'"):
        augment_run("astro", parent, profile="smoke", log=lambda *_: None, horizon=3)
    with pytest.raises(ValueError, match="d_min <= d_max"):
        augment_run(
            "astro", parent, registry.augmented_id(parent, "astro", "bad"), "smoke", log=lambda *_: None, d_min=30.0
        )


def test_astro_cli_writes_the_dataset_and_prints_json(tmp_path):
    import json
    import subprocess

    from conftest import stitchkit_cmd, subprocess_env

    env = subprocess_env(
        STITCHKIT_DATA=str(tmp_path), MINARI_DATASETS_PATH=str(tmp_path / "minari"), OMP_NUM_THREADS="1"
    )
    out = "stitchkit/pointmaze-medium/stitch-astro-cli-v0"
    opts = [x for k, v in LOOSE.items() for x in ("--option", f"{k}={v}")]
    proc = subprocess.run(
        stitchkit_cmd()
        + [
            "augment",
            "astro",
            "--dataset",
            "stitchkit/pointmaze-medium/stitch-v0",
            "--out",
            out,
            "--profile",
            "smoke",
            *opts,
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["method"] == "astro" and summary["accepted"] > 0 and summary["config"]["return_filter"] is False
    assert (tmp_path / "minari" / out / "data" / "main_data.hdf5").exists()


def test_training_time_estimate_counts_only_what_is_not_cached(maze_smoke, tmp_path, monkeypatch):
    """DiffStitch's models, once cached, drop out of ASTRO's estimate (each loop still runs once, on a fixed clock:
    comparing two timings would test the machine's noise)."""
    from stitchkit.augment import diffstitch as ds
    from stitchkit.augment import models

    def fixed(run, probe):
        run(2)
        return 0.01

    monkeypatch.setattr(ds, "seconds_per_step", fixed)
    monkeypatch.setattr(models, "seconds_per_step", fixed)
    monkeypatch.setattr(astro, "seconds_per_step", fixed)
    smoke = get_profile("smoke")
    _, eps, _ = maze_smoke
    fresh = astro.estimate_train_seconds(eps, smoke, tmp_path / "astro", tmp_path / "ds", probe=5)
    ds.train_models(eps, smoke, checkpoint_dir=tmp_path / "ds", log=lambda *_: None)  # DiffStitch's part now cached
    partial = astro.estimate_train_seconds(eps, smoke, tmp_path / "astro", tmp_path / "ds", probe=5)
    assert 0 < partial < fresh
    astro.train_models(
        eps, smoke, checkpoint_dir=tmp_path / "astro", diffstitch_dir=tmp_path / "ds", log=lambda *_: None
    )
    assert astro.estimate_train_seconds(eps, smoke, tmp_path / "astro", tmp_path / "ds") == 0.0
