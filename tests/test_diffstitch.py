"""DiffStitch: the diffusion model's parts, the four pipeline modules on known answers, bridges that meet their
endpoints exactly, determinism, and the augmented dataset's round trip through Minari and the evaluators."""

import numpy as np
import pytest
import torch
from conftest import stitchkit_cmd, subprocess_env

from stitchkit.augment import AugmentError
from stitchkit.augment import diffstitch as ds
from stitchkit.augment import run as augment_run
from stitchkit.augment.diffusion import StateDiffusion, TemporalUnet, cosine_beta_schedule, denoise_error, training_mask
from stitchkit.augment.models import DynamicsEnsemble, InverseDynamics, TransitionData, fit
from stitchkit.data import registry
from stitchkit.data.episodes import Episode, generated_transitions
from stitchkit.options import OptionError
from stitchkit.profiles import get_profile, with_sizes

torch.set_num_threads(1)
SMOKE = get_profile("smoke")
LOOSE = ds.DiffStitchConfig(similarity=-1.0, delta=float("inf"), return_filter=False)  # accept every bridge


def point_episodes(n: int = 12, length: int = 40, seed: int = 0) -> list[Episode]:
    """A 2-D point mass: s' = s + 0.1 a, reward = -|s - (1, 1)|; some episodes head for (1, 1), others wander."""
    rng = np.random.default_rng(seed)
    eps = []
    for i in range(n):
        s = [rng.uniform(-1, 1, 2)]
        acts = []
        for _ in range(length):
            a = np.clip((np.array([1.0, 1.0]) - s[-1]) * (i % 2) + rng.normal(0, 0.5, 2), -1, 1)
            acts.append(a)
            s.append(s[-1] + 0.1 * a)
        obs, act = np.array(s), np.array(acts)
        rew = -np.linalg.norm(obs[:-1] - 1.0, axis=-1)
        eps.append(Episode(obs, act, rew, np.zeros(length, bool), np.zeros(length, bool), id=i))
    return eps


@pytest.fixture(scope="module")
def trained():
    eps = point_episodes()
    return eps, ds.train_models(eps, SMOKE, seed=0, log=lambda *_: None)


def test_cosine_schedule_and_training_masks():
    betas = cosine_beta_schedule(100)
    abar = torch.cumprod(1 - betas, 0)
    assert betas.max() <= 0.999 and (abar[1:] < abar[:-1]).all() and abar[-1] < 1e-3
    known = training_mask(5000, 24, torch.Generator().manual_seed(0))
    assert known[:, 0].all() and not known[:, -1].any()  # first state always known, last never
    assert known[:, 1:-1].any(0).all()  # every middle position is sometimes known


@pytest.mark.parametrize("steps", [None, 3])
def test_samplers_keep_known_states_exactly(steps):
    net = TemporalUnet(24, 3, 8, (1, 2))
    model = StateDiffusion(net, steps=10)
    g = torch.Generator().manual_seed(0)
    values = torch.rand(4, 24, 3, generator=g) * 2 - 1
    known = training_mask(4, 24, g)
    out = model.sample(known, values, steps=steps, generator=torch.Generator().manual_seed(1))
    assert torch.equal(out[known], values[known])
    assert out.abs().max() <= 1.0 + 1e-6 and not torch.equal(out[~known], values[~known])


def test_diffusion_learns_a_window_distribution():
    """Windows of straight lines: after training, the held-out x0 error at mid noise drops well below the
    untrained model's."""
    g = torch.Generator().manual_seed(0)
    h, d = 16, 2

    def batch(n):
        start, vel = torch.rand(n, 1, d, generator=g) - 0.5, (torch.rand(n, 1, d, generator=g) - 0.5) * 0.08
        return start + vel * torch.arange(h)[None, :, None]

    model = StateDiffusion(TemporalUnet(h, d, 16, (1, 2)), steps=20)
    test_x, test_known = batch(256), training_mask(256, h, g)
    before = denoise_error(model, test_x, test_known, 10)
    opt = torch.optim.Adam(model.net.parameters(), 2e-3)
    for step in range(300):
        loss = model.loss(batch(64), training_mask(64, h, g), generator=g)
        opt.zero_grad(), loss.backward(), opt.step()
        model.update_ema(step, start=10**9)  # plain copy: test the trained weights
    assert denoise_error(model, test_x, test_known, 10) < 0.3 * before


