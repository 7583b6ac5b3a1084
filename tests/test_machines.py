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


def test_a_task_is_told_apart_from_the_kits_own_commands():
    from stitchkit import tasks

    assert tasks.wants(["lab"]) and tasks.wants(["test"]) and tasks.wants(["setup"])
    assert tasks.wants(["data"]) and tasks.wants(["data", "--profile", "smoke"]) and tasks.wants(["data", "full"])
    assert not tasks.wants(["data", "build", "stitchkit/hopper/medium-v0"]) and not tasks.wants(["data", "--help"])
    assert not tasks.wants(["train", "bc"]) and not tasks.wants([])


def test_the_tasks_run_the_makefiles_steps_with_its_environment(monkeypatch, tmp_path):
    """`python -m stitchkit test` is `make test` without make: the same steps, with every variable the Makefile's
    recipe sets (read from the Makefile itself, so the two cannot drift apart unnoticed)."""
    from stitchkit import tasks

    calls = []
    monkeypatch.setattr(tasks, "setup", lambda: tmp_path / "python")
    monkeypatch.setattr(tasks, "_run", lambda cmd, env=None: calls.append(([str(c) for c in cmd], env or {})))
    assert tasks.main(["test"]) == 0
    steps = [" ".join(cmd[1:4]) for cmd, _ in calls]
    assert steps == ["-m jupytext --sync", "-m ruff check", "-m ruff format", "-m pytest -n"]
    pytest_cmd, env = calls[-1]
    assert pytest_cmd[pytest_cmd.index("-n") + 1] == str(cores.workers()) and "--nbmake-timeout=900" in pytest_cmd
    recipe = next(line for line in (ROOT / "Makefile").read_text().splitlines() if "-m pytest" in line)
    for assignment in re.findall(r"\b([A-Z_]+)=(\S+)", recipe):
        assert env.get(assignment[0]) == assignment[1], assignment
    assert env["STITCHKIT_DATA"].endswith(os.path.join("data", "test"))  # $(TEST_DATA)
    calls.clear()
    assert tasks.main(["data", "--profile", "smoke"]) == 0
    assert calls[0][0][1:] == [
        "-m",
        "stitchkit",
        "data",
        "defaults",
        "--profile",
        "smoke",
        "--workers",
        str(cores.workers()),
    ]


def test_every_notebook_opens_by_saying_what_to_run_when_the_kit_is_not_installed():
    """A hosted notebook's kernel without the kit: the first cell ends with what to run, not an ImportError."""
    import sys

    firsts = set()
    for nb in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py")):
        cells = nb.read_text().split("# %%")[1:]
        first = next(c for c in cells if not c.startswith(" [markdown]"))  # the first code cell
        assert 'find_spec("stitchkit")' in first, nb.name
        firsts.add(first)
    assert len(firsts) == 1  # one guard, the same everywhere
    code = "\n".join(firsts.pop().splitlines()[1:])
    out = subprocess.run([sys.executable, "-I", "-S", "-c", code], cwd="/", capture_output=True, text=True)
    assert out.returncode == 1 and "stitchkit is not installed in this kernel" in out.stderr
    assert "%pip install -e .." in out.stderr and "Traceback" not in out.stderr
