"""The naive stitch: glue the state of one episode to a state of another, with no bridge at all.

It is what every real method improves on. The glued transition claims that the source's action at ``source_step``
leads to the target's state at ``target_step``; the physics oracle shows it does not.

As a registered method (``stitchkit augment naive --option pairs_from=<a diffstitch or astro dataset>``) it glues
*the same pairs* a generative method stitched, on the same parent data, and suggests the same ratio: the control
for "is the model needed?" (issue 28). The two datasets then differ only in what fills each joint - a generated,
dynamics-checked bridge or one impossible transition - so a learner's score gap is the bridges' worth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from stitchkit.augment.method import Job, Method
from stitchkit.data.episodes import Episode, Provenance


def naive_stitch(source: Episode, source_step: int, target: Episode, target_step: int) -> Episode:
    """source states [0, source_step], then target states [target_step, end]; one glued transition between."""
    if not 0 <= source_step < len(source):
        raise ValueError(f"source_step must be in [0, {len(source) - 1}], got {source_step}")
    if not 0 <= target_step <= len(target):
        raise ValueError(f"target_step must be in [0, {len(target)}], got {target_step}")
    infos = {
        k: np.concatenate([source.infos[k][: source_step + 1], target.infos[k][target_step:]])
        for k in source.infos.keys() & target.infos.keys()
    }
    return Episode(
        observations=np.concatenate([source.observations[: source_step + 1], target.observations[target_step:]]),
        actions=np.concatenate([source.actions[: source_step + 1], target.actions[target_step:]]),
        rewards=np.concatenate([source.rewards[: source_step + 1], target.rewards[target_step:]]),
        terminations=np.concatenate([np.zeros(source_step + 1, bool), target.terminations[target_step:]]),
        truncations=np.concatenate([np.zeros(source_step + 1, bool), target.truncations[target_step:]]),
        infos=infos,
        provenance=Provenance("stitched", "naive", source.id, source_step, target.id, target_step, bridge_steps=1),
    )


@dataclass
class NaiveConfig:
    pairs_from: str = ""  # an augmented dataset of the same parent (diffstitch, astro): glue its pairs naively
    seed: int = 0


def same_pairs(parent: list[Episode], stitched: list[Episode]) -> list[Episode]:
    """Each stitched episode's (source, cut, target, landing) pair, glued naively from ``parent``'s episodes: the
    source's states up to the cut, one glued transition, the target's states from the landing state on."""
    by_id = {int(e.id): e for e in parent}
    out = []
    for k, ep in enumerate(stitched):
        p = ep.provenance
        if p.kind != "stitched" or p.pieces is not None or p.source_episode is None:
            raise ValueError(f"episode {k} of pairs_from is not a single-bridge stitch (provenance {p.method!r})")
        missing = {p.source_episode, p.target_episode} - by_id.keys()
        if missing:
            raise ValueError(f"pairs_from names episodes {sorted(missing)} that the parent dataset does not have")
        glued = naive_stitch(by_id[p.source_episode], p.source_step, by_id[p.target_episode], p.target_step)
        glued.id = k
        out.append(glued)
    return out


def generate_dataset(job: Job) -> tuple[list[Episode], dict]:
    """``stitchkit augment naive --option pairs_from=ID``: the pairs of ``ID`` (built from this same parent),
    glued with one naive transition each, at ``ID``'s suggested ratio."""
    from stitchkit.data import registry

    src = job.config.pairs_from
    if not src:
        raise ValueError("naive needs pairs_from: an augmented dataset of the same parent (a diffstitch or astro id)")
    recipe = registry.parse_id(src)
    if recipe.kind != "augmented" or recipe.parent != job.dataset_id or recipe.method not in ("diffstitch", "astro"):
        raise ValueError(
            f"pairs_from {src!r} must be a diffstitch or astro dataset built from {job.dataset_id!r} "
            f"(e.g. {registry.augmented_id(job.dataset_id, 'diffstitch')!r})"
        )
    stitched = registry.load_episodes(src, job.profile, build_missing=False, log=job.log)
    episodes = same_pairs(job.episodes, stitched)
    made = registry.read_metadata(src)["stitchkit"].get("augment", {})
    return episodes, {
        "pairs_from": src,
        "accepted": len(episodes),
        "accepted_transitions": sum(len(e) for e in episodes),
        "ratio": made.get("config", {}).get("ratio", 4.0),
    }


METHOD = Method(
    "naive",
    NaiveConfig,
    generate_dataset,
    saves="a generative method's source prefix and target suffix, glued by one impossible transition",
    empty_hint="build pairs_from first (stitchkit augment diffstitch ...); it accepted no stitch",
)
