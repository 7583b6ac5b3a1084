"""Locomotion datasets from the committed behaviour policies: recipes, reference scores, determinism."""

from pathlib import Path

import gymnasium
import minari
import numpy as np
import pytest

from stitchkit import env_pool
from stitchkit.data import d4rl, locomotion, registry
from stitchkit.data.policies import list_checkpoints


@pytest.fixture
def data_root(tmp_path, monkeypatch):
    monkeypatch.setenv("STITCHKIT_DATA", str(tmp_path))
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    return tmp_path


@pytest.mark.parametrize("env", ["hopper", "halfcheetah", "walker2d"])
def test_committed_policies_are_small_and_ordered(env):
    ckpts = list_checkpoints(env)
    assert ckpts[0].step == 0 and [c.step for c in ckpts] == sorted(c.step for c in ckpts)
    assert sum(c.path.stat().st_size for c in ckpts) < 7_000_000  # all three envs stay under 20 MB
    chosen = locomotion.choose_checkpoints(env)
    assert chosen["random"].mean_return < chosen["medium"].mean_return < chosen["expert"].mean_return


def test_hopper_recipes_reference_scores_and_determinism(data_root):
    registry.build("stitchkit/hopper/medium-v0", "smoke", log=lambda *_: None)
    registry.build("stitchkit/hopper/expert-v0", "smoke", log=lambda *_: None)
    registry.build("stitchkit/hopper/medium-expert-v0", "smoke", log=lambda *_: None)
    med, exp = (minari.load_dataset(f"stitchkit/hopper/{n}-v0") for n in ("medium", "expert"))
    # one (random, expert) reference pair per env, as Minari does, computed the documented way
    refs = locomotion.reference_scores("hopper", episodes=2)
    for ds in (med, exp):
        assert ds.storage.metadata["ref_min_score"] == pytest.approx(refs["ref_min_score"])
        assert ds.storage.metadata["ref_max_score"] == pytest.approx(refs["ref_max_score"])
    assert np.allclose(
        minari.get_normalized_score(med, np.array([refs["ref_min_score"], refs["ref_max_score"]])), [0, 1]
    )
    me = registry.load_episodes("stitchkit/hopper/medium-expert-v0", "smoke")
    assert len(me) == med.total_episodes + exp.total_episodes  # medium and expert, concatenated
    eps = registry.load_episodes("stitchkit/hopper/medium-v0", "smoke")
    assert all("x_position" in e.infos and len(e.infos["x_position"]) == len(e) + 1 for e in eps)
    assert sum(len(e) for e in eps) >= 2000  # the smoke budget, whole episodes
    again = locomotion.build("hopper", "medium", 2000, seed=0)[0]
    assert all(np.array_equal(a.observations, b.observations) for a, b in zip(eps, again))
    # medium sits between random and expert in mean episode return (the recipe's definition; per step it need
    # not: a medium hopper hops hard and falls early, the expert earns less per step for longer)
    mean_ret = lambda es: np.mean([e.ret for e in es])
    rand = locomotion.build("hopper", "random", 2000, seed=0)[0]
    assert mean_ret(rand) < mean_ret(eps) < mean_ret(registry.load_episodes("stitchkit/hopper/expert-v0", "smoke"))


def test_a_dataset_from_replaced_policies_is_stale_and_its_caches_change(data_root, monkeypatch):
    """New committed behaviour policies make a built locomotion dataset (and what was derived from it) stale: loading
    it names the rebuild command, building rebuilds it, and the models' cache key follows its new contents."""
    from stitchkit.augment import diffstitch as ds
    from stitchkit.profiles import get_profile

    med, sub = "stitchkit/hopper/medium-v0", "stitchkit/hopper/medium-2k-v0"
    quiet = lambda *_: None
    registry.build(sub, "smoke", log=quiet)  # builds its parent too
    print_before, key_before = registry.fingerprint(med), ds.config_key(med, get_profile("smoke"), 0, False)
    assert registry.status(med) == registry.status(sub) == {"state": "built", "profile": "smoke"}
    registry.build(med, "smoke", force=True, log=quiet)  # same policies, settings and seed: same fingerprint
    assert registry.fingerprint(med) == print_before and registry.status(sub)["state"] == "built"

    monkeypatch.setattr(locomotion, "policies_version", lambda env: "0123456789ab")  # as if new policies landed
    st = registry.status(med)
    assert st["state"] == "stale" and "0123456789ab" in st["why"]
    assert registry.status(sub) == {"state": "stale", "profile": "smoke", "why": f"its parent {med} is stale"}
    with pytest.raises(registry.DatasetError, match=r"stale.*stitchkit data build"):
        registry.load_minari(med, "smoke")
    lines = []
    registry.build(med, "smoke", log=lines.append)
    assert "rebuilding" in lines[0] and registry.status(med)["state"] == "built"
    assert registry.fingerprint(med) != print_before
    assert ds.config_key(med, get_profile("smoke"), 0, False) != key_before
    assert registry.status(sub)["why"] == f"its parent {med} was rebuilt since"
    registry.load_minari(sub, "smoke", build_missing=True, log=quiet)  # a notebook's load rebuilds it
    assert registry.status(sub)["state"] == "built"


