"""Episodes, windows, samplers, normalizers and subsampling: the in-memory data every method shares."""

import numpy as np
import pytest

from stitchkit.data.episodes import Episode, Provenance, transitions, window_starts, windows
from stitchkit.data.normalizers import EmpiricalCDF, ZScore
from stitchkit.data.samplers import MixedSampler, TransitionSampler, WindowSampler, gather
from stitchkit.data.subsample import corl_segments, subsample_episodes, top_share


def make_episode(n, ep_id=0, obs_dim=3, act_dim=2, offset=0.0):
    obs = offset + ep_id * 1000 + np.arange(n + 1, dtype=float)[:, None] * np.ones(obs_dim)
    return Episode(
        obs,
        np.full((n, act_dim), ep_id, float),
        np.ones(n),
        np.zeros(n, bool),
        np.r_[np.zeros(n - 1, bool), True],
        id=ep_id,
    )


EPS = [make_episode(n, i) for i, n in enumerate([5, 12, 3, 20])]


def test_episode_shapes_are_checked():
    with pytest.raises(ValueError, match="N\\+1 observations"):
        Episode(np.zeros((5, 2)), np.zeros((5, 1)), np.zeros(5), np.zeros(5, bool), np.zeros(5, bool))
    with pytest.raises(ValueError, match="info 'x_position'"):
        Episode(
            np.zeros((3, 2)),
            np.zeros((2, 1)),
            np.zeros(2),
            np.zeros(2, bool),
            np.zeros(2, bool),
            infos={"x_position": np.zeros(2)},
        )


def test_provenance_round_trip():
    p = Provenance("stitched", "diffstitch", 3, 10, 7, 0)
    assert Provenance.from_json(p.to_json()) == p


def test_transitions_follow_episodes():
    t = transitions(EPS)
    assert len(t["actions"]) == 40
    assert np.array_equal(
        t["next_observations"][:-1][t["episode"][:-1] == t["episode"][1:]],
        t["observations"][1:][t["episode"][:-1] == t["episode"][1:]],
    )
    assert t["timeouts"].sum() == 4 and t["terminals"].sum() == 0


def test_windows_never_cross_episodes_without_padding():
    starts = window_starts(EPS, 5)
    assert set(starts[:, 0]) == {0, 1, 3}  # episode 2 (3 steps) is too short
    w = windows(EPS, starts, 5)
    ep_of_obs = w["observations"][..., 0] // 1000
    assert (ep_of_obs == starts[:, :1]).all() and (w["mask"] == 1).all()
    assert np.array_equal(w["observations"][:, 0, 0] % 1000, starts[:, 1])


def test_windows_pad_with_zeros_and_mask_when_asked():
    starts = window_starts(EPS, 5, pad=True)
    assert len(starts) == sum(len(e) for e in EPS)
    w = windows(EPS, starts, 5)
    row = np.flatnonzero((starts[:, 0] == 2) & (starts[:, 1] == 1))[0]  # episode 2, step 1: 2 real steps
    assert w["mask"][row].tolist() == [1, 1, 0, 0, 0]
    assert (w["actions"][row, 2:] == 0).all() and (w["observations"][row, 3:] == 0).all()
    sampler = WindowSampler(EPS, 5, seed=0, pad=True)
    batch = sampler.sample(64)
    assert (
        batch["mask"].sum(1) == np.minimum(5, [len(EPS[e]) - s for e, s in zip(batch["episode"], batch["start"])])
    ).all()
    with pytest.raises(ValueError, match="pad=True"):
        WindowSampler(EPS, 50, seed=0)


def test_seeds_sharing_one_copy_of_the_episodes_draw_each_seeds_own_windows():
    """Issue 32: a batched run's seeds share one gathered copy of the data and are gathered in one pass (three
    times faster at 8 seeds x 4096 DT windows); each seed's windows equal its own sampler's, draw for draw."""
    own = [WindowSampler(EPS, 5, seed=np.random.default_rng([s, 7]), pad=True) for s in (0, 1, 2)]
    first = WindowSampler(EPS, 5, seed=np.random.default_rng([0, 7]), pad=True)
    shared = [first] + [first.sharing(np.random.default_rng([s, 7])) for s in (1, 2)]
    assert all(x.flat is first.flat for x in shared)
    for _ in range(3):  # consecutive batches: the generators advance as before
        together = gather(shared, 16)
        alone = [x.sample(16) for x in own]
        for k, v in together.items():
            assert v.shape[:2] == (3, 16)
            assert np.array_equal(v, np.stack([a[k] for a in alone])), k
    assert not np.array_equal(together["observations"][0], together["observations"][1])
    with pytest.raises(ValueError, match="share their episodes"):
        gather([first, own[1]], 4)


