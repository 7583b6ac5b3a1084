"""D4RL's medium-replay recipe: a SAC run recorded transition by transition, resumed bit for bit, published at a
stopping step, replayed exactly, and cut by return rank without losing the return distribution."""

import numpy as np
import pytest

from stitchkit.data import replay
from stitchkit.data.episodes import Episode
from stitchkit.data.registry import DatasetError, parse_id
from stitchkit.data.subsample import best_episodes, by_return, by_return_indices


@pytest.fixture
def replays(tmp_path, monkeypatch):
    monkeypatch.setenv("STITCHKIT_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("STITCHKIT_REPLAYS", str(tmp_path / "replays"))
    return tmp_path


def _record(steps: int) -> dict:
    quiet = lambda *_: None
    replay.record("hopper", steps, seed=0, checkpoint_every=500, eval_every=500, eval_episodes=1, log=quiet)
    return replay.run_recording("hopper")


def test_a_killed_recording_resumes_bit_for_bit_and_publishes_what_replays(replays, monkeypatch):
    # past LEARNING_STARTS, so the resumed run carries networks, optimisers, buffer and random states over
    first = _record(replay.LEARNING_STARTS + 150)
    resumed = _record(replay.LEARNING_STARTS + 400)
    assert len(resumed["seeds"]) > len(first["seeds"])
    np.testing.assert_array_equal(resumed["lengths"][: len(first["lengths"])], first["lengths"])

    monkeypatch.setenv("STITCHKIT_REPLAYS", str(replays / "again"))
    monkeypatch.setenv("STITCHKIT_DATA", str(replays / "data-again"))
    straight = _record(replay.LEARNING_STARTS + 400)
    for key in resumed:
        np.testing.assert_array_equal(resumed[key], straight[key], err_msg=key)

    stop = int(straight["steps_at_end"][-3])  # a stop between episodes keeps the episodes that ended by then
    card = replay.publish("hopper", stop, rule="a test")
    assert card["stats"]["episodes"] == len(straight["seeds"]) - 2
    assert card["stats"]["transitions"] == int(straight["lengths"][:-2].sum())
    episodes, out = replay.replay("hopper")
    assert out["replayed_exactly"] and out["replayed_returns_match"]
    np.testing.assert_allclose([e.rewards.sum() for e in episodes], straight["returns"][:-2])
    assert all(e.terminations[-1] or e.truncations[-1] for e in episodes)

    part, out = replay.replay("hopper", budget=card["stats"]["transitions"] // 3, seed=0)
    assert out["replayed_returns_match"] and "subsample" in out
    assert sum(len(e) for e in part) >= card["stats"]["transitions"] // 3
    assert len(part) < len(episodes)


def test_an_unpublished_recording_is_a_clear_error(replays):
    with pytest.raises(FileNotFoundError, match="record-replay hopper"):
        replay.replay("hopper")


def test_prefix_statistics_and_misses_known_answer():
    rec = {
        "lengths": np.array([10, 20, 30]),
        "returns": np.array([-20.272305, 3234.3, 1607.0138475]),  # D4RL's 0, 100 and 50 on hopper
        "steps_at_end": np.array([10, 30, 60]),
    }
    rows = replay.prefix_stats(rec, "hopper", [29, 30, 100])
    assert [r["episodes"] for r in rows] == [1, 2, 3]
    assert [r["transitions"] for r in rows] == [10, 30, 60]
    assert rows[2]["d4rl_mean"] == pytest.approx(50.0) and rows[2]["d4rl_best"] == pytest.approx(100.0)
    near = {"transitions": 402_000 * 1.3, "episodes": 2_041 * 0.7, "d4rl_mean": 19.0, "d4rl_best": 108.0}
    assert replay.misses(near, "hopper") == []
    far = {**near, "episodes": 2_041 * 0.6, "d4rl_mean": 21.0}
    assert [m.split()[0] for m in replay.misses(far, "hopper")] == ["episodes", "d4rl_mean"]


def _episodes(returns, lengths):
    out = []
    for r, n in zip(returns, lengths):
        rew = np.full(n, r / n)
        out.append(
            Episode(np.zeros((n + 1, 2)), np.zeros((n, 1), np.float32), rew, np.zeros(n, bool), np.zeros(n, bool))
        )
    return out


def test_a_cut_by_return_rank_keeps_the_return_distribution_and_the_best_episodes():
    rng = np.random.default_rng(0)
    returns = rng.lognormal(3, 1.2, 2000)  # a long right tail, as a replay buffer's returns
    lengths = rng.integers(10, 400, 2000)
    keep = by_return_indices(returns, lengths, int(lengths.sum()) // 4, seed=0)
    assert lengths[keep].sum() >= lengths.sum() // 4
    assert keep == sorted(keep) and keep == by_return_indices(returns, lengths, int(lengths.sum()) // 4, seed=0)
    for q in (0.1, 0.5, 0.9, 0.99):
        assert np.quantile(returns[keep], q) == pytest.approx(np.quantile(returns, q), rel=0.1)
    top = np.sort(returns)[-20:]
    assert np.isin(top, returns[keep]).sum() >= 4  # a quarter of the top 20 at evenly spaced ranks
    assert by_return_indices(returns, lengths, int(lengths.sum()), seed=0) == list(range(2000))
    eps = _episodes(returns[:50], lengths[:50])
    assert [e.ret for e in by_return(eps, 10**9, 0)] == [e.ret for e in eps]
    assert (
        len(best_episodes(eps, 0.1)) == 5 and min(e.ret for e in best_episodes(eps, 0.1)) >= np.sort(returns[:50])[-5]
    )


def test_top_percent_ids():
    recipe = parse_id("stitchkit/hopper/medium-replay-top10-v0")
    assert (recipe.kind, recipe.name, recipe.top, recipe.parent) == (
        "subsample",
        "medium-replay",
        10,
        "stitchkit/hopper/medium-replay-v0",
    )
    for bad in ("stitchkit/hopper/medium-replay-top0-v0", "stitchkit/hopper/medium-replay-top101-v0"):
        with pytest.raises(DatasetError, match="best P percent"):
            parse_id(bad)


def test_the_stop_nearest_d4rls_statistics_known_answer():
    # 2,100 hopper episodes of 200 steps: the first 2,000 return D4RL's 15.0, then one of 98.7, then 99 of 15.0
    low, high = -20.272305, 3234.3
    raw = lambda score: low + score / 100 * (high - low)
    returns = np.array([raw(15.0)] * 2000 + [raw(98.7)] + [raw(15.0)] * 99)
    lengths = np.full(2100, 200)
    rec = {"returns": returns, "lengths": lengths, "steps_at_end": np.cumsum(lengths)}
    assert (
        replay.worst_miss({"transitions": 402_000, "episodes": 2041, "d4rl_mean": 15.0, "d4rl_best": 98.7}, "hopper")
        == 0
    )
    stop, miss = replay.choose_stop(rec, "hopper", every=200)
    # the best episode ends at 400,200; past it, transitions and episode count pull the stop apart and meet near 405k
    assert 400_200 <= stop <= 408_200 and miss < 0.05
    evals = [{"step": 10_000, "mean_return": 900.0}, {"step": 20_000, "mean_return": 1_100.0}]
    assert replay.medium_reached(evals, "hopper") == 20_000  # a third of D4RL's expert 3,234.3 is 1,078.1
    assert replay.medium_reached(evals[:1], "hopper") is None


def test_rlkits_loop_cuts_paths_at_each_loop_and_resumes_bit_for_bit(replays, monkeypatch):
    quiet = lambda *_: None
    loop = 300  # rlkit's is 1,000; no training in the first two loops, as rlkit's
    kw = dict(seed=0, checkpoint_every=loop, eval_every=loop, eval_episodes=1, log=quiet, schedule="rlkit", loop=loop)
    replay.record("hopper", 3 * loop, **kw)  # one training loop, then a checkpoint
    replay.record("hopper", 5 * loop, **kw)
    resumed = replay.run_recording("hopper", schedule="rlkit")
    monkeypatch.setenv("STITCHKIT_REPLAYS", str(replays / "again"))
    monkeypatch.setenv("STITCHKIT_DATA", str(replays / "data-again"))
    replay.record("hopper", 5 * loop, **kw)
    straight = replay.run_recording("hopper", schedule="rlkit")
    for key in resumed:
        np.testing.assert_array_equal(resumed[key], straight[key], err_msg=key)
    ends = straight["steps_at_end"]
    assert int(ends[-1]) == 5 * loop and set(range(loop, 5 * loop + 1, loop)) <= set(ends.tolist())
    cut = ~straight["terminated"] & (straight["lengths"] < 1000)
    assert cut.any()  # some path was cut by its loop, not ended by the environment
    episodes = replay._replay_arrays("hopper", straight)
    assert all(e.truncations[-1] for e, c in zip(episodes, cut) if c)  # a cut path ends in a timeout