def test_train_policy_resumes_and_survives_a_kill_mid_checkpoint(data_root):
    """A run stopped at step 300 continues to 500 with its history; a half-written checkpoint folder (killed before
    ``latest.json`` named it) is ignored; publishing keeps every actor up to medium and the expert."""
    pytest.importorskip("sb3_contrib")
    from stitchkit.data import policies

    kw = dict(algo="tqc", checkpoint_every=100, eval_episodes=1, learning_starts=100, log=lambda *_: None)
    first = policies.train_policy("hopper", 300, **kw)
    assert [c.step for c in first] == [0, 100, 200, 300]
    run = policies.run_dir("hopper", "tqc", 0)
    (run / "state-0000400").mkdir()  # a kill while checkpoint 400 was being written
    (run / "state-0000400" / "model.zip").write_bytes(b"half")
    resumed = policies.train_policy("hopper", 500, **kw)
    assert [c.step for c in resumed] == [0, 100, 200, 300, 400, 500]
    assert [c.mean_return for c in resumed[:4]] == [c.mean_return for c in first]  # history kept, not redone
    assert sorted(p.name for p in run.glob("state-*")) == ["state-0000500"]
    # TQC's per-environment setting (the paper's dropped quantiles for Hopper) is used and recorded, resumed too
    import json

    assert json.loads((run / "manifest.json").read_text())["settings"] == {"top_quantiles_to_drop_per_net": 5}
    from sb3_contrib import TQC

    assert TQC.load(run / "state-0000500" / "model.zip").top_quantiles_to_drop_per_net == 5
    published = policies.publish_policies(
        "hopper", "tqc", root=data_root / "published", every=500, episodes=10, log=lambda *_: None
    )
    measured = policies.list_checkpoints("hopper", root=run.parent, name=run.name)
    top = policies.expert_candidates(resumed)
    assert {c.step for c in measured if c.return_100 is not None} == {c.step for c in top}
    chosen = locomotion.pick_checkpoints(measured)
    assert chosen["expert"].return_100 == max(c.return_100 for c in measured if c.return_100 is not None)
    expect = {c.step for c in resumed if c.step <= chosen["medium"].step} | {chosen["expert"].step, 0, 500}
    assert {c.step for c in published} == expect
    assert next(c for c in published if c.step == chosen["expert"].step).return_100 == chosen["expert"].return_100
    # training on after a measurement keeps the measured 100-episode returns in the run's manifest
    on = policies.train_policy("hopper", 600, **kw)
    status = policies.run_status("hopper", "tqc")
    assert status["step"] == 600 and set(status["return_100"]) == {c.step for c in on if c.return_100 is not None}
    assert policies.run_status("walker2d", "tqc") == {"env": "walker2d", "run": "walker2d-tqc-s0", "started": False}
    assert {c.step: c.return_100 for c in on if c.return_100 is not None} == {
        c.step: c.return_100 for c in measured if c.return_100 is not None
    }


def test_expert_candidates_include_a_noisy_checkpoint_that_may_be_the_best():
    """A checkpoint whose few-episode score is low but spread wide is measured; one that cannot reach the best
    is not; the count is capped, best first."""
    from stitchkit.data.policies import Checkpoint, expert_candidates

    ck = lambda step, mean, std: Checkpoint("hopper", step, mean, Path("x"), std_return=std)
    ckpts = [ck(0, 10, 5), ck(1, 3134, 18), ck(2, 2370, 1008), ck(3, 2900, 100), ck(4, 3000, 140)]
    assert [c.step for c in expert_candidates(ckpts)] == [1, 4, 2]
    assert [c.step for c in expert_candidates(ckpts, most=2)] == [1, 4]
    steady = [ck(0, 10, 5), ck(1, 4001, 25), ck(2, 3871, 49), ck(3, 3700, 80)]  # walker2d: 3,871 is within 5%
    assert [c.step for c in expert_candidates(steady)] == [1, 2]


