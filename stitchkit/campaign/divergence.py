"""Whether a campaign run's value function diverged: its temporal-difference loss blown up against its own early
level. A flag the campaign's tables count beside each cell (:mod:`stitchkit.campaign.readings`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from stitchkit.campaign.records import short_id

TD_LOSSES = ("critic_loss", "q_loss", "v_loss", "value_loss")  # TD3+BC and CQL; IQL; POR and TELS; GCIVL
DIVERGED = 100.0  # a TD loss this many times its early median: hopper's healthy runs stay within 10x


def diverged(result: dict[str, Any]) -> bool | None:
    """Whether a run's value function diverged: its temporal-difference loss (the first of :data:`TD_LOSSES` in
    the curve) is non-finite, or more than :data:`DIVERGED` times its median over the run's first quarter of
    evaluations, at any later evaluation. None where the record holds no loss curve (records before losses
    were kept).

    Why a flag: a diverged critic drives its policy to near-zero return (walker2d TD3+BC, seed 0: the critic's
    loss went from about 40 to 6e9 between 125k and 300k updates), so that run's score says the learner was
    unstable on this data, not that the data taught it less. The table counts such runs beside each cell;
    their scores stay in the means (the papers report every seed)."""
    td = td_loss(result)
    if td is None:
        return None
    _, loss, early = td
    return bool(not np.isfinite(loss).all() or (loss > DIVERGED * max(early, 1e-8)).any())


def td_loss(result: dict[str, Any]) -> tuple[str, np.ndarray, float] | None:
    """(its name, the TD loss per evaluation, its median over the first quarter), or None without a loss curve."""
    curve = result.get("curve", {})
    key = next((k for k in TD_LOSSES if k in curve), None)
    if key is None:
        return None
    loss = np.asarray(curve[key], float)
    return key, loss, float(np.median(loss[: max(1, len(loss) // 4)]))


def divergence_notes(recs: list[dict[str, Any]]) -> str:
    """A Markdown line per diverged run (its TD loss early and at its peak), then how many records hold no loss
    curve to check."""
    lines, unknown = [], 0
    for r in recs:
        flag, c = diverged(r["result"]), r["cell"]
        if flag is None:
            unknown += 1
        elif flag:
            cv = r["result"]["curve"]
            key, loss, early = td_loss(r["result"])
            peak = int(np.nanargmax(np.where(np.isfinite(loss), loss, np.inf)))
            lines.append(
                f"- `{short_id(c['dataset'])}/{c['augmenter']}/{c['algorithm']}-s{c['seed']}`: {key} {early:.3g} "
                f"early, {loss[peak]:.3g} at {cv['step'][peak]:,} updates; last D4RL score "
                f"{r['result'].get('d4rl_last', float('nan')):.1f}"
            )
    if not lines:
        lines.append("- none" + (" of the records with a loss curve" if unknown else ""))
    if unknown:
        lines.append(f"- {unknown} record(s) keep no loss curve (written before losses were recorded)")
    return "\n".join(lines)
