"""Why TD learning stitches (DiffStitch's Figure 1 (a)-(b)) on a grid, with known answers."""

import numpy as np
import pytest

from stitchkit import tabular


def test_bc_follows_the_majority_q_learning_stitches_and_the_unconstrained_max_overestimates():
    grid = tabular.Grid()
    data = tabular.crossing_data(grid)
    bc_path, bc_reached = tabular.rollout(grid, tabular.behaviour_cloning(data, grid.n_states))
    assert not bc_reached and bc_path[-1] == (grid.size - 1, 3)  # A's end: what most of the data did

    q = tabular.q_iteration(data, grid.n_states, gamma=0.9, backup="data")
    path, reached = tabular.rollout(grid, tabular.greedy(q, data))
    assert reached and (3, 3) in path and (3, 4) in path  # along A to the crossing, then up B: a stitch
    start, cross = grid.state(grid.start), grid.state((3, 3))
    assert q[start].max() == pytest.approx(0.9**5)  # five discounted steps before the goal's reward
    assert q[cross, tabular.ACTIONS.index("up")] > q[cross, tabular.ACTIONS.index("right")] == 0.0

    noisy = tabular.q_iteration(data, grid.n_states, gamma=0.9, backup="all", noise=1.0, seed=0)
    assert noisy[start].max() > 0.9**5 + 0.5  # the unseen actions' values, carried back by the max
    assert not tabular.rollout(grid, tabular.greedy(noisy))[1]
    # the same noise, backed up over the data's actions only, changes nothing the data holds
    guarded = tabular.q_iteration(data, grid.n_states, gamma=0.9, backup="data", noise=1.0, seed=0)
    for s, acts in tabular.seen_actions(data).items():
        assert np.allclose(guarded[s, sorted(acts)], q[s, sorted(acts)])
    assert tabular.rollout(grid, tabular.greedy(guarded, data))[1]


def test_a_bad_backup_name_is_refused():
    with pytest.raises(ValueError, match="'all' or 'data'"):
        tabular.q_iteration([], 4, backup="max")
