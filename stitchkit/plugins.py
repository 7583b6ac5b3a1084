"""The kit's two plug-in tables: every stitching method and every learner, by name.

Each entry is ``"module:ATTRIBUTE"``, the declaration a method's or learner's own module makes of itself (a
:class:`stitchkit.augment.method.Method` or a :class:`stitchkit.algos.learner.Learner`). Adding one is its module
plus one line here (``ARCHITECTURE.md`` shows the diff). The tables hold names only, no imports, so that every
layer may read them: the data layer parses augmented dataset ids with :data:`STITCHING_METHODS`' keys without
importing augmentation, and ``stitchkit --help`` lists both without importing torch.
"""

from __future__ import annotations

import importlib
from typing import Any

STITCHING_METHODS: dict[str, str] = {
    "diffstitch": "stitchkit.augment.diffstitch:METHOD",
    "astro": "stitchkit.augment.astro:METHOD",
    "ser": "stitchkit.augment.ser:METHOD",
    "tatu": "stitchkit.augment.tatu:METHOD",
    "chain": "stitchkit.augment.chains:METHOD",
    "naive": "stitchkit.augment.naive:METHOD",
}

LEARNERS: dict[str, str] = {
    "bc": "stitchkit.algos.bc:LEARNER",
    "td3bc": "stitchkit.algos.td3bc:LEARNER",
    "iql": "stitchkit.algos.iql:LEARNER",
    "cql": "stitchkit.algos.cql:LEARNER",
    "dt": "stitchkit.algos.dt:LEARNER",
    "por": "stitchkit.algos.por:LEARNER",
    "tels": "stitchkit.algos.tels:LEARNER",
    "tsidm-td3bc": "stitchkit.algos.tels:TSIDM_TD3BC",
    "tsidm-iql": "stitchkit.algos.tels:TSIDM_IQL",
    "gcbc": "stitchkit.algos.gcbc:LEARNER",
    "gcivl": "stitchkit.algos.gcivl:LEARNER",
}


def size_tables() -> dict[str, Any]:
    """Every size section a method or learner declares (``sizes`` of its declaration), by section name: loading
    them imports every plug-in (torch and all), for listing sizes, never on a hot path."""
    out: dict[str, Any] = {}
    for table, what in ((STITCHING_METHODS, "stitching method"), (LEARNERS, "learner")):
        for name in table:
            for sizes in load(table, name, what).sizes:
                out.setdefault(sizes.section, sizes)
    return out


def load(table: dict[str, str], name: str, what: str) -> Any:
    """The declaration ``table[name]`` points at; an error listing the accepted names for an unknown one."""
    if name not in table:
        raise ValueError(f"unknown {what} {name!r}; accepted: {', '.join(table)}")
    module, _, attribute = table[name].partition(":")
    return getattr(importlib.import_module(module), attribute)
