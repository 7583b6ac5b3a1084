"""The peak resident memory of one worker, which ``stitchkit/cores.py`` divides the machine's memory by: a notebook
executed at ``smoke`` (what a `make test` worker runs; its kernel included) and a dataset build at ``lab`` (what
`make data` runs two at a time), each in a fresh data folder so it builds what it needs.

    .venv/bin/python benchmarks/worker_memory.py [--notebook notebooks/05_diffstitch.ipynb] [--dataset ...]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def peak_gib(cmd: list[str], env: dict[str, str]) -> float:
    """Peak RSS (GiB) of the largest process ``cmd`` started and waited for (Linux: kilobytes in ru_maxrss)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    subprocess.run(cmd, env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    scale = 2**30 if sys.platform == "darwin" else 2**20
    return max(after, before) / scale


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--notebook", default="notebooks/05_diffstitch.ipynb")
    p.add_argument("--dataset", default="stitchkit/hopper/medium-replay-v0")
    args = p.parse_args()
    py = sys.executable
    with tempfile.TemporaryDirectory() as lab, tempfile.TemporaryDirectory() as smoke:  # a folder per profile
        env = os.environ | {"STITCHKIT_DATA": lab, "MINARI_DATASETS_PATH": f"{lab}/minari", "OMP_NUM_THREADS": "1"}
        build = peak_gib([py, "-m", "stitchkit", "data", "build", args.dataset, "--profile", "lab"], env)
        print(f"dataset build at lab ({args.dataset}): peak {build:.2f} GiB")
        env |= {"STITCHKIT_PROFILE": "smoke", "STITCHKIT_DATA": smoke, "MINARI_DATASETS_PATH": f"{smoke}/minari"}
        nb = peak_gib(
            [py, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute", "--stdout", args.notebook], env
        )
        print(f"notebook at smoke ({args.notebook}, kernel included): peak {nb:.2f} GiB")


if __name__ == "__main__":
    main()
