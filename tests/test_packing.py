"""Many short episodes (SER's transitions, TATU's rollouts) are written as a few long Minari episodes and read back
exactly: same arrays, flags, infos, provenance and ids, and the same content hash."""

import h5py
import numpy as np

from stitchkit.data import packing, registry
from stitchkit.data.episodes import Episode, Provenance
from stitchkit.data.validate import content_hash


def short_episodes(n: int, seed: int = 0) -> list[Episode]:
    """Rollouts of 1-5 steps, some ending terminal, each with its own provenance and an x_position info."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        k = int(rng.integers(1, 6))
        term = np.zeros(k, bool)
        term[-1] = rng.random() < 0.3
        out.append(
            Episode(
                rng.normal(size=(k + 1, 11)),
                rng.uniform(-1, 1, (k, 3)).astype(np.float32),
                rng.normal(size=k).astype(np.float32),
                term,
                np.r_[np.zeros(k - 1, bool), not term[-1]],
                {"x_position": rng.normal(size=k + 1)},
                Provenance(kind="rollout", method="tatu", source_episode=i % 7, source_step=i % 13),
                id=i,
            )
        )
    return out


def test_pack_then_unpack_is_the_identity():
    eps = short_episodes(300)
    packs = packing.pack(eps)
    assert len(packs) < len(eps) and sum(len(p.observations) for p in packs) == sum(len(e.observations) for e in eps)
    seams = sum(len(p) for p in packs) - sum(len(e) for e in eps)
    assert seams == len(eps) - len(packs)  # one seam step between neighbours inside a pack
    back = packing.unpack(packs, [e.provenance.to_json() for e in eps])
    assert content_hash(back) == content_hash(eps)
    for a, b in zip(eps, back, strict=True):
        assert a.id == b.id and a.provenance == b.provenance
        for f in ("observations", "actions", "rewards", "terminations", "truncations"):
            np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
        np.testing.assert_array_equal(a.infos["x_position"], b.infos["x_position"])


def test_a_bag_of_transitions_round_trips_through_minari_in_few_episodes(data_root):
    name = "user/hopper-rollouts-v0"
    eps = short_episodes(packing.MIN_EPISODES + 200, seed=1)
    assert packing.worth_packing(eps) and not packing.worth_packing(eps[: packing.MIN_EPISODES - 1])
    path = registry.write_dataset(name, eps, "Hopper-v5", stitchkit_meta={"profile": "smoke"})
    with h5py.File(path / "data" / "main_data.hdf5", "r") as f:
        stored = len([k for k in f if k.startswith("episode_")])
    assert stored == len(packing.pack(eps)) < 10  # a few long episodes, not 1,200 groups
    back = registry.load_episodes(name, "smoke")
    assert len(back) == len(eps) and content_hash(back) == content_hash(eps)
    assert [e.provenance for e in back] == [e.provenance for e in eps]
    np.testing.assert_array_equal(back[17].infos["x_position"], eps[17].infos["x_position"])
    assert registry.info(name, "smoke")["episodes"] == len(eps)


def test_one_shared_provenance_is_stored_once():
    same = [Provenance(kind="synthetic", method="ser").to_json()] * 5
    assert packing.compress_provenance(same) == {"all": same[0], "count": 5}
    assert packing.provenance_list(packing.compress_provenance(same)) == same
    mixed = [*same, Provenance().to_json()]
    assert packing.provenance_list(packing.compress_provenance(mixed)) == mixed
