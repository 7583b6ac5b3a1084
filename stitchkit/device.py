"""Pick the torch device: CUDA when there is one, else CPU; ``STITCHKIT_DEVICE`` overrides."""

from __future__ import annotations

import os

import torch

ACCEPTED = "cpu, cuda, cuda:N, mps"


#: float32 matmuls on a GPU may use TF32 tensor cores ('high'): measured on an H200 (benchmarks/results/), the
#: Decision Transformer's update runs 1.5-1.7x and CQL's 1.8x faster than at 'highest'; the small-MLP learners
#: are launch-bound and gain little. ``STITCHKIT_MATMUL_PRECISION=highest`` restores full float32.
MATMUL_PRECISION = "high"


def get_device(name: str | None = None) -> torch.device:
    """Return the device to train on. ``name`` (or ``STITCHKIT_DEVICE``) forces one; asking for a device this
    machine lacks is an error rather than a silent fall-back, so a 'GPU run' never quietly runs on the CPU."""
    device = _pick(name or os.environ.get("STITCHKIT_DEVICE") or "")
    precision = os.environ.get("STITCHKIT_MATMUL_PRECISION", MATMUL_PRECISION)
    if precision not in ("highest", "high", "medium"):
        raise ValueError(f"unknown STITCHKIT_MATMUL_PRECISION {precision!r}; accepted: highest, high, medium")
    if device.type == "cuda":  # the CPU path keeps torch's default (no reduced-precision matmuls)
        torch.set_float32_matmul_precision(precision)
    return device


def _pick(name: str) -> torch.device:
    if not name:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as err:
        raise ValueError(f"unknown device {name!r} (STITCHKIT_DEVICE); accepted: {ACCEPTED}") from err
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} was asked for, but torch sees no CUDA GPU here; use cpu")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ValueError(f"device {name!r} does not exist: this machine has {torch.cuda.device_count()} GPU(s)")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device {name!r} was asked for, but MPS is not available here; use cpu")
    if device.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"unsupported device {name!r}; accepted: {ACCEPTED}")
    return device
