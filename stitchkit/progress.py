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


def seconds_per_step(run: Callable[[int], object], probe: int) -> float:
    """Seconds per step of a loop ``run(n)`` (n steps from scratch) on this machine: ``run(2)`` and
    ``run(2 + probe)`` timed, their difference over ``probe``, so a call's set-up cost (data, model) cancels. When
    the steps are too quick for the difference to stand out of the timing noise, the longer call's time per step
    (set-up included: an upper bound). Time only the loop: a loop that logs every ``steps // 20`` logs at every
    step of a probe (pass ``log_every``), and a set-up whose cost varies by seconds drowns a short probe."""
    with quiet():
        t0 = time.perf_counter()
        run(2)
        t1 = time.perf_counter()
        run(2 + probe)
        t2 = time.perf_counter()
    diff = (t2 - t1) - (t1 - t0)
    return diff / probe if diff > 0 else (t2 - t1) / (2 + probe)
