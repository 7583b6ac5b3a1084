"""The toy stitching world of notebook 00: known answers on hand-built worlds, invariants on random ones."""

import numpy as np

from stitchkit import toy


def _line(a, b, n=10):
    return np.linspace(a, b, n)


def _world(*frags):
    return toy.ToyWorld(np.stack(frags), np.array([0.0, 0.0]), np.array([1.0, 1.0]))


def test_two_halves_need_exactly_one_stitch():
    world = _world(_line([0, 0], [0.5, 0.5]), _line([0.5, 0.5], [1, 1]))
    assert not toy.single_fragment_connects(world, 0.01)
    path = toy.stitched_path(world, 0.01)
    assert path is not None and path.n_stitches == 1
    assert path.nodes[0] == (0, 0) and path.nodes[-1] == (1, 9)


def test_time_runs_forward_only():
    """The second half driven backwards (G to the middle) cannot be followed from the middle to G."""
    world = _world(_line([0, 0], [0.5, 0.5]), _line([1, 1], [0.5, 0.5]))
    assert toy.stitched_path(world, 0.01) is None


def test_one_fragment_alone_needs_no_stitch():
    world = _world(_line([0, 0], [1, 1]), _line([1, 0], [0, 1]))
    assert toy.single_fragment_connects(world, 0.01)
    assert toy.stitched_path(world, 0.01).n_stitches == 0


def test_random_worlds_agree_and_are_seed_stable():
    for seed in range(5):
        world = toy.make_world(30, 15, seed=seed)
        path = toy.stitched_path(world, 0.1)
        assert toy.single_fragment_connects(world, 0.1) == (path is not None and path.n_stitches == 0)
        if path is not None:  # every hop is a step along a fragment or a stitch within the radius
            for (f, t), (g, u) in zip(path.nodes, path.nodes[1:]):
                gap = np.linalg.norm(world.fragments[f, t] - world.fragments[g, u])
                assert (f == g and u == t + 1) or (f != g and gap <= 0.1)
    a = toy.stitching_gain(20, 60, 20, 0.08, seed=1)
    assert a == toy.stitching_gain(20, 60, 20, 0.08, seed=1)
    assert a["single_fragment_rate"] < a["stitched_rate"]  # the effect the tour shows
