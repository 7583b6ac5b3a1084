"""The benchmark's statistics on known answers: IQM, probability of improvement, bootstrap intervals, marks."""

import numpy as np
import pytest

from stitchkit import stats


def test_iqm_known_answers():
    assert stats.iqm(np.arange(1, 9)) == pytest.approx(4.5)  # middle four of 1..8
    assert stats.iqm([5.0, 5.0, 5.0, 1000.0]) == pytest.approx(5.0)  # one wild seed does not move it
    x = np.random.default_rng(0).normal(size=10)  # 10 runs: the cut falls inside a run, counted fractionally
    s = np.sort(x)
    assert stats.iqm(x) == pytest.approx((0.5 * s[2] + s[3:7].sum() + 0.5 * s[7]) / 5)


def test_probability_of_improvement_known_answers():
    assert stats.probability_of_improvement({"t": [2.0, 3.0]}, {"t": [1.0, 2.0]}) == pytest.approx(0.875)
    x, y = {"a": [1.0, 1.0], "b": [9.0]}, {"a": [2.0], "b": [0.0], "c": [5.0]}
    assert stats.probability_of_improvement(x, y) == pytest.approx(0.5)  # task a: 0, task b: 1; c not shared
    assert stats.probability_of_improvement(x, x) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="no common task"):
        stats.probability_of_improvement({"a": [1.0]}, {"b": [1.0]})


def test_bootstrap_intervals_bracket_the_estimate_and_shrink_with_runs():
    rng = np.random.default_rng(1)
    few = {"t1": rng.normal(10, 2, 3), "t2": rng.normal(20, 2, 3)}
    many = {"t1": rng.normal(10, 2, 60), "t2": rng.normal(20, 2, 60)}
    p, lo, hi = stats.iqm_ci(few, reps=500)
    assert lo <= p <= hi
    assert stats.iqm_ci(few, reps=500) == (p, lo, hi)  # same seed, same interval
    _, lo2, hi2 = stats.iqm_ci(many, reps=500)
    assert hi2 - lo2 < hi - lo
    better = {t: v + 5 for t, v in many.items()}
    p, lo, hi = stats.improvement_ci(better, many, reps=300)
    assert lo > 0.5 and p > 0.85


def test_rank_marks():
    assert stats.rank_marks([1.0, 3.0, 2.0, float("nan")]) == ["", "best", "second", ""]
    assert stats.rank_marks([3.0, 3.0, 1.0]) == ["best", "best", "second"]
    assert stats.rank_marks([1.0, 3.0], higher_is_better=False) == ["best", "second"]
    assert stats.rank_marks([0.0, 0.0, 0.0]) == ["", "", ""]


def test_seeds_needed_known_answers_and_a_simulated_campaign_that_shows_the_effect():
    # (1.96 + 0.84)^2 * (1 + 1) / 14.8^2 = 0.07: a floor of 2 seeds; (100 + 100) / 5^2 * 7.85 = 62.8 -> 63
    assert stats.seeds_needed([20.0, 21.0, 22.0], [20.0, 21.0, 22.0], 14.8) == 2
    assert stats.seeds_needed([0.0, 10.0, 20.0], [0.0, 10.0, 20.0], 5.0) == 63
    assert stats.seeds_needed([0.0, 10.0, 20.0], [0.0, 10.0, 20.0], -5.0) == 63  # the sign does not matter
    with pytest.raises(ValueError, match="effect size"):
        stats.seeds_needed([1.0, 2.0], [1.0, 2.0], 0.0)
    # the promise: at that many seeds, a true difference of that size shows in about 80% of campaigns
    rng = np.random.default_rng(0)
    n = stats.seeds_needed([0.0, 10.0, 20.0], [0.0, 10.0, 20.0], 5.0)
    shown = [stats.difference_ci(rng.normal(5.0, 10.0, n), rng.normal(0.0, 10.0, n))[1] > 0 for _ in range(400)]
    assert 0.72 < np.mean(shown) < 0.88