def test_unet_in_bf16_trains_to_the_float32_curve():
    """bfloat16 autocast for the U-Net (issue 32's GPU path, run here on the CPU): the same seed and batches give a
    loss curve within noise of float32's (every 40-step mean within 15%), float32 weights, no loss scaling."""
    from dataclasses import replace

    from stitchkit.augment.diffusion import diffusion_from_sizes

    eps = point_episodes()
    cdf, _ = ds.model_data(eps, 0)
    sz = replace(ds.SIZES.of(SMOKE), diffusion_train_steps=200, diffusion_lr=1e-3)
    curves = {}
    for bf16 in (False, True):
        torch.manual_seed(0)
        model = diffusion_from_sizes(2, sz)
        curve = ds.train_diffusion(model, eps, cdf, sz, seed=0, bf16=bf16)
        curves[bf16] = np.array([r["loss"] for r in curve]).reshape(-1, 10).mean(1)
        assert all(p.dtype == torch.float32 for p in model.parameters())
    assert np.allclose(curves[True], curves[False], rtol=0.15), curves
    assert not np.array_equal(curves[True], curves[False])  # bf16 really ran: its rounding shows in the curve
    assert curves[True][-1] < 0.6 * curves[True][0] and curves[False][-1] < 0.6 * curves[False][0]


def test_dynamics_ensemble_and_inverse_dynamics_learn_a_linear_system():
    rng = np.random.default_rng(0)
    s, a = rng.uniform(-1, 1, (4000, 3)), rng.uniform(-1, 1, (4000, 2))
    s2 = s + 0.1 * np.c_[a, a[:, :1]]
    data = TransitionData.from_arrays(s, a, np.zeros(4000), s2)
    dyn = DynamicsEnsemble(3, 2, members=3, elites=2)
    curve = fit(dyn, data, 600, 128, members=3)
    assert curve[-1]["held_out"] < 0.05 * curve[0]["held_out"] + 1e-4
    inv = InverseDynamics(3, 2, hidden=64)
    curve = fit(inv, data, 600, 128)
    assert curve[-1]["held_out"] < 0.01


def test_step_estimation_finds_the_planted_match():
    """Candidate 2 equals imagined state 7 (a unique direction): Delta = 7, candidate 2 chosen."""
    g = torch.Generator().manual_seed(0)
    imagined = torch.zeros(1, 12, 3)
    imagined[0, :, 0] = 1.0  # every state points along x ...
    imagined[0, 7] = torch.tensor([0.0, 0.0, 1.0])  # ... but state 7 along z
    cands = torch.tensor([[[0.0, 1.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, 2.0], [-1.0, 0.0, 0.0]]])
    chosen, delta, ok = ds.estimate_steps(imagined, cands, low=2, high=10, threshold=0.9, generator=g)
    assert ok.item() and chosen.item() == 2 and delta.item() == 7
    _, _, ok = ds.estimate_steps(imagined, cands[:, [0, 1, 3]], 2, 10, 0.9, g)
    assert not ok.item()  # no candidate reaches the threshold: the bridge is dropped


def test_qualification_counts_only_the_bridge():
    err = torch.tensor([[0.1, 0.2, 5.0, 9.0], [0.1, 2.0, 0.0, 0.0]])
    worst, ok = ds.qualify(err, torch.tensor([2, 3]), threshold=1.0)
    assert worst.tolist() == pytest.approx([0.2, 2.0]) and ok.tolist() == [True, False]


def test_bridges_start_and_end_exactly_at_dataset_states(trained):
    eps, models = trained
    res = ds.stitch(models, eps, "point", SMOKE, LOOSE, budget=10**9, max_iterations=2)
    assert res.episodes and len(res.episodes) == sum(b.accepted for b in res.bridges)
    for ep, br in zip(res.episodes, [b for b in res.bridges if b.accepted]):
        p = ep.provenance
        src, tgt = eps[p.source_episode], eps[p.target_episode]
        t, t2, d = p.source_step, p.target_step, p.bridge_steps
        assert ds.SIZES.of(SMOKE).window_low <= d < ds.SIZES.of(SMOKE).window_high
        assert np.array_equal(ep.observations[: t + 1], src.observations[: t + 1])  # source prefix, bit for bit
        assert np.array_equal(ep.observations[t + d :], tgt.observations[t2:])  # target suffix from s'_1 on
        assert np.array_equal(br.states[0], src.observations[t]) and np.array_equal(br.states[-1], tgt.observations[t2])
        assert np.array_equal(ep.actions[:t], src.actions[:t]) and np.array_equal(ep.actions[t + d :], tgt.actions[t2:])
        assert len(ep) == t + d + len(tgt) - t2
    gen = generated_transitions(res.episodes)
    assert len(gen["actions"]) == sum(e.provenance.bridge_steps for e in res.episodes)