def test_d4rl_scores_beside_the_kits_own(data_root):
    """D4RL's reference returns map to 0 and 100; the evaluator reports that normalisation of its returns on the
    locomotion tasks (and only there)."""
    import torch

    from stitchkit.data.normalizers import ZScore
    from stitchkit.evaluate import Evaluator

    assert np.allclose(d4rl.d4rl_score("hopper", [-20.272305, 3234.3]), [0, 100])
    assert np.allclose(d4rl.d4rl_score("walker2d", [1.629008, 4592.3]), [0, 100])
    registry.build("stitchkit/hopper/medium-v0", "smoke", log=lambda *_: None)
    ev = Evaluator("stitchkit/hopper/medium-v0", ZScore(np.zeros(11), np.ones(11)), n_members=2, episodes=1)

    class Still(torch.nn.Module):
        def act(self, obs):
            return torch.zeros(*obs.shape[:-1], 3)

    out = ev(Still())
    assert np.allclose(out["d4rl_score"], d4rl.d4rl_score("hopper", out["return"]))
    assert not np.allclose(out["d4rl_score"], out["score"])  # the kit's own reference returns differ from D4RL's


def test_build_estimate_counts_missing_datasets_and_reference_episodes_once(data_root, monkeypatch):
    """What a notebook prints before building: the transitions still to collect (smoke: 2,000 per dataset, twice
    for medium-expert, plus 2 reference episodes of 1,000 steps once per env) times a probe's time per transition."""
    assert registry.estimate_build_seconds(["stitchkit/hopper/medium-v0"], "smoke") > 0  # the real probe
    monkeypatch.setattr(locomotion, "seconds_per_transition", lambda env: 1.0)
    est = lambda *ids: registry.estimate_build_seconds(list(ids), "smoke")
    assert est("stitchkit/hopper/medium-v0") == 4_000
    assert est("stitchkit/hopper/medium-v0", "stitchkit/hopper/medium-expert-v0") == 8_000
    registry.build("stitchkit/hopper/medium-v0", "smoke", log=lambda *_: None)  # also caches the reference scores
    assert est("stitchkit/hopper/medium-v0") == 0 and est("stitchkit/hopper/expert-v0") == 2_000


def test_the_evaluator_steps_only_unfinished_episodes_and_scores_as_lockstep_does(data_root, monkeypatch):
    """Episodes that ended stop stepping (issue 32: evaluation time); the returns equal those of lockstep stepping,
    where every environment steps (autoreset) until the last episode ends, for a policy whose episodes end at
    different steps."""
    import gymnasium as gym
    import torch

    from stitchkit.data.normalizers import ZScore
    from stitchkit.env_pool import seeded_globals
    from stitchkit.evaluate import Evaluator

    registry.build("stitchkit/hopper/medium-v0", "smoke", log=lambda *_: None)
    ev = Evaluator("stitchkit/hopper/medium-v0", ZScore(np.zeros(11), np.ones(11)), n_members=2, episodes=4, seed=3)
    w = torch.randn(2, 11, 3, generator=torch.Generator().manual_seed(0)) * torch.tensor([0.05, 0.5])[:, None, None]

    class Linear(torch.nn.Module):
        calls = 0

        def act(self, obs):
            Linear.calls += 1
            return torch.tanh(torch.einsum("seo,soa->sea", obs, w))

    steps, make = [], gym.make
    with monkeypatch.context() as m:
        m.setattr(env_pool, "_POOL", {})  # an empty pool: every env is made (and counted) here
        m.setattr(gym, "make", lambda *a, **k: _Counting(make(*a, **k), steps))
        out = ev(Linear())
    envs = gym.vector.SyncVectorEnv([lambda: gym.make(ev.spec) for _ in range(8)])
    with seeded_globals(3):
        for i, env in enumerate(envs.envs):
            env.action_space.seed(3 + i % 4)
        obs, _ = envs.reset(seed=[3 + i % 4 for i in range(8)])
    ret, active, lengths = np.zeros(8), np.ones(8, bool), np.zeros(8, int)
    while active.any():
        x = torch.as_tensor(ev.normalizer.normalize(obs)).float().reshape(2, 4, 11)
        a = torch.tanh(torch.einsum("seo,soa->sea", x, w))
        obs, r, term, trunc, _ = envs.step(a.reshape(8, 3).numpy())
        ret, lengths = ret + r * active, lengths + active
        active &= ~(term | trunc)
    assert np.array_equal(out["return"], ret.reshape(2, 4).mean(1))
    assert len(set(lengths)) > 1 and len(steps) == lengths.sum() < Linear.calls * 8  # finished envs did not step


