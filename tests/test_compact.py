"""The compact form of a bridge method's generated data (augment/compact.py): written from saved stitched episodes,
rebuilt from the parent to the same content (fingerprint), x positions and provenance; what it refuses."""

import numpy as np
import pytest

from stitchkit.augment import compact
from stitchkit.augment.bridges import Bridge, assemble
from stitchkit.data import registry
from stitchkit.data.validate import content_hash

HOPPER = "stitchkit/hopper/medium-replay-v0"


@pytest.fixture(scope="module")
def stitched():
    """A smoke hopper parent and 6 stitched episodes over it, as a bridge method saves them (random bridges)."""
    parent = registry.load_episodes(HOPPER, "smoke", build_missing=True, log=lambda *_: None)
    rng = np.random.default_rng(0)
    out = []
    for k in range(6):
        e, e2 = rng.integers(len(parent), size=2)
        t, t2 = int(rng.integers(len(parent[e].actions))), int(rng.integers(len(parent[e2].actions)))
        n = int(rng.integers(2, 9))
        states = rng.normal(size=(n + 1, parent[0].observations.shape[1])).astype(np.float32)
        states[0], states[-1] = parent[e].observations[t], parent[e2].observations[t2] + 0.01  # a generated end
        b = Bridge((int(e), t), (int(e2), t2), n, states, rng.normal(size=(n, 3)).astype(np.float32),
                   rng.normal(size=n).astype(np.float32), 0.1, False, True, True)  # fmt: skip
        out.append(assemble("hopper", parent, b, 100 + k, "diffstitch"))
    return parent, out


def test_the_compact_file_rebuilds_the_generated_episodes_exactly(stitched, tmp_path):
    parent, eps = stitched
    path = compact.write(tmp_path / "stage.npz", compact.pack(eps, {"id": "x", "seed": 0}))
    assert compact.meta(path) == {"id": "x", "seed": 0}
    again = compact.read(path, parent, "hopper")
    assert content_hash(again) == content_hash(eps)  # what a dataset's fingerprint is made of
    for a, b in zip(again, eps):
        assert a.id == b.id and a.provenance == b.provenance
        np.testing.assert_allclose(a.infos["x_position"], b.infos["x_position"], rtol=0, atol=1e-9)
    # only the bridges are stored: far smaller than the episodes
    stored = sum(v.nbytes for v in np.load(path).values())
    assert stored < sum(e.observations.nbytes + e.actions.nbytes for e in eps) / 2


def test_what_a_compact_file_refuses(stitched, tmp_path):
    parent, eps = stitched
    assert compact.compactable(eps) and not compact.compactable(parent) and not compact.compactable([])
    with pytest.raises(compact.CompactError, match="only a bridge method's stitched episodes"):
        compact.pack(parent[:2], {})
    arrays = compact.pack(eps, {})
    with pytest.raises(compact.CompactError, match="is not in the parent's 1 episodes"):
        compact.unpack(arrays, parent[-1:], "hopper")
    assert compact.meta(tmp_path / "missing.npz") is None
