"""A bridge method's generated dataset in a few megabytes, rebuilt exactly from its parent.

Each stitched episode (DiffStitch, ASTRO) is a source prefix and a target suffix of the parent's own episodes joined
by a short generated bridge, and its provenance says which. Storing only the bridges (their states, actions and
rewards) and the four indices of each join is therefore enough to rebuild the whole generated dataset from the
parent: a few megabytes where the dataset holds hundreds of thousands of transitions.

Why: a paper-sized DiffStitch build takes hours of one CPU core, and the machines it runs on keep no ``data/`` from
one session to the next. The campaign commits this file beside its build record (``results/<campaign>/stages/``),
so that a later session rebuilds the augmented dataset from it in seconds instead of regenerating it for hours; the
rebuilt dataset's content fingerprint is the original build's (the build history shows both). A file over a few
megabytes (a paper-volume build's bridges) is kept in ``data/stages/`` instead, uncommitted
(``campaign.records.stage_path``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from stitchkit.augment.bridges import Bridge, assemble
from stitchkit.data.episodes import Episode
from stitchkit.files import atomic_write_npz

FIELDS = ("source_episode", "source_step", "target_episode", "target_step", "bridge_steps", "id")


class CompactError(ValueError):
    """Episodes that are not single stitched joins, or a file that does not match the parent it is rebuilt on."""


def compactable(episodes: list[Episode]) -> bool:
    """Whether every episode is one stitched join (a bridge method's output; not a chain, a rollout, a transition)."""
    return bool(episodes) and all(
        ep.provenance.kind == "stitched" and ep.provenance.pieces is None and ep.provenance.bridge_steps
        for ep in episodes
    )


def pack(episodes: list[Episode], meta: dict[str, Any]) -> dict[str, np.ndarray]:
    """The arrays of a compact file: per episode its join (:data:`FIELDS`), and every bridge's inner states (the
    Delta - 1 generated ones), actions and rewards (Delta each), concatenated; ``meta`` as JSON."""
    if not compactable(episodes):
        raise CompactError("only a bridge method's stitched episodes (one join each) can be stored compactly")
    joins, states, actions, rewards, xs = [], [], [], [], []
    for ep in episodes:
        p = ep.provenance
        t, n = p.source_step, p.bridge_steps
        joins.append([p.source_episode, t, p.target_episode, p.target_step, n, ep.id])
        states.append(ep.observations[t + 1 : t + n])
        actions.append(ep.actions[t : t + n])
        rewards.append(ep.rewards[t : t + n])
        if "x_position" in ep.infos:  # for rendering only: the bridge's x and the target suffix's first
            xs.append(ep.infos["x_position"][t + 1 : t + n + 1])
    return {
        "joins": np.asarray(joins, np.int64),
        "states": np.concatenate(states),
        "actions": np.concatenate(actions),
        "rewards": np.concatenate(rewards),
        "x_position": np.concatenate(xs) if len(xs) == len(episodes) else np.zeros(0),
        "method": np.asarray(episodes[0].provenance.method or ""),
        "meta": np.asarray(json.dumps(meta, sort_keys=True)),
    }


def write(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    """Write a compact file atomically (a kill leaves the old file or none)."""
    return atomic_write_npz(path, arrays)


def meta(path: Path) -> dict[str, Any] | None:
    """The metadata a compact file was written with, or None when it is missing or unreadable."""
    try:
        with np.load(path) as z:
            return json.loads(str(z["meta"]))
    except (OSError, ValueError, KeyError):
        return None


def unpack(arrays: dict[str, np.ndarray], parent: list[Episode], env: str) -> list[Episode]:
    """The stitched episodes, rebuilt from the parent's episodes: each source prefix, its bridge, each target
    suffix (:func:`stitchkit.augment.bridges.assemble`, the very function that built them)."""
    index = {int(ep.id): i for i, ep in enumerate(parent)}
    out, s, a = [], 0, 0
    for src, t, tgt, t2, n, new_id in arrays["joins"].tolist():
        if (
            src not in index
            or tgt not in index
            or t >= len(parent[index[src]].observations)
            or t2 > len(parent[index[tgt]].actions)
        ):
            raise CompactError(f"join {src}:{t} -> {tgt}:{t2} is not in the parent's {len(parent)} episodes")
        first, last = parent[index[src]].observations[t], parent[index[tgt]].observations[t2]
        inner = arrays["states"][s : s + n - 1]
        bridge = Bridge(
            source=(index[src], t),
            target=(index[tgt], t2),
            steps=n,
            states=np.concatenate([first[None], inner, last[None]]),
            actions=arrays["actions"][a : a + n],
            rewards=arrays["rewards"][a : a + n],
            model_error=float("nan"),
            terminal=False,
            return_ok=True,
            accepted=True,
        )
        ep = assemble(env, parent, bridge, new_id, str(arrays["method"]))
        if len(arrays["x_position"]) and "x_position" in ep.infos:  # the saved x (for rendering), not re-integrated
            saved, tail = arrays["x_position"][a : a + n], parent[index[tgt]].infos["x_position"][t2:]
            src_x = parent[index[src]].infos["x_position"][: t + 1]
            ep.infos["x_position"] = np.concatenate([src_x, saved[:-1], tail + (saved[-1] - tail[0])])
        out.append(ep)
        s, a = s + n - 1, a + n
    return out


def read(path: Path, parent: list[Episode], env: str) -> list[Episode]:
    """:func:`unpack` of the file at ``path``."""
    with np.load(path) as z:
        return unpack({k: z[k] for k in z.files}, parent, env)
