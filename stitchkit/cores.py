"""How many processes this machine runs at once: one per core it may use, capped by its memory.

Standard library only, so the Makefile can ask before anything is installed (``python stitchkit/cores.py``): `make
test` workers, `make data`'s parallel builds and the campaign's workers all follow it. Why a memory cap: a worker
(a notebook at smoke, a dataset build) holds up to about :data:`GIB_PER_WORKER`, and a 16-core laptop with 8 GiB
would swap long before it used its cores. A 2-core machine with 4 GiB or more gets 2, as before.
"""

from __future__ import annotations

import os
import sys

GIB_PER_WORKER = (
    2.0  # a smoke notebook kernel or a dataset build at its largest, with room: see benchmarks/worker_memory.py
)


def usable_cores() -> int:
    """Cores this process may run on (its affinity mask where the platform has one, e.g. a container's quota)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def memory_gib() -> float | None:
    """Physical memory in GiB, or None where it cannot be read."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30  # Linux, macOS
    except (AttributeError, ValueError, OSError):
        pass
    if sys.platform == "win32":
        import ctypes

        class MemoryStatus(ctypes.Structure):
            _fields_ = [("length", ctypes.c_ulong), ("load", ctypes.c_ulong)] + [
                (name, ctypes.c_ulonglong)
                for name in ("total", "avail", "page_total", "page_avail", "virt_total", "virt_avail", "ext")
            ]

        status = MemoryStatus()
        status.length = ctypes.sizeof(MemoryStatus)
        if ctypes.windll.kernel32.GlobalMemoryStatusEx(ctypes.byref(status)):
            return status.total / 2**30
    return None


def workers(cores: int | None = None, memory: float | None = None, per_worker: float = GIB_PER_WORKER) -> int:
    """Processes to run at once: the usable cores, at most one per ``per_worker`` GiB of memory, at least 1."""
    cores = usable_cores() if cores is None else cores
    memory = memory_gib() if memory is None else memory
    by_memory = cores if memory is None else int(memory // per_worker)
    return max(1, min(cores, by_memory))


if __name__ == "__main__":
    print(workers())
