"""Writes that never leave a half-written file or folder behind: write to a temporary path, then rename."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a report must be readable like any other file
        os.replace(tmp, path)  # atomic on POSIX: readers see the old file or the new one
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_npz(path: Path, arrays: dict[str, Any]) -> Path:
    """``np.savez_compressed`` of ``arrays``, written atomically (recorded replays, compact generated data)."""
    import io

    import numpy as np

    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return atomic_write_bytes(path, buf.getvalue())


def atomic_write_text(path: Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_torch_save(path: Path, obj: Any) -> Path:
    """``torch.save`` written atomically: an interrupted save never leaves a truncated checkpoint behind."""
    import io

    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    return atomic_write_bytes(path, buf.getvalue())


def atomic_write_json(path: Path, obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def _aside(dst: Path) -> Path:
    return dst.with_name(f".{dst.name}.old")


def recover_directory(dst: Path) -> Path:
    """Undo a :func:`replace_directory` killed between its two renames: ``dst`` missing, the complete old folder
    still aside, so put it back. Readers call this before they look (``registry.dataset_dir``)."""
    dst = Path(dst)
    old = _aside(dst)
    if not dst.exists() and old.is_dir():
        with contextlib.suppress(OSError):  # another process may have put it back first
            old.rename(dst)
    return dst


def replace_directory(src: Path, dst: Path) -> Path:
    """Move the finished folder ``src`` to ``dst`` (same file system), replacing any old ``dst``: the old one is
    renamed aside first, so at every moment ``dst`` is either the complete old folder, the complete new one, or -
    after a kill between the two renames - missing with the complete old one aside, which
    :func:`recover_directory` restores."""
    src, dst = Path(src), Path(dst)
    recover_directory(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.exists():
        old = _aside(dst)
        shutil.rmtree(old, ignore_errors=True)
        dst.rename(old)
        src.rename(dst)
        shutil.rmtree(old, ignore_errors=True)
    else:
        src.rename(dst)
    return dst


@contextmanager
def atomic_directory(path: Path) -> Iterator[Path]:
    """Yield a temporary sibling folder to fill; on success it replaces ``path``, on failure it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    try:
        yield tmp
        replace_directory(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
