"""Building and loading datasets: Minari round trip, determinism, reference scores and every error path."""

import json

import minari
import numpy as np
import pytest

from stitchkit.data import maze, registry
from stitchkit.data.registry import DatasetError

MAZE = "stitchkit/pointmaze-medium/stitch-v0"


def test_maze_build_loads_with_plain_minari_and_evaluates(data_root):
    registry.build(MAZE, "smoke", log=lambda *_: None)
    ds = minari.load_dataset(MAZE)
    assert ds.total_episodes == 25 and ds.total_steps == 25 * maze.EPISODE_LEN
    env = ds.recover_environment(eval_env=True)
    assert env.spec.id == "pointmaze-medium-singletask-task1-v0"
    env.reset(seed=0)
    _, reward, *_ = env.step(env.action_space.sample())
    assert reward == -1.0  # single-task reward: success - 1
    env.close()
    # reference scores: Minari's normalization maps them to 0 and 1
    lo, hi = ds.storage.metadata["ref_min_score"], ds.storage.metadata["ref_max_score"]
    assert np.allclose(minari.get_normalized_score(ds, np.array([lo, hi])), [0, 1])
    assert lo == pytest.approx(maze.oracle_policy_return("medium", 2, seed=123, random=True).mean())
    assert hi > lo


def test_maze_episodes_follow_the_stitch_protocol(data_root):
    eps = registry.load_episodes(MAZE, "smoke", build_missing=True, log=lambda *_: None)
    env = maze.make_env("medium")
    u = env.unwrapped
    for ep in eps:
        assert ep.observations.shape == (201, 2) and len(ep) == 200
        assert np.abs(ep.actions).max() <= 1.0
        start_ij, end_ij = u.xy_to_ij(ep.observations[0]), u.xy_to_ij(ep.observations[-1])
        # the goal cell is 4 BFS cells from the start; noisy 200-step episodes get at most that far
        assert maze.bfs_distances(u.maze_map, start_ij)[end_ij] <= maze.CELLS_APART
        rewards, success = maze.label_singletask(ep.observations, maze.task_goal("medium"))
        assert np.array_equal(ep.rewards, rewards) and np.array_equal(ep.terminations, success)
    env.close()


def test_build_is_deterministic(data_root):
    a = maze.generate("medium", 3, seed=4)
    b = maze.generate("medium", 3, seed=4)
    c = maze.generate("medium", 3, seed=5)
    assert all(np.array_equal(x.observations, y.observations) for x, y in zip(a, b))
    assert not np.array_equal(a[0].observations, c[0].observations)


def test_subsample_variant_names_its_parent(data_root):
    registry.build("stitchkit/pointmaze-medium/stitch-2k-v0", "smoke", log=lambda *_: None)
    info = registry.info("stitchkit/pointmaze-medium/stitch-2k-v0", "smoke")
    assert info["parent"] == MAZE and info["steps"] == 2000 and info["recipe"] == "subsample"
    assert registry.info(MAZE, "smoke")["steps"] == 5000  # parent built on the way


def test_unknown_ids_and_missing_real_datasets(data_root):
    with pytest.raises(DatasetError, match=r"unknown dataset id .*buildable ids: stitchkit/pointmaze-medium"):
        registry.parse_id("stitchkit/hopper/mediocre-v0")
    with pytest.raises(DatasetError, match="stitchkit data build stitchkit/hopper/medium-v0"):
        registry.load_episodes("mujoco/hopper/medium-v0")
    with pytest.raises(DatasetError, match="stitchkit/pointmaze-large/stitch-v0"):
        registry.load_episodes("D4RL/pointmaze/large-v2")
    with pytest.raises(DatasetError, match="not built yet"):
        registry.load_episodes(MAZE, "smoke")


