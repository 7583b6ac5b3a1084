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


def configure_minari_path(environ: MutableMapping[str, str] = os.environ) -> Path:
    """Default ``MINARI_DATASETS_PATH`` to ``<data>/minari``; a user's own setting is kept."""
    if not environ.get("MINARI_DATASETS_PATH"):
        environ["MINARI_DATASETS_PATH"] = str(data_dir() / "minari")
    return Path(environ["MINARI_DATASETS_PATH"])
