"""Exercises that check themselves: a notebook cell computes an answer, ``check`` compares it with the truth."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import numpy as np


def digest(answer: Any, decimals: int = 3) -> str:
    """A short fingerprint of an answer (numbers rounded to ``decimals``, text lower-cased and stripped), so a check
    cell can hold the fingerprint instead of the value: the student edition then does not show the answer."""
    if isinstance(answer, bool) or answer is None:
        text = str(answer)
    elif isinstance(answer, (int, float, np.integer, np.floating)):
        text = f"{round(float(answer), decimals):.{decimals}f}"
    else:
        text = str(answer).strip().lower()
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def check(
    name: str,
    answer: Any,
    expected: Any = None,
    hint: str = "",
    atol: float = 1e-6,
    satisfies: Callable[[Any], bool] | None = None,
    hashed: str | None = None,
) -> bool:
    """Print a tick when ``answer`` matches ``expected`` (numbers within ``atol``), or, for an answer with a
    property rather than one value, when ``satisfies(answer)`` holds, or when its :func:`digest` equals ``hashed``
    (a fixed answer a check cell must not show); raise with the hint if not. An unanswered exercise (``None``)
    fails here, with its hint, before anything compares it."""
    if answer is None:
        raise AssertionError(f"{name}: no answer yet. {hint}".strip())
    if hashed is not None:
        if digest(answer) != hashed:
            raise AssertionError(f"{name}: got {answer!r}, which is not right. {hint}".strip())
        print(f"✓ {name}: correct")
        return True
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