def test_same_seed_same_bridges_and_the_ablation_switches(trained):
    eps, models = trained
    a = ds.stitch(models, eps, "point", SMOKE, LOOSE, budget=10**9, max_iterations=1)
    b = ds.stitch(models, eps, "point", SMOKE, LOOSE, budget=10**9, max_iterations=1)
    assert all(np.array_equal(x.states, y.states) for x, y in zip(a.bridges, b.bridges))
    fixed = ds.stitch(
        models,
        eps,
        "point",
        SMOKE,
        ds.DiffStitchConfig(step_estimation=False, fixed_steps=9, delta=float("inf"), return_filter=False),
        budget=10**9,
        max_iterations=1,
    )
    assert {br.steps for br in fixed.bridges} == {9}
    strict = ds.stitch(
        models, eps, "point", SMOKE, ds.DiffStitchConfig(similarity=-1.0, delta=0.0), budget=10**9, max_iterations=1
    )
    assert strict.stats["accepted"] == 0 and strict.stats["dynamics"] > 0  # delta = 0 rejects every bridge
    off = ds.stitch(
        models,
        eps,
        "point",
        SMOKE,
        ds.DiffStitchConfig(similarity=-1.0, delta=0.0, qualification=False, return_filter=False),
        budget=10**9,
        max_iterations=1,
    )
    assert off.stats["accepted"] == off.stats["generated"]


def test_strided_sampler_and_dynamics_guidance_run_and_guidance_lowers_model_error(trained):
    eps, models = trained
    plain = ds.stitch(
        models,
        eps,
        "point",
        SMOKE,
        ds.DiffStitchConfig(similarity=-1.0, delta=float("inf"), sampler="strided"),
        budget=10**9,
        max_iterations=2,
    )
    guided = ds.stitch(
        models,
        eps,
        "point",
        SMOKE,
        ds.DiffStitchConfig(similarity=-1.0, delta=float("inf"), sampler="strided", dynamics_guidance=0.05),
        budget=10**9,
        max_iterations=2,
    )
    med = lambda r: np.median([b.model_error for b in r.bridges])
    assert med(guided) < med(plain)


def test_pairing_rules(trained):
    eps, _ = trained
    code = ds.pair_pools(eps, 24, ds.DiffStitchConfig())
    assert code.rtg[code.targets].min() >= np.quantile(code.rtg, 0.97)  # top 2% by return-to-go
    paper = ds.pair_pools(eps, 24, ds.DiffStitchConfig(pairing="paper"))
    rets = np.array([e.ret for e in eps])
    assert rets[paper.starts[paper.sources, 0]].max() < rets[paper.starts[paper.targets, 0]].min()
    with pytest.raises(ValueError, match="accepted: 'code', 'paper'"):
        ds.pair_pools(eps, 24, ds.DiffStitchConfig(pairing="best"))


def test_augmented_dataset_round_trip_and_training(data_root):
    """stitchkit augment -> a Minari dataset of generated episodes with provenance -> TD3+BC and DT train on it."""
    parent = "stitchkit/pointmaze-medium/stitch-v0"
    out = registry.augmented_id(parent, "diffstitch", "loose")
    summary = augment_run(
        "diffstitch",
        parent,
        out,
        "smoke",
        log=lambda *_: None,
        similarity=-1.0,
        delta=float("inf"),
        return_filter=False,
    )
    assert summary["accepted"] > 0
    eps = registry.load_episodes(out, "smoke")
    assert all(e.provenance.method == "diffstitch" and e.provenance.bridge_steps > 0 for e in eps)
    parent_eps = registry.load_episodes(parent, "smoke")
    p = eps[0].provenance
    assert np.array_equal(
        eps[0].observations[: p.source_step + 1], parent_eps[p.source_episode].observations[: p.source_step + 1]
    )
    assert registry.read_metadata(out)["stitchkit"]["parent"] == parent
    from stitchkit.train import run as train_run

    for algo in ("td3bc", "dt"):
        result = train_run(algo, parent, seeds=[0], profile="smoke", augmented_id=out, ratio=4.0, progress=False)
        assert np.isfinite(result["score"]["last_mean"])
    again = augment_run("diffstitch", parent, out, "smoke", log=lambda *_: None)  # kept, not regenerated
    assert again["accepted"] == summary["accepted"]


