"""Dataset ids: which the kit knows, what each one is made from (:class:`Recipe`), the keys a per-dataset default
is looked up by, and the command that rebuilds one. Pure string work, no I/O: :mod:`stitchkit.data.registry`
builds and loads what an id names (and is where callers reach these names: ``registry.parse_id``, ...).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from stitchkit.plugins import STITCHING_METHODS

NAMESPACE = "stitchkit"
SUBSAMPLE_SEED = 111  # TSRL's
_ID = re.compile(
    r"^stitchkit/(?P<env>[a-z0-9-]+)/(?P<name>[a-z-]+?)"
    r"(?:-(?P<k>\d+)k|-(?P<pct>\d+)pct|-r(?P<ratio>\d+)|-top(?P<top>\d+))?-v0$"
)
REAL_TO_LOCAL = {  # real Minari ids -> the kit's local equivalent
    r"^mujoco/(hopper|halfcheetah|walker2d)/(medium|expert|random|medium-expert|medium-replay)-v\d+$": (
        "stitchkit/{0}/{1}-v0"
    ),
    r"^mujoco/(hopper|halfcheetah|walker2d)/simple(-replay)?-v\d+$": "stitchkit/{0}/medium{1}-v0",
    r"^D4RL/pointmaze/(medium|large)(-dense)?-v\d+$": "stitchkit/pointmaze-{0}/stitch-v0",
}


class DatasetError(ValueError):
    """An unknown, missing, mismatched or corrupt dataset; the message says what to do."""


@dataclass(frozen=True)
class Recipe:
    id: str
    kind: str  # "maze" | "locomotion" | "subsample" | "augmented"
    env: str  # "pointmaze-medium", "hopper", ...
    name: str  # "stitch", "medium-replay", ...
    parent: str | None = None
    budget: int | None = None
    pct: int | None = None
    ratio: int | None = None
    top: int | None = None  # subsample: the best ``top`` percent of the episodes by return (CORL's 10%-BC data)
    method: str | None = None  # augmented: the stitching method
    tag: str | None = None  # augmented: a variant's name (ablations)


def _augmented_pattern() -> re.Pattern:
    """``<parent>-<method>[-<tag>]-v0`` for the methods registered now (the table is read at each call)."""
    return re.compile(
        r"^(?P<parent>stitchkit/.+?)-(?P<method>"
        + "|".join(map(re.escape, STITCHING_METHODS))
        + r")(?:-(?P<tag>[a-z0-9]+))?-v0$"
    )


def augmented_id(parent: str, method: str, tag: str | None = None) -> str:
    """``stitchkit/hopper/medium-replay-v0`` + diffstitch -> ``stitchkit/hopper/medium-replay-diffstitch-v0``."""
    if not parent.endswith("-v0"):
        raise DatasetError(f"augmented datasets derive from kit ids ending in -v0, got {parent!r}")
    return f"{parent[:-3]}-{method}{'-' + tag if tag else ''}-v0"


def base_ids() -> list[str]:
    from stitchkit.data.locomotion import NAMES
    from stitchkit.data.maze import MAZES
    from stitchkit.data.policies import LOCOMOTION_ENVS

    return [f"stitchkit/pointmaze-{m}/stitch-v0" for m in MAZES] + [
        f"stitchkit/{e}/{n}-v0" for e in LOCOMOTION_ENVS for n in NAMES
    ]


def parse_id(dataset_id: str) -> Recipe:
    """The recipe of a ``stitchkit/`` id; a :class:`DatasetError` listing the buildable ids otherwise."""
    a = _augmented_pattern().match(dataset_id)
    if a:
        parent = parse_id(a["parent"] + "-v0")
        return Recipe(
            dataset_id, "augmented", parent.env, parent.name, parent=parent.id, method=a["method"], tag=a["tag"]
        )
    m = _ID.match(dataset_id)
    base = f"stitchkit/{m['env']}/{m['name']}-v0" if m else None
    if base is None or base not in base_ids():
        raise DatasetError(
            f"unknown dataset id {dataset_id!r}; buildable ids: {', '.join(base_ids())} "
            "(add -<N>k, -<P>pct or -r<R> before -v0 for a small-sample variant, -top<P> for the best P percent "
            "of the episodes by return)"
        )
    kind = "maze" if m["env"].startswith("pointmaze") else "locomotion"
    if m["top"] and not 0 < int(m["top"]) <= 100:
        raise DatasetError(f"{dataset_id}: -top<P> keeps the best P percent of the episodes, P in 1..100")
    if m["k"] or m["pct"] or m["ratio"] or m["top"]:
        return Recipe(
            dataset_id,
            "subsample",
            m["env"],
            m["name"],
            parent=base,
            budget=int(m["k"]) * 1000 if m["k"] else None,
            pct=int(m["pct"]) if m["pct"] else None,
            ratio=int(m["ratio"]) if m["ratio"] else None,
            top=int(m["top"]) if m["top"] else None,
        )
    return Recipe(dataset_id, kind, m["env"], m["name"])


def local_equivalent(dataset_id: str) -> str | None:
    for pattern, template in REAL_TO_LOCAL.items():
        m = re.match(pattern, dataset_id)
        if m:
            return template.format(*(g or "" for g in m.groups()))
    return None


def dataset_keys(dataset_id: str) -> list[str]:
    """The keys a per-dataset defaults table is read with, most general first: ``*``, the kind (``maze``,
    ``locomotion``), the environment family and name, then ``env/name`` (a small-sample or augmented variant reads
    as its parent; a real Minari id as its local equivalent). Tables keyed like CORL's per-dataset configs."""
    try:
        recipe = parse_id(local_equivalent(dataset_id) or dataset_id)
    except DatasetError:
        return ["*"]
    if recipe.parent:
        recipe = parse_id(recipe.parent)
        if recipe.parent:  # an augmented subsample: its base
            recipe = parse_id(recipe.parent)
    keys = [
        "*",
        "maze" if recipe.env.startswith("pointmaze") else "locomotion",
        recipe.env.split("-")[0],
        recipe.env,
        f"{recipe.env}/{recipe.name}",
    ]
    return list(dict.fromkeys(keys))


def rebuild_command(dataset_id: str, force: bool = True) -> str:
    """The command that (re)builds a kit dataset: ``stitchkit data build`` or, for generated data, ``augment``."""
    flag = " --force" if force else ""
    try:
        recipe = parse_id(dataset_id)
    except DatasetError:
        return f"stitchkit data build {dataset_id}{flag}"
    if recipe.kind == "augmented":
        out = f" --out {dataset_id}" if recipe.tag else ""
        return f"stitchkit augment {recipe.method} --dataset {recipe.parent}{out}{flag}"
    return f"stitchkit data build {dataset_id}{flag}"
