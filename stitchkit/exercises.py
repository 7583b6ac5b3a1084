"""Exercises that check themselves: a notebook cell computes an answer, ``check`` compares it with the truth."""

from __future__ import annotations

from typing import Any

import numpy as np


def check(name: str, answer: Any, expected: Any, hint: str = "", atol: float = 1e-6) -> bool:
    """Print a tick when ``answer`` matches ``expected`` (numbers within ``atol``); raise with the hint if not."""
    if answer is None:
        raise AssertionError(f"{name}: no answer yet. {hint}".strip())
    try:
        ok = bool(np.allclose(np.asarray(answer, float), np.asarray(expected, float), atol=atol))
    except (TypeError, ValueError):
        ok = answer == expected
    if not ok:
        raise AssertionError(f"{name}: got {answer!r}, which is not right. {hint}".strip())
    print(f"✓ {name}: correct")
    return True