def test_mixed_sampler_honours_ratio_exactly():
    orig, aug = transitions(EPS[:2]), transitions(EPS[2:])
    for r, b in [(1.0, 256), (4.0, 250), (0.25, 100), (3.0, 7)]:
        batch = MixedSampler(orig, aug, r, seed=0).sample(b)
        n_aug = int(batch["augmented"].sum())
        assert len(batch["actions"]) == b
        assert (b - n_aug) == round(b * r / (r + 1))
        from_aug = np.isin(batch["observations"][:, 0] // 1000, [2, 3])
        assert np.array_equal(from_aug, batch["augmented"] == 1)
    assert MixedSampler(orig, None, 1.0, seed=0).sample(10)["augmented"].sum() == 0
    with pytest.raises(ValueError, match="ratio"):
        MixedSampler(orig, aug, 0.0, seed=0)


def test_samplers_are_seed_stable():
    t = transitions(EPS)
    a, b = TransitionSampler(t, 5).sample(32), TransitionSampler(t, 5).sample(32)
    assert all(np.array_equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("norm", [ZScore, EmpiricalCDF])
def test_normalizers_round_trip(norm):
    rng = np.random.default_rng(0)
    x = np.c_[rng.normal(3, 10, 5000), rng.exponential(1, 5000), np.full(5000, 2.5), rng.integers(0, 3, 5000)]
    n = norm.fit(x)
    y = n.normalize(x)
    assert np.allclose(n.unnormalize(y), x, atol=1e-4 * np.abs(x).max())
    if norm is EmpiricalCDF:
        assert y.min() >= -1 and y.max() <= 1
        assert abs(np.median(y[:, 0])) < 0.01  # the CDF puts the median at 0
        assert (y[:, 2] == 0).all()  # a constant dimension maps to 0
    else:
        assert np.allclose(y[:, 0].mean(), 0, atol=1e-6)


def test_cdf_knot_cap_keeps_round_trip():
    x = np.random.default_rng(1).normal(size=(20000, 2))
    n = EmpiricalCDF.fit(x, max_knots=101)
    assert len(n.knots_x[0]) <= 101
    inside = x[
        (x > n.knots_x[0][0]).all(1)
        & (x < n.knots_x[0][-1]).all(1)
        & (x[:, 1:] > n.knots_x[1][0]).all(1)
        & (x[:, 1:] < n.knots_x[1][-1]).all(1)
    ]
    assert np.allclose(n.unnormalize(n.normalize(inside)), inside, atol=1e-4)


def test_subsample_whole_trajectories_budget_and_seed():
    eps = [make_episode(n, i) for i, n in enumerate(np.random.default_rng(0).integers(5, 50, 200))]
    ids = {id(e) for e in eps}
    small = subsample_episodes(eps, seed=111, budget=1000)
    steps = sum(len(e) for e in small)
    assert 1000 <= steps < 1000 + 49  # budget met; overshoot below one episode (episodes are < 50 steps)
    assert all(id(e) in ids for e in small)  # whole episodes, untouched
    assert [e.id for e in small] == sorted(e.id for e in small)
    assert [e.id for e in small] == [e.id for e in subsample_episodes(eps, seed=111, budget=1000)]
    assert [e.id for e in small] != [e.id for e in subsample_episodes(eps, seed=112, budget=1000)]
    assert len(subsample_episodes(eps, seed=0, ratio=40)) == 5
    with pytest.raises(ValueError, match="exactly one"):
        subsample_episodes(eps, seed=0)


def test_corl_segments_join_cut_episodes_and_drop_time_limit_steps():
    def ep(rewards, end):  # end: "fall" (terminated) or "cut" (time limit / the buffer's loop end)
        n = len(rewards)
        last = np.r_[np.zeros(n - 1, bool), True]
        return Episode(
            np.zeros((n + 1, 1)),
            np.zeros((n, 1)),
            np.array(rewards, float),
            last if end == "fall" else np.zeros(n, bool),
            last if end == "cut" else np.zeros(n, bool),
        )

    eps = [ep([1, 1, 1], "cut"), ep([2, 2], "fall"), ep([5, 5, 5, 5], "cut"), ep([1] * 6, "fall"), ep([9, 9], "cut")]
    # the cut episode's last step is dropped and the rest joins the next one up to its fall: 1+1 then 2+2 = 6, 4
    # steps; then 5+5+5 joined to the six 1s, cut at max_len 5: (15 + 1 + 1, 5), the remaining four 1s end with the
    # fall: (4, 4); the last 9 is an unfinished run and is dropped, as CORL drops it
    assert corl_segments(eps, max_len=5) == [(6.0, 4), (17.0, 5), (4.0, 4)]
    share = top_share(eps, 0.4)  # two of five episodes; at CORL's max_len 1000 one of two segments, (6, 4), (21, 9)
    assert share["episodes (kit)"]["kept"] == 2 and share["episodes (kit)"]["transitions"] == 6  # 5x4 and 9x2
    assert share["segments (CORL)"] == {"kept": 1, "transitions": 9, "per_step": 21 / 9}


def test_window_gather_matches_a_step_by_step_reading():
    starts = window_starts(EPS, 6, pad=True)
    w = windows(EPS, starts, 6)
    for row, (e, s) in enumerate(starts):
        ep = EPS[e]
        n = min(6, len(ep) - s)
        assert np.array_equal(w["actions"][row, :n], ep.actions[s : s + n])
        assert np.array_equal(w["observations"][row, : n + 1], ep.observations[s : s + n + 1])
        assert np.allclose(w["returns_to_go"][row, :n], [ep.rewards[k:].sum() for k in range(s, s + n)])
        assert (w["returns_to_go"][row, n:] == 0).all() and w["timesteps"][row, 0] == s
