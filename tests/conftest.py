import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def clean_env(monkeypatch):
    """Remove the kit's environment variables so a test sees the defaults."""
    for key in ("STITCHKIT_PROFILE", "STITCHKIT_DEVICE", "STITCHKIT_DATA", "STITCHKIT_REPORT"):
        monkeypatch.delenv(key, raising=False)
    return monkeypatch


@pytest.fixture
def data_root(tmp_path, monkeypatch):
    """A private data folder (datasets, checkpoints, runs) for one test; returns its Minari root."""
    monkeypatch.setenv("STITCHKIT_DATA", str(tmp_path))
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    return tmp_path / "minari"


def stitchkit_cmd() -> list[str]:
    """The console script installed next to this interpreter."""
    script = Path(sys.executable).parent / "stitchkit"
    return [str(script)] if script.exists() else [sys.executable, "-m", "stitchkit"]


def subprocess_env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STITCHKIT_")}
    env.update(overrides)
    return env
