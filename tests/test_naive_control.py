"""Issue 28's controls for "is the model needed?": the same pairs glued naively (``augment naive``), and naive
chains kept by DiffStitch's filter (``augment chain --option keep=diffstitch``)."""

import numpy as np
import pytest

from stitchkit.augment import run as augment_run
from stitchkit.data import registry

MAZE = "stitchkit/pointmaze-medium/stitch-v0"
LOOSE = dict(d_min=1.0, end_delta=float("inf"), uncertainty_factor=float("inf"), return_filter=False)


def test_naive_glues_exactly_the_pairs_a_generative_method_stitched(data_root):
    bridged_id = registry.augmented_id(MAZE, "astro", "loose")
    made = augment_run("astro", MAZE, bridged_id, "smoke", log=lambda *_: None, **LOOSE)
    glued_id = registry.augmented_id(MAZE, "naive", "loose")
    summary = augment_run("naive", MAZE, glued_id, "smoke", log=lambda *_: None, pairs_from=bridged_id)
    bridged, glued = registry.load_episodes(bridged_id, "smoke"), registry.load_episodes(glued_id, "smoke")
    assert len(glued) == len(bridged) == made["accepted"] > 0 and summary["ratio"] == made["config"]["ratio"]
    for b, g in zip(bridged, glued):
        p, q = b.provenance, g.provenance
        assert (q.method, q.bridge_steps) == ("naive", 1) and p.bridge_steps > 1
        assert (q.source_episode, q.source_step, q.target_episode, q.target_step) == (
            p.source_episode,
            p.source_step,
            p.target_episode,
            p.target_step,
        )
        cut = p.source_step + 1  # the same source prefix and target suffix; only the joint differs
        assert np.array_equal(g.observations[:cut], b.observations[:cut])
        tail = len(b) - (p.source_step + p.bridge_steps)
        assert np.array_equal(g.observations[-tail - 1 :], b.observations[-tail - 1 :])
        assert len(g) == len(b) - p.bridge_steps + 1 and g.provenance.generated_mask(len(g)).sum() == 1
    with pytest.raises(ValueError, match="naive needs pairs_from"):
        augment_run("naive", MAZE, registry.augmented_id(MAZE, "naive", "none"), "smoke", log=lambda *_: None)
    with pytest.raises(ValueError, match="must be a diffstitch or astro dataset built from"):
        augment_run(
            "naive",
            "stitchkit/pointmaze-medium/stitch-1k-v0",
            registry.augmented_id("stitchkit/pointmaze-medium/stitch-1k-v0", "naive"),
            "smoke",
            log=lambda *_: None,
            pairs_from=bridged_id,
        )


def test_naive_chains_kept_by_diffstitch_are_exactly_the_chains_diffstitch_keeps(data_root):
    common = dict(near=3.0, delta=3.0, seed=0)  # a threshold that the smoke models' bridges pass in part
    ds = augment_run(
        "chain", MAZE, MAZE.replace("-v0", "-chain-ds-v0"), "smoke", log=lambda *_: None, joint="diffstitch", **common
    )
    kept = augment_run(
        "chain", MAZE, MAZE.replace("-v0", "-chain-kept-v0"), "smoke", log=lambda *_: None, keep="diffstitch", **common
    )
    assert 0 < ds["chains"] == kept["chains"] < ds["planned_chains"]  # the filter drops some, the same ones
    assert kept["joint_qualification_rate"] == ds["joint_qualification_rate"] and kept["kept_by"] == "diffstitch"
    a = registry.load_episodes(MAZE.replace("-v0", "-chain-ds-v0"), "smoke")
    b = registry.load_episodes(MAZE.replace("-v0", "-chain-kept-v0"), "smoke")
    for x, y in zip(a, b):
        frag = [p for p in x.provenance.pieces if p[0] == "fragment"]
        assert frag == [p for p in y.provenance.pieces if p[0] == "fragment"]
        assert [p for p in y.provenance.pieces if p[0] == "joint"] == [["joint", "naive", 1]] * (len(frag) - 1)


def test_a_blind_subset_matches_the_filters_size_per_joint_count():
    from stitchkit.augment.chains import blind_subset

    kept = np.array([True, False, True, True, False, False, True, False])
    n_joints = [2, 2, 2, 3, 3, 3, 4, 4]
    masks = [blind_subset(kept, n_joints, np.random.default_rng(s)) for s in range(20)]
    for m in masks:
        for n in (2, 3, 4):
            sel = np.asarray(n_joints) == n
            assert m[sel].sum() == kept[sel].sum()
    assert len({m.tobytes() for m in masks}) > 1  # drawn, not copied
    assert np.array_equal(blind_subset(kept, n_joints, np.random.default_rng(3)), masks[3])  # same seed, same draw