def test_bad_augment_input_is_named(data_root):
    with pytest.raises(AugmentError, match="accepted: diffstitch"):
        augment_run("diffusion", "stitchkit/hopper/medium-v0", profile="smoke")
    with pytest.raises(AugmentError, match="must name its parent and method"):
        augment_run("diffstitch", "stitchkit/hopper/medium-v0", "stitchkit/hopper/other-diffstitch-v0", "smoke")
    with pytest.raises(registry.DatasetError, match="unknown dataset id"):
        augment_run("diffstitch", "stitchkit/hopper/bogus-v0", profile="smoke")
    with pytest.raises(OptionError, match="unknown diffstitch option 'temperature'"):
        augment_run(
            "diffstitch", "stitchkit/pointmaze-medium/stitch-v0", profile="smoke", log=lambda *_: None, temperature=2
        )


def test_augment_cli_writes_the_dataset_and_prints_json(tmp_path):
    import json
    import subprocess

    env = subprocess_env(
        STITCHKIT_DATA=str(tmp_path), MINARI_DATASETS_PATH=str(tmp_path / "minari"), OMP_NUM_THREADS="1"
    )
    out = "stitchkit/pointmaze-medium/stitch-diffstitch-cli-v0"
    proc = subprocess.run(
        stitchkit_cmd()
        + [
            "augment",
            "diffstitch",
            "--dataset",
            "stitchkit/pointmaze-medium/stitch-v0",
            "--out",
            out,
            "--profile",
            "smoke",
            "--option",
            "similarity=-1",
            "--option",
            "delta=inf",
            "--option",
            "return_filter=false",
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["accepted"] > 0 and summary["config"]["return_filter"] is False
    assert (tmp_path / "minari" / out / "data" / "main_data.hdf5").exists()
    bad = subprocess.run(
        stitchkit_cmd()
        + [
            "augment",
            "diffstitch",
            "--dataset",
            "stitchkit/pointmaze-medium/stitch-v0",
            "--profile",
            "smoke",
            "--option",
            "sampler",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert bad.returncode == 2 and "KEY=VALUE" in bad.stderr


def test_return_guidance_needs_a_return_conditioned_model_and_runs_with_one(trained):
    eps, models = trained
    with pytest.raises(ValueError, match="returns_condition=True"):
        ds.stitch(models, eps, "point", SMOKE, ds.DiffStitchConfig(return_guidance=1.2), max_iterations=1)
    cond = ds.train_models(eps, SMOKE, seed=0, returns_condition=True, log=lambda *_: None)
    res = ds.stitch(
        cond,
        eps,
        "point",
        SMOKE,
        ds.DiffStitchConfig(similarity=-1.0, delta=float("inf"), return_filter=False, return_guidance=1.2),
        budget=10**9,
        max_iterations=1,
    )
    assert res.stats["generated"] == ds.SIZES.of(SMOKE).stitch_batch and res.stats["accepted"] > 0


def test_training_time_estimate_is_measured_and_zero_when_cached(tmp_path, monkeypatch):
    """The estimate printed before training: each model's loop run here and its step time scaled by its steps (on a
    fixed clock: comparing two timings would test the machine's noise), 0 for cached models."""

    from stitchkit.augment import models as models_module

    def fixed(run, probe):
        run(2)
        return 0.01

    eps = point_episodes()
    sz = ds.SIZES.of(SMOKE)
    with monkeypatch.context() as m:
        m.setattr(ds, "seconds_per_step", fixed)
        m.setattr(models_module, "seconds_per_step", fixed)
        assert ds.estimate_train_seconds(eps, SMOKE, probe=5) == pytest.approx(
            0.01 * (sz.diffusion_train_steps + 3 * sz.model_steps)
        )
        more = with_sizes(SMOKE, {"stitch": {"diffusion_train_steps": 100}}, [ds.SIZES])
        assert ds.estimate_train_seconds(eps, more, probe=5) == pytest.approx(0.01 * (100 + 3 * sz.model_steps))
    ds.train_models(eps, SMOKE, checkpoint_dir=tmp_path, log=lambda *_: None)
    assert ds.estimate_train_seconds(eps, SMOKE, tmp_path) == 0.0


def test_a_build_stopped_during_diffusion_training_resumes_to_the_uninterrupted_models(tmp_path):
    """A campaign build takes hours and a session ends: stopped after half the diffusion model's steps, the build
    reloads its three small models and resumes the diffusion training (random state included) to the very weights
    of a build that never stopped."""
    eps, quiet = point_episodes(), lambda *_: None
    straight = ds.train_models(eps, SMOKE, checkpoint_dir=tmp_path / "a", log=quiet)
    half = with_sizes(SMOKE, {"stitch": {"diffusion_train_steps": ds.SIZES.of(SMOKE).diffusion_train_steps // 2}},
                      [ds.SIZES])  # fmt: skip
    ds.train_models(eps, half, checkpoint_dir=tmp_path / "b", log=quiet)
    (tmp_path / "b" / "models.pt").unlink()  # as if the session had ended before the build's last step
    said = []
    resumed = ds.train_models(eps, SMOKE, checkpoint_dir=tmp_path / "b", log=said.append)
    assert any("loaded from" in line for line in said)
    for name in ("diffusion", "inverse", "reward", "dynamics"):
        a, b = getattr(straight, name).state_dict(), getattr(resumed, name).state_dict()
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), name
    assert straight.curves["diffusion"] == resumed.curves["diffusion"]


def test_a_stitching_run_stopped_part_way_resumes_to_the_same_bridges(trained, tmp_path, monkeypatch):
    """A paper-volume build generates for hours: killed after a checkpoint, the loop continues from it (tallies,
    bridges, random state) and ends with the bridges of a run that never stopped; another config starts afresh."""
    from stitchkit.augment import bridges as bridges_module

    monkeypatch.setattr(bridges_module, "CHECKPOINT_EVERY", 2)
    eps, models = trained
    kw = dict(budget=10**9, max_iterations=5)
    straight = ds.stitch(models, eps, "point", SMOKE, LOOSE, **kw)

    def stop_at(it: int):
        def progress(st: dict) -> None:
            if st["iteration"] == it:
                raise KeyboardInterrupt  # as a session's end kills the build

        return progress

    with pytest.raises(KeyboardInterrupt):
        ds.stitch(models, eps, "point", SMOKE, LOOSE, progress=stop_at(3), resume_dir=tmp_path, **kw)
    (state,) = tmp_path.glob("*/state.pt")
    assert torch.load(state, weights_only=False)["iteration"] == 2  # the checkpoint before the kill
    resumed = ds.stitch(models, eps, "point", SMOKE, LOOSE, resume_dir=tmp_path, **kw)
    assert len(resumed.bridges) == len(straight.bridges) > 0
    assert all(
        np.array_equal(x.states, y.states) and x.source == y.source for x, y in zip(straight.bridges, resumed.bridges)
    )
    same = ("generated", "accepted", "accepted_transitions", "iterations")
    assert {k: resumed.stats[k] for k in same} == {k: straight.stats[k] for k in same}
    # a finished run (5 iterations: not a checkpoint's multiple) saved its end too: run again, it proposes nothing
    ran: list[dict] = []
    again = ds.stitch(models, eps, "point", SMOKE, LOOSE, progress=ran.append, resume_dir=tmp_path, **kw)
    assert ran == [] and again.stats["iterations"] == 5  # no iteration ran
    assert all(np.array_equal(x.states, y.states) for x, y in zip(straight.bridges, again.bridges))
    assert len(again.bridges) == len(straight.bridges) and len(again.episodes) == len(straight.episodes)
    other = ds.stitch(
        models, eps, "point", SMOKE, ds.DiffStitchConfig(similarity=-1.0, delta=0.0), resume_dir=tmp_path, **kw
    )
    assert other.stats["iterations"] == 5 and len(list(tmp_path.glob("*/state.pt"))) == 2
