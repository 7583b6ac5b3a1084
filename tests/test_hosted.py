"""A hosted notebook's way in (JupyterHub, Colab): a plain virtual environment with `pip install -e .` only - no
extras, no make, no `make data` - and a notebook run from notebooks/ at smoke, building its data on first use.

The hosted service brings its own Jupyter; here ipykernel and nbclient stand for it, installed after the kit, so a
dependency the kit forgot to declare still fails this test."""

from __future__ import annotations

import os
import subprocess
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = "01_datasets.py"  # builds the maze and locomotion datasets it reads, and trains with a process pool

RUN = """
import sys, jupytext, nbclient
nb = jupytext.read(sys.argv[1])
nbclient.NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": "."}}).execute()
print("executed", len(nb.cells), "cells")
"""


@pytest.mark.slow
def test_a_plain_install_runs_a_notebook_from_its_folder_with_no_data_built(tmp_path):
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    py = env_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    pip = [str(py), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "-e", str(ROOT)], check=True, capture_output=True)
    subprocess.run([*pip, "ipykernel", "nbclient", "jupytext"], check=True, capture_output=True)  # the host's Jupyter
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STITCHKIT_", "MINARI_", "VIRTUAL_ENV", "PYTHON"))}
    env |= {"STITCHKIT_PROFILE": "smoke", "OMP_NUM_THREADS": "1", "PATH": f"{py.parent}{os.pathsep}{env['PATH']}"}
    env |= {"STITCHKIT_DATA": str(data), "MINARI_DATASETS_PATH": str(data / "minari")}  # empty; not the lab's data/
    out = subprocess.run(
        [str(py), "-c", RUN, NOTEBOOK], cwd=ROOT / "notebooks", env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "executed" in out.stdout
    assert any((data / "minari").rglob("*.hdf5")), "the notebook should have built its datasets on first use"
