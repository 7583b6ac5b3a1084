"""Many short episodes stored as a few long Minari episodes, and unpacked exactly on load.

Why: SER's output is a bag of single transitions and TATU's a heap of rollouts of at most 5 steps, each one episode
of the kit. Minari writes every episode as its own HDF5 group, about 18 KB of headers whatever its length, and
reads it back at about 1.3 ms (measured here): SER's 740,000 one-step episodes at the campaign's size come to about
13 GB (a write stopped at 4.4 GB after 35 minutes, slowing as it grew) and about 16 minutes of reading before every
training run. Packed, they are a few dozen episodes: 100,000 transitions write in 4 s and load in 3 s.

A pack joins short episodes end to end with one *seam* step between each and the next (action 0, reward 0, not
terminal, truncated), and a per-observation info, :data:`KEY`, says which short episode each observation belongs to.
:func:`unpack` cuts a pack at the changes of that info and drops the seams, so what it returns equals what was
packed (the dataset's content hash, taken before packing, checks this on every load). A reader outside the kit sees
the seams as truncated steps; the dataset's metadata says ``packed``.
"""

from __future__ import annotations

import numpy as np

from stitchkit.data.episodes import Episode, Provenance

KEY = "stitchkit_packed_episode"  # per observation: the index of the short episode it belongs to
MAX_MEAN_STEPS = 16  # pack a dataset whose episodes are this short on average (SER's 1 step, TATU's <= 5)
MIN_EPISODES = 1_000  # ... and this many: below it Minari's cost is a second or two, and files stay as Minari's own
PACK_ROWS = 20_000  # observations per pack: about a hundred packs for a million one-step transitions


def worth_packing(episodes: list[Episode]) -> bool:
    """Whether ``episodes`` are short enough that Minari's per-episode cost dominates, and share their info keys
    (a pack holds one set of info arrays)."""
    if len(episodes) < MIN_EPISODES or sum(len(ep) for ep in episodes) > MAX_MEAN_STEPS * len(episodes):
        return False
    keys = set(episodes[0].infos)
    return KEY not in keys and all(set(ep.infos) == keys for ep in episodes)


def pack(episodes: list[Episode]) -> list[Episode]:
    """Join ``episodes`` in order into packs of about :data:`PACK_ROWS` observations (see the module's text)."""
    packs, group, rows = [], [], 0
    for i, ep in enumerate(episodes):
        group.append(i)
        rows += len(ep.observations)
        if rows >= PACK_ROWS or i == len(episodes) - 1:
            packs.append(_join([episodes[j] for j in group], np.asarray(group)))
            group, rows = [], 0
    return packs


def _join(eps: list[Episode], ids: np.ndarray) -> Episode:
    act = eps[0].actions
    seam_a = np.zeros((1, *act.shape[1:]), act.dtype)

    def cat(parts: list[np.ndarray], seam: np.ndarray) -> np.ndarray:
        out = [parts[0]]
        for p in parts[1:]:
            out += [seam, p]
        return np.concatenate(out)

    r0 = eps[0].rewards
    return Episode(
        observations=np.concatenate([ep.observations for ep in eps]),
        actions=cat([ep.actions for ep in eps], seam_a),
        rewards=cat([ep.rewards for ep in eps], np.zeros(1, r0.dtype)),
        terminations=cat([ep.terminations for ep in eps], np.zeros(1, bool)),
        truncations=cat([ep.truncations for ep in eps], np.ones(1, bool)),
        infos={k: np.concatenate([ep.infos[k] for ep in eps]) for k in eps[0].infos}
        | {KEY: np.repeat(ids, [len(ep.observations) for ep in eps])},
        provenance=Provenance(kind="packed"),
    )


def unpack(packs: list[Episode], provenance: list[str] | None = None) -> list[Episode]:
    """The short episodes :func:`pack` joined, in order, ids 0.. (``provenance``: one JSON per short episode)."""
    out: list[Episode] = []
    parsed: dict[str, Provenance] = {}  # SER's 740,000 share one JSON: parse each distinct one once (it is frozen)
    for p in packs:
        ids = np.asarray(p.infos[KEY])
        cuts = np.flatnonzero(np.diff(ids)) + 1
        for s, e in zip(np.r_[0, cuts], np.r_[cuts, len(ids)]):
            i = len(out)
            if provenance and provenance[i] not in parsed:
                parsed[provenance[i]] = Provenance.from_json(provenance[i])
            out.append(
                Episode(
                    p.observations[s:e],
                    p.actions[s : e - 1],
                    p.rewards[s : e - 1],
                    p.terminations[s : e - 1],
                    p.truncations[s : e - 1],
                    {k: v[s:e] for k, v in p.infos.items() if k != KEY},
                    parsed[provenance[i]] if provenance else Provenance(),
                    id=i,
                )
            )
    return out


def compress_provenance(provenance: list[str]) -> list[str] | dict[str, object]:
    """One JSON per episode, or ``{"all": json, "count": n}`` when every episode's is the same (SER's 740,000)."""
    if len(provenance) > 1 and all(p == provenance[0] for p in provenance):
        return {"all": provenance[0], "count": len(provenance)}
    return provenance


def provenance_list(stored: list[str] | dict | None) -> list[str] | None:
    """What :func:`compress_provenance` stored, as one JSON per episode again."""
    if isinstance(stored, dict):
        return [stored["all"]] * int(stored["count"])
    return stored


__all__ = ["KEY", "compress_provenance", "pack", "provenance_list", "unpack", "worth_packing"]
