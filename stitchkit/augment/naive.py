"""The naive stitch: glue the state of one episode to a state of another, with no bridge at all.

It is what every real method improves on. The glued transition claims that the source's action at ``source_step``
leads to the target's state at ``target_step``; the physics oracle shows it does not.
"""

from __future__ import annotations

import numpy as np

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
