"""Where the kit reads and writes: ``data/`` and ``reports/`` in the checkout unless told otherwise.

``STITCHKIT_DATA`` moves the data folder (datasets, checkpoints, results). Minari keeps its datasets under
``MINARI_DATASETS_PATH``; when the user has not set it, the kit points it at ``<data>/minari`` so that plain
``minari.load_dataset`` finds what the kit built.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def project_root() -> Path:
    """The checkout that holds this package (editable install), else the current directory; ``STITCHKIT_ROOT``
    when set (a campaign worker importing a snapshot of the package still reads and writes the checkout's files)."""
    if os.environ.get("STITCHKIT_ROOT"):
        return Path(os.environ["STITCHKIT_ROOT"])
    root = PACKAGE_DIR.parent
    return root if (root / "pyproject.toml").exists() else Path.cwd()


def data_dir() -> Path:
    return Path(os.environ.get("STITCHKIT_DATA") or project_root() / "data").expanduser().resolve()


def reports_dir() -> Path:
    return Path(os.environ.get("STITCHKIT_REPORTS") or project_root() / "reports").expanduser().resolve()


def notebooks_dir() -> Path:
    return project_root() / "notebooks"


def policies_dir() -> Path:
    """Committed behaviour-policy weights live in the checkout, whatever ``STITCHKIT_DATA`` says."""
    return project_root() / "data" / "policies"


def use_profile_data(profile: str, environ: MutableMapping[str, str] = os.environ) -> Path:
    """Point the kit at ``<data>/<profile>`` for a profile other than ``lab`` (the Makefile's rule for reports),
    unless the user chose a data folder: a ``full`` campaign's 400k-transition datasets then never collide with the
    ``lab`` datasets the notebooks read from ``data/`` (a dataset id names no profile). Returns the folder."""
    if profile != "lab" and not environ.get("STITCHKIT_DATA"):
        folder = project_root() / "data" / profile
        environ["STITCHKIT_DATA"] = str(folder)
        environ["MINARI_DATASETS_PATH"] = str(folder / "minari")
    return Path(environ.get("STITCHKIT_DATA") or project_root() / "data")


def replays_dir() -> Path:
    """Committed medium-replay recordings (``data/replays/<env>/``), in the checkout like the policies;
    ``STITCHKIT_REPLAYS`` moves them (tests record into a temporary folder)."""
    return Path(os.environ.get("STITCHKIT_REPLAYS") or project_root() / "data" / "replays").expanduser().resolve()


def configure_minari_path(environ: MutableMapping[str, str] = os.environ) -> Path:
    """Default ``MINARI_DATASETS_PATH`` to ``<data>/minari``; a user's own setting is kept."""
    if not environ.get("MINARI_DATASETS_PATH"):
        environ["MINARI_DATASETS_PATH"] = str(data_dir() / "minari")
    return Path(environ["MINARI_DATASETS_PATH"])