def test_the_evaluator_reuses_its_environments_and_scores_as_fresh_ones_do(data_root, monkeypatch):
    """Issue 32: building a MuJoCo env costs ~10 ms, more than a short episode's stepping, so evaluators draw their
    envs from a per-process pool. A seeded reset re-initialises an env fully: a second evaluation on envs that
    meanwhile ran other episodes returns exactly what the first, on fresh envs, returned."""
    import torch

    from stitchkit.data.normalizers import ZScore
    from stitchkit.evaluate import Evaluator

    registry.build("stitchkit/hopper/medium-v0", "smoke", log=lambda *_: None)
    monkeypatch.setattr(env_pool, "_POOL", {})
    w = torch.randn(2, 11, 3, generator=torch.Generator().manual_seed(0)) * 0.3
    actor = type(
        "Linear", (torch.nn.Module,), {"act": lambda self, obs: torch.tanh(torch.einsum("seo,soa->sea", obs, w))}
    )()
    norm = ZScore(np.zeros(11), np.ones(11))
    ev = Evaluator("stitchkit/hopper/medium-v0", norm, n_members=2, episodes=3, seed=3)
    first = ev(actor)
    (pool,) = env_pool._POOL.values()
    made = list(pool)
    other = Evaluator("stitchkit/hopper/medium-v0", norm, n_members=2, episodes=3, seed=11)(actor)
    assert not np.array_equal(other["return"], first["return"])  # the envs really ran other episodes
    again = ev(actor)
    assert all(a is b for a, b in zip(env_pool._POOL[ev.spec.to_json()], made)) and len(made) == 6  # reused
    for key in first:
        assert np.array_equal(again[key], first[key]), key


@pytest.mark.parametrize("dataset", ["stitchkit/hopper/medium-v0", "stitchkit/pointmaze-medium/stitch-v0"])
def test_envs_split_over_worker_processes_give_the_same_episodes(data_root, monkeypatch, dataset):
    """Issue 32: with STITCHKIT_EVAL_WORKERS=3 the envs step in three processes at once (the GPU box's spare
    cores); every score equals stepping them here, on hopper (episodes of different lengths) and on the maze (whose
    reset draws from the global generator)."""
    import torch

    from stitchkit.data.normalizers import ZScore
    from stitchkit.evaluate import Evaluator, eval_workers

    registry.build(dataset, "smoke", log=lambda *_: None)
    d = 11 if "hopper" in dataset else 2
    w = torch.randn(2, d, 3 if d == 11 else 2, generator=torch.Generator().manual_seed(0))
    w = w * torch.tensor([0.05, 0.5])[:, None, None]  # member 0 stands longer than member 1

    class Linear(torch.nn.Module):
        def act(self, obs):
            return torch.tanh(torch.einsum("seo,soa->sea", obs, w))

    norm = ZScore(np.zeros(d), np.ones(d))
    here = Evaluator(dataset, norm, n_members=2, episodes=4, seed=5, workers=1)(Linear())
    monkeypatch.setenv("STITCHKIT_EVAL_WORKERS", "3")
    assert eval_workers() == 3
    ev = Evaluator(dataset, norm, n_members=2, episodes=4, seed=5)
    split = ev(Linear())
    assert ev.workers == 3 and len(env_pool._WORKERS) >= 3
    for key in here:
        assert np.array_equal(split[key], here[key]), key
    if "hopper" in dataset:
        assert not np.array_equal(here["return"][0], here["return"][1])  # the members' episodes really differ
    seeds = [5, 6, 7, 5, 6, 7]
    starts = env_pool.WorkerEnvs(ev.spec.to_json(), 6, 3).reset(seeds)
    assert np.array_equal(starts, env_pool.LocalEnvs(ev.spec.to_json(), 6).reset(seeds))
    assert np.array_equal(starts[:3], starts[3:]) and not np.array_equal(starts[0], starts[1])  # by seed alone
    monkeypatch.setenv("STITCHKIT_EVAL_WORKERS", "none")
    with pytest.raises(ValueError, match="STITCHKIT_EVAL_WORKERS='none': expected a whole number of worker processes"):
        eval_workers()


class _Counting(gymnasium.Wrapper):
    def __init__(self, env, log):
        super().__init__(env)
        self.log = log

    def step(self, action):
        self.log.append(1)
        return self.env.step(action)
