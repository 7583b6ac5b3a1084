"""Progress bars for the kit's long loops (model training, stitching, learner training).

tqdm's ``auto`` bar is a widget in JupyterLab and text in a terminal. In a report (``STITCHKIT_REPORT=1``) bars
are off: a static page cannot show a live bar, only a dead widget. Each long loop opens one bar, so a notebook
cell that runs for minutes shows how far it is.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator

from stitchkit.profiles import report_mode

_quiet = [0]


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """No bars inside (a time probe runs the loops for a few steps: a flash of bars would only distract)."""
    _quiet[0] += 1
    try:
        yield
    finally:
        _quiet[0] -= 1


def bar(total: int, desc: str, initial: int = 0, enabled: bool = True, unit: str = "step"):
    """A tqdm bar of ``total`` units (``bar.update(n)`` as they are done; close it, or use it as a context)."""
    from tqdm.auto import tqdm

    return tqdm(
        total=total,
        initial=initial,
        desc=desc,
        unit=unit,
        disable=not enabled or report_mode() or _quiet[0] > 0,
        leave=False,
    )


def seconds_per_step(run: Callable[[int], object], probe: int, base: int = 40) -> float:
    """Seconds per step of a loop ``run(n)`` (n steps from scratch) on this machine: after one untimed
    ``run(base)`` (a process's first call pays for thread pools and allocations), ``run(base)`` and
    ``run(base + probe)`` timed, their difference over ``probe``, so a call's set-up cost (data, model) cancels.
    Why ``base`` is 40, not 2: the kit's model loops log a held-out error 20 times a run (every ``steps // 20``),
    which a 2-step call does twice and a 22-step one 22 times; at 40 and 60 steps both log 20 times. When the steps
    are too quick for the difference to stand out of the timing noise, the longer call's time per step (set-up
    included: an upper bound)."""
    with quiet():
        run(base)
        t0 = time.perf_counter()
        run(base)
        t1 = time.perf_counter()
        run(base + probe)
        t2 = time.perf_counter()
    diff = (t2 - t1) - (t1 - t0)
    return diff / probe if diff > 0 else (t2 - t1) / (base + probe)
