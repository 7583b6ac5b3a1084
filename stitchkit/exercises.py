"""Exercises that check themselves: a notebook cell computes an answer, ``check`` compares it with the truth."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


def check(
    name: str,
    answer: Any,
    expected: Any = None,
    hint: str = "",
    atol: float = 1e-6,
    satisfies: Callable[[Any], bool] | None = None,
) -> bool:
    """Print a tick when ``answer`` matches ``expected`` (numbers within ``atol``), or, for an answer with a
    property rather than one value, when ``satisfies(answer)`` holds; raise with the hint if not. An unanswered
    exercise (``None``) fails here, with its hint, before anything compares it."""
    if answer is None:
        raise AssertionError(f"{name}: no answer yet. {hint}".strip())
    if satisfies is not None:
        try:
            ok = bool(satisfies(answer))
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise AssertionError(f"{name}: got {answer!r}, which is not right. {hint}".strip())
        print(f"✓ {name}: correct")
        return True
    try:
        ok = bool(np.allclose(np.asarray(answer, float), np.asarray(expected, float), atol=atol))
    except (TypeError, ValueError):
        ok = answer == expected
    if not ok:
        raise AssertionError(f"{name}: got {answer!r}, which is not right. {hint}".strip())
    print(f"✓ {name}: correct")
    return True