def test_profile_mismatch_is_an_error(data_root):
    registry.build(MAZE, "smoke", log=lambda *_: None)
    with pytest.raises(DatasetError, match="built at profile 'smoke' but profile 'lab'"):
        registry.load_episodes(MAZE, "lab")
    with pytest.raises(DatasetError, match="--force"):
        registry.build(MAZE, "lab")


def test_env_mismatch_is_an_error(data_root):
    registry.build(MAZE, "smoke", log=lambda *_: None)
    registry.check_env(MAZE, "pointmaze-medium-singletask-task1-v0")
    with pytest.raises(DatasetError, match="'Hopper-v5' does not match"):
        registry.check_env(MAZE, "Hopper-v5")


def test_corrupt_datasets_are_reported_not_loaded(data_root):
    registry.build(MAZE, "smoke", log=lambda *_: None)
    folder = registry.dataset_dir(MAZE)
    meta_path = folder / "data" / "metadata.json"
    meta = json.loads(meta_path.read_text())
    meta.pop("stitchkit")
    meta_path.write_text(json.dumps(meta))  # as if the build died before its completion mark
    with pytest.raises(DatasetError, match=r"corrupt: .*half-written"):
        registry.load_episodes(MAZE, "smoke")
    (folder / "data" / "main_data.hdf5").unlink()
    with pytest.raises(DatasetError, match=r"corrupt: .*main_data\.hdf5"):
        registry.load_episodes(MAZE, "smoke")
    meta_path.write_text("{not json")
    assert registry.status(MAZE)["state"] == "corrupt"
    registry.build(MAZE, "smoke", force=True, log=lambda *_: None)  # --force repairs it
    assert registry.status(MAZE) == {"state": "built", "profile": "smoke"}


def test_interrupted_build_leaves_nothing_behind(data_root, monkeypatch):
    registry.build(MAZE, "smoke", log=lambda *_: None)
    before = registry.load_episodes(MAZE, "smoke")

    real = minari.create_dataset_from_buffers

    def write_then_die(*args, **kwargs):  # the data is on disk, the rename has not happened yet
        real(*args, **kwargs)
        raise KeyboardInterrupt("interrupted mid-build")

    monkeypatch.setattr(minari, "create_dataset_from_buffers", write_then_die)
    with pytest.raises(KeyboardInterrupt):
        registry.build("stitchkit/pointmaze-large/stitch-v0", "smoke", log=lambda *_: None)
    with pytest.raises(KeyboardInterrupt):
        registry.build(MAZE, "smoke", force=True, log=lambda *_: None)
    assert registry.status("stitchkit/pointmaze-large/stitch-v0") == {"state": "missing"}
    after = registry.load_episodes(MAZE, "smoke")  # the old dataset survives a failed rebuild
    assert all(np.array_equal(a.observations, b.observations) for a, b in zip(before, after))
    leftovers = [p.name for p in data_root.iterdir() if p.name.startswith(".") and p.name != ".locks"]
    assert leftovers == []  # no scratch build folder survives


def test_concurrent_builds_of_one_dataset_both_succeed(data_root):
    import subprocess
    import sys

    code = (
        "import stitchkit; from stitchkit.data import registry; "
        f"registry.build({MAZE!r}, 'smoke'); print(len(registry.load_episodes({MAZE!r}, 'smoke')))"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert sum("already built" in o for o, _ in outs) == 1  # one built it, the other waited and found it


def test_a_real_minari_id_loads_through_the_same_call_when_local(data_root):
    """A dataset under Minari's own namespace (as `minari download` would leave it) loads like the kit's."""
    eps = maze.generate("medium", 2, seed=0)
    registry.write_dataset("D4RL/pointmaze/medium-v2", eps, maze.collection_env_id("medium"))
    loaded = registry.load_episodes("D4RL/pointmaze/medium-v2")
    assert len(loaded) == 2 and np.array_equal(loaded[1].observations, eps[1].observations)
    assert {"id": "D4RL/pointmaze/medium-v2", "state": "built", "profile": None} in registry.list_datasets()
