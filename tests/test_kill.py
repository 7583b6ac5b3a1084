"""A kill during any write loses nothing (issue 30): SIGKILL in the middle of a file write, a dataset write and a
model checkpoint leaves the previous complete version readable, and a replacement killed between its two renames
is undone on the next read. (A benchmark record killed mid-run: tests/test_bench.py.)"""

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
from conftest import subprocess_env

from stitchkit.data import registry
from stitchkit.files import recover_directory, replace_directory

WRITER = """
import sys, numpy as np
from pathlib import Path
from stitchkit.data import registry
from stitchkit.data.episodes import Episode
from stitchkit.files import atomic_torch_save, atomic_write_text
kind, path = sys.argv[1], Path(sys.argv[2])
print("ready", flush=True)
rng = np.random.default_rng(0)
while True:
    if kind == "text":
        atomic_write_text(path, "B" * 30_000_000)
    elif kind == "checkpoint":
        import torch
        atomic_torch_save(path, {"version": 2, "w": torch.zeros(8_000_000)})
    else:
        eps = [Episode(rng.normal(size=(201, 11)), rng.uniform(-1, 1, (200, 3)), rng.normal(size=200),
                       np.zeros(200, bool), np.r_[np.zeros(199, bool), True]) for _ in range(300)]
        registry.write_dataset(kind, eps, "Hopper-v5", stitchkit_meta={"profile": "smoke", "version": 2})
"""


def kill_mid_write(kind: str, path, env: dict, after: float) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(WRITER), kind, str(path)], env=env, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(after)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def test_a_killed_file_write_leaves_the_old_file_or_the_new_one(tmp_path):
    path = tmp_path / "report.html"
    path.write_text("A" * 1000)
    for after in (0.05, 0.2, 0.5):
        kill_mid_write("text", path, subprocess_env(), after)
        text = path.read_text()
        assert text in ("A" * 1000, "B" * 30_000_000)


def test_a_killed_checkpoint_save_leaves_a_loadable_checkpoint(tmp_path):
    import torch

    from stitchkit.files import atomic_torch_save

    path = tmp_path / "checkpoint.pt"
    atomic_torch_save(path, {"version": 1})
    for after in (0.1, 0.4, 0.8):
        kill_mid_write("checkpoint", path, subprocess_env(), after)
        assert torch.load(path, weights_only=True)["version"] in (1, 2)


def test_a_killed_dataset_write_leaves_the_previous_dataset_readable(data_root):
    from stitchkit.data.episodes import Episode

    name = "user/killed-v0"
    rng = np.random.default_rng(1)
    v1 = [
        Episode(
            rng.normal(size=(6, 11)),
            rng.uniform(-1, 1, (5, 3)),
            rng.normal(size=5),
            np.zeros(5, bool),
            np.r_[np.zeros(4, bool), True],
        )
        for _ in range(3)
    ]
    registry.write_dataset(name, v1, "Hopper-v5", stitchkit_meta={"profile": "smoke", "version": 1})
    env = subprocess_env(MINARI_DATASETS_PATH=str(data_root), STITCHKIT_DATA=str(data_root.parent))
    for after in (0.5, 1.5, 3.0):
        kill_mid_write(name, name, env, after)
        eps = registry.load_episodes(name, "smoke")
        assert len(eps) in (3, 300)  # the old version or the new one, complete


def test_a_replacement_killed_between_its_renames_is_undone_on_the_next_read(tmp_path):
    dst, new = tmp_path / "data", tmp_path / "new"
    dst.mkdir()
    (dst / "f").write_text("old")
    dst.rename(tmp_path / ".data.old")  # the kill's state: the old folder aside, the new one not yet in place
    new.mkdir()
    (new / "f").write_text("new")
    assert (recover_directory(dst) / "f").read_text() == "old"  # a reader gets the complete old version back
    replace_directory(new, dst)
    assert (dst / "f").read_text() == "new" and not (tmp_path / ".data.old").exists()
