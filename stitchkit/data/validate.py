"""Every dataset the kit reads or writes is checked before use: finite values, consistent shapes, actions within the
action space.

Why: one NaN reward in a Minari file used to load silently, show ``return_mean nan`` and kill training 100 steps
later with a traceback; a generator that produced ``inf`` would have been saved the same way. The check runs on
every load (:func:`stitchkit.data.registry.load_episodes`) and before every write
(:func:`~stitchkit.data.registry.write_dataset`: nothing invalid is written), and fails with one line naming the
dataset, the field, the episode and the step. It is a few vectorised passes over arrays already in memory
(``benchmarks/validate_cost.py`` measures it against the load itself).
"""

from __future__ import annotations

import numpy as np

from stitchkit.data.episodes import Episode

ACTION_TOLERANCE = 1e-4  # actions may exceed the space by float rounding (a clipped float32), no more


class InvalidDataError(ValueError):
    """A dataset holds a value the kit cannot train on; the message names where, and what to do."""


def _first_bad(values: np.ndarray) -> tuple[int, str] | None:
    """The first step (row) holding a NaN or an infinity, and which."""
    bad = ~np.isfinite(values)
    if not bad.any():
        return None
    row = int(np.argmax(bad.reshape(len(values), -1).any(1)))
    kind = "NaN" if np.isnan(values[row]).any() else "an infinity"
    return row, kind


def check_episodes(
    dataset_id: str,
    episodes: list[Episode],
    action_low: np.ndarray | float | None = None,
    action_high: np.ndarray | float | None = None,
    fix: str = "",
) -> None:
    """Raise :class:`InvalidDataError` at the first problem: a NaN or infinity in observations, actions, rewards or
    a per-step info array; observation or action widths that differ between episodes; an action outside
    [``action_low``, ``action_high``] (beyond :data:`ACTION_TOLERANCE`). (Flag arrays of the wrong length never get
    this far: :class:`~stitchkit.data.episodes.Episode` refuses them. A termination may sit mid-episode: OGBench's
    maze data flag every step at the goal.) ``fix`` says what to do (rebuild, regenerate), appended to the message."""
    tail = f"; {fix}" if fix else ""
    if not episodes:
        return
    obs_dim, act_dim = episodes[0].observations.shape[1:], episodes[0].actions.shape[1:]
    for i, ep in enumerate(episodes):
        if ep.observations.shape[1:] != obs_dim or ep.actions.shape[1:] != act_dim:
            raise InvalidDataError(
                f"{dataset_id}: episode {i} has observations {ep.observations.shape[1:]} and actions "
                f"{ep.actions.shape[1:]}, episode 0 has {obs_dim} and {act_dim}{tail}"
            )
        arrays = {"observations": ep.observations, "actions": ep.actions, "rewards": ep.rewards}
        arrays |= {f"infos[{k!r}]": v for k, v in ep.infos.items() if np.issubdtype(np.asarray(v).dtype, np.number)}
        for name, values in arrays.items():
            found = _first_bad(np.asarray(values, np.float64))
            if found:
                raise InvalidDataError(f"{dataset_id}: {name} holds {found[1]} at episode {i}, step {found[0]}{tail}")
        if action_low is not None and action_high is not None and len(ep.actions):
            out = (ep.actions < np.asarray(action_low) - ACTION_TOLERANCE) | (
                ep.actions > np.asarray(action_high) + ACTION_TOLERANCE
            )
            if out.any():
                t = int(np.argmax(out.any(1)))
                raise InvalidDataError(
                    f"{dataset_id}: actions leave the action space [{np.min(action_low):g}, {np.max(action_high):g}] "
                    f"at episode {i}, step {t} (value {ep.actions[t][out[t]][0]:g}){tail}"
                )


def content_hash(episodes: list[Episode]) -> str:
    """16 hex digits of what the episodes hold (observations, actions, rewards and flags, to float32 precision, in
    order). Stored at write time; a load that finds other contents knows the file was edited, so runs and models
    keyed on the dataset's fingerprint are not reused (:func:`stitchkit.data.registry.load_episodes`)."""
    import hashlib

    h = hashlib.sha1()
    for ep in episodes:
        for a in (ep.observations, ep.actions, ep.rewards):
            h.update(np.ascontiguousarray(a, np.float32).tobytes())
        for a in (ep.terminations, ep.truncations):
            h.update(np.ascontiguousarray(a, np.uint8).tobytes())
    return h.hexdigest()[:16]


def action_bounds(space) -> tuple[np.ndarray | None, np.ndarray | None]:
    """A Box action space's (low, high), or (None, None) for anything else."""
    low, high = getattr(space, "low", None), getattr(space, "high", None)
    return (np.asarray(low), np.asarray(high)) if low is not None and high is not None else (None, None)


__all__ = ["ACTION_TOLERANCE", "InvalidDataError", "action_bounds", "check_episodes", "content_hash"]
