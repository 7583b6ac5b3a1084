"""The machines students bring: the Makefile leaves the GL backend to the kit (macOS has no EGL), and the worker
count follows the machine's cores, capped by its memory."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from stitchkit import cores, gl

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("make") is None, reason="no make on this machine")
def test_the_makefile_sets_no_gl_backend_so_the_kit_picks_one_per_platform():
    """`make -p` prints every variable the Makefile defines: MUJOCO_GL must not be one of them (it used to export
    EGL to every target, overriding stitchkit.gl's CGL on macOS)."""
    env = {k: v for k, v in os.environ.items() if k != "MUJOCO_GL"}
    out = subprocess.run(["make", "-pn", "help"], cwd=ROOT, env=env, capture_output=True, text=True).stdout
    assert "make help" in out or "help:" in out  # the database was printed
    assert not re.search(r"^(export )?MUJOCO_GL\s*[:?]?=", out, re.M)
    # the rule the Makefile now relies on, on a simulated macOS and Linux, and a user's own choice kept
    assert gl.configure_gl({}, platform="darwin") == "cgl"
    assert gl.configure_gl({}, platform="linux") == "egl"
    assert gl.configure_gl({"MUJOCO_GL": "glfw"}, platform="darwin") == "glfw"


def test_workers_follow_the_cores_capped_by_memory():
    assert cores.workers(cores=2, memory=24.0) == 2  # this machine and CI: unchanged
    assert cores.workers(cores=16, memory=64.0) == 16
    assert cores.workers(cores=16, memory=8.0) == int(8.0 // cores.GIB_PER_WORKER)  # a many-core, small-memory laptop
    assert cores.workers(cores=8, memory=1.0) == 1  # never 0
    assert cores.workers(cores=4, memory=None) == 4  # memory unknown: the cores
    assert cores.workers() >= 1
    script = subprocess.run(["python3", str(ROOT / "stitchkit" / "cores.py")], capture_output=True, text=True)
    assert script.stdout.strip() == str(cores.workers())  # what the Makefile reads, before anything is installed
