"""Datasets are validated on load and before every write (issue 30): a NaN, an infinity or an action outside the
action space is a one-line error naming the dataset, the field, the episode and the step - and nothing invalid is
written."""

import h5py
import numpy as np
import pytest

from stitchkit.data import registry
from stitchkit.data.episodes import Episode
from stitchkit.data.validate import InvalidDataError, check_episodes


def episode(n=5, obs_dim=3, act_dim=2, seed=0) -> Episode:
    rng = np.random.default_rng(seed)
    return Episode(
        rng.normal(size=(n + 1, obs_dim)),
        rng.uniform(-1, 1, (n, act_dim)),
        rng.normal(size=n),
        np.zeros(n, bool),
        np.r_[np.zeros(n - 1, bool), True],
    )


@pytest.mark.parametrize(
    "field, index, value, message",
    [
        ("rewards", (3,), np.nan, "rewards holds NaN at episode 1, step 3"),
        ("observations", (2, 1), np.inf, "observations holds an infinity at episode 1, step 2"),
        ("actions", (4, 0), -np.inf, "actions holds an infinity at episode 1, step 4"),
        ("actions", (1, 1), 1.5, r"actions leave the action space \[-1, 1\] at episode 1, step 1 \(value 1.5\)"),
    ],
)
def test_the_first_bad_value_is_named_by_field_episode_and_step(field, index, value, message):
    eps = [episode(seed=0), episode(seed=1)]
    getattr(eps[1], field)[index] = value
    with pytest.raises(InvalidDataError, match=f"^my/data-v0: {message}; rebuild it$"):
        check_episodes("my/data-v0", eps, -1.0, 1.0, fix="rebuild it")
    check_episodes("my/data-v0", [episode(seed=0), episode(seed=1)], -1.0, 1.0)  # clean data passes


def test_widths_must_agree_across_episodes():
    with pytest.raises(InvalidDataError, match="episode 1 has observations \\(4,\\)"):
        check_episodes("my/data-v0", [episode(obs_dim=3), episode(obs_dim=4)])


def test_nothing_invalid_is_written_and_an_edited_file_fails_on_load(data_root):
    name = "user/hopper-edited-v0"  # a user's own Minari dataset
    good = [episode(obs_dim=11, act_dim=3, seed=s) for s in range(3)]
    bad = [episode(obs_dim=11, act_dim=3, seed=s) for s in range(3)]
    bad[2].rewards[1] = np.nan
    with pytest.raises(registry.DatasetError, match="rewards holds NaN at episode 2, step 1; nothing was written"):
        registry.write_dataset(name, bad, "Hopper-v5", stitchkit_meta={"profile": "smoke"})
    assert not registry.dataset_dir(name).exists()
    path = registry.write_dataset(name, good, "Hopper-v5", stitchkit_meta={"profile": "smoke"})
    assert len(registry.load_episodes(name, "smoke")) == 3
    with h5py.File(path / "data" / "main_data.hdf5", "r+") as f:  # one value changed by hand
        f["episode_1"]["rewards"][2] = np.nan
    fix = "fix or re-download the dataset"
    with pytest.raises(registry.DatasetError, match=f"{name}: rewards holds NaN at episode 1, step 2; {fix}"):
        registry.load_episodes(name, "smoke")


def test_an_edited_dataset_gets_a_new_fingerprint_so_its_old_runs_are_not_reused(data_root):
    from stitchkit.train import run

    maze = "stitchkit/pointmaze-medium/stitch-1k-v0"  # a kit dataset, built here with its content hash
    first = run("gcbc", maze, seeds=1, profile="smoke", progress=False, build_missing=True, steps=20)
    assert run("gcbc", maze, seeds=1, profile="smoke", progress=False, steps=20)["run_dir"] == first["run_dir"]
    before = registry.fingerprint(maze)
    path = registry.dataset_dir(maze) / "data" / "main_data.hdf5"
    with h5py.File(path, "r+") as f:  # one finite value changed by hand: valid, but not what was trained on
        f["episode_0"]["rewards"][0] = f["episode_0"]["rewards"][0] + 1.0
    logged = []
    registry.load_episodes(maze, "smoke", log=logged.append)
    assert "contents changed since it was written" in logged[0] and registry.fingerprint(maze) != before
    again = run("gcbc", maze, seeds=1, profile="smoke", progress=False, steps=20)
    assert again["run_dir"] != first["run_dir"]  # a new run, not the cached one


def test_a_rebuild_that_only_took_longer_keeps_its_fingerprint_and_other_contents_do_not(monkeypatch):
    """Two AMD builds of campaign-d4rl's TATU data were the same data (same oracle errors, rewards and actions) with
    two fingerprints, because the generator's summary records its own timings at several depths. Timings are left
    out; the contents' hash and the summary's counts are not."""
    import copy

    built = {
        "stitchkit": {
            "recipe": "augmented",
            "content_hash": "87fcdbc187fec0aa",
            "build_seconds": 101.7,
            "complete": True,
            "augment": {
                "iterations": 33,
                "seconds": 63.35,
                "accepted_transitions_per_s": 11681.6,
                "total_seconds": 1775.2,
            },
        },
        "total_steps": 740000,
        "total_episodes": 162505,
    }
    meta = copy.deepcopy(built)
    monkeypatch.setattr(registry, "read_metadata", lambda _id: meta)
    first = registry.fingerprint("any")
    meta["stitchkit"]["augment"] |= {"seconds": 70.1, "accepted_transitions_per_s": 10557.0, "total_seconds": 1913.6}
    meta["stitchkit"]["build_seconds"] = 90.0
    assert registry.fingerprint("any") == first
    meta["stitchkit"]["content_hash"] = "0000000000000000"
    assert registry.fingerprint("any") != first
    meta.clear()
    meta |= copy.deepcopy(built)
    meta["stitchkit"]["augment"]["iterations"] = 32  # a count is part of the data's description
    assert registry.fingerprint("any") != first
