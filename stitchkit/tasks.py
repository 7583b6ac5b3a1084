"""`make lab`, `make test` and `make data` without make (Windows, a hosted notebook): ``python -m stitchkit setup``,
``lab``, ``test`` or ``data``, run from the repository root with any Python >= 3.10.

Standard library only, because it runs before anything is installed: ``setup`` creates ``.venv`` and installs the
kit into it (again only when ``pyproject.toml`` changed, as the Makefile does), and every other task first does
``setup``, then runs its steps with the virtual environment's Python, with the same environment variables as the
Makefile's target (``Makefile`` stays the reference; a test keeps the two in step).
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv"
TASKS = ("setup", "lab", "test", "data")
PROFILES = ("smoke", "lab", "full")


def venv_python(root: Path = VENV) -> Path:
    """The virtual environment's interpreter: ``Scripts\\python.exe`` on Windows, ``bin/python`` elsewhere."""
    return root / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def wants(argv: list[str]) -> bool:
    """Whether ``argv`` asks for a task rather than the kit's own CLI: ``data`` alone (or with ``--profile``) is
    `make data`; ``data build ...`` and the other data commands stay the CLI's."""
    if not argv or argv[0] not in TASKS:
        return False
    return argv[0] != "data" or all(a.startswith("--profile") or a in PROFILES for a in argv[1:])


def _run(cmd: list[str | Path], env: dict[str, str] | None = None) -> None:
    print("+", " ".join(map(str, cmd)), flush=True)
    subprocess.run([str(c) for c in cmd], cwd=ROOT, env={**os.environ, **(env or {})}, check=True)


def setup() -> Path:
    """Create ``.venv`` and install the kit with its notebook and dev extras; skip the install when the stamp is
    newer than ``pyproject.toml``. Returns the environment's Python."""
    py, stamp = venv_python(), VENV / ".installed"
    if not py.exists():
        venv.EnvBuilder(with_pip=True).create(VENV)
    if not stamp.exists() or stamp.stat().st_mtime < (ROOT / "pyproject.toml").stat().st_mtime:
        _run([py, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-e", ".[dev]"])
        stamp.touch()
    return py


def profile_of(argv: list[str]) -> str:
    """``--profile P``, ``--profile=P`` or a bare profile name; else STITCHKIT_PROFILE, else lab."""
    for i, a in enumerate(argv):
        if a.startswith("--profile="):
            return a.split("=", 1)[1]
        if a == "--profile" and i + 1 < len(argv):
            return argv[i + 1]
        if a in PROFILES:
            return a
    return os.environ.get("STITCHKIT_PROFILE", "lab")


def workers() -> str:
    from stitchkit.cores import workers as count

    return str(count())


def data(py: Path, profile: str) -> None:
    """`make data`: the course's datasets, models and generated data at ``profile``, if missing."""
    _run([py, "-m", "stitchkit", "data", "defaults", "--profile", profile, "--workers", workers()])


def notebooks(py: Path) -> None:
    """`make notebooks`: the .ipynb twins of the py:percent notebooks."""
    pairs = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
    _run([py, "-m", "jupytext", "--sync", "--quiet", *pairs])


def test(py: Path) -> None:
    """`make test`: lint, then the unit tests and every notebook through nbmake at smoke, in data/test/."""
    _run([py, "-m", "ruff", "check", "."])
    _run([py, "-m", "ruff", "format", "--check", "."])
    test_data = ROOT / "data" / "test"
    env = {
        "STITCHKIT_DATA": str(test_data),
        "MINARI_DATASETS_PATH": str(test_data / "minari"),
        "STITCHKIT_PROFILE": "smoke",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    ipynb = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    _run([py, "-m", "pytest", "-n", workers(), "tests", *ipynb, "--nbmake", "--nbmake-timeout=900"], env)


def lab(py: Path) -> None:
    """`make lab`: the default data, the notebooks, then JupyterLab on notebooks/."""
    data(py, profile_of([]))
    notebooks(py)
    root_flag = ["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
    _run([py, "-m", "jupyter", "lab", "--notebook-dir=notebooks", *root_flag])


def main(argv: list[str]) -> int:
    task = argv[0]
    try:
        py = setup()
        if task == "data":
            data(py, profile_of(argv[1:]))
        elif task == "test":
            notebooks(py)
            test(py)
        elif task == "lab":
            lab(py)
    except subprocess.CalledProcessError as err:
        print(f"stitchkit: error: {task}: a step failed (exit {err.returncode}): {' '.join(err.cmd)}", file=sys.stderr)
        return err.returncode or 1
    return 0
