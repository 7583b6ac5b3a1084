"""The attribution pair (issue 44): does return guidance carry DiffStitch's lift? Two campaigns share the data, the
sizes and the seeds and differ in one setting: ``campaign-d4rl``'s DiffStitch samples toward a high return with
classifier-free guidance, as the released code does; ``campaign-guidance``'s is trained without the return condition
and sampled without guidance. This module reads them together: the learners' scores (:func:`guidance_pair`) and the
two builds, measured before any learner ran on them (:func:`guidance_builds`), since a build can differ in more than
the setting that was changed (how many bridges land, so how much data the arm trains on) and the page must say so."""

from __future__ import annotations

from typing import Any

from stitchkit.campaign.readings import (
    FACT_PHRASES,
    build_facts,
    compare,
    latest_builds,
    paper_difference,
    scores,
    volume,
)
from stitchkit.campaign.records import Campaign, results_folder, short_id

ARMS = ("guided", "unguided")


def guidance_pair(
    c: Campaign,
    guided: list[dict[str, Any]],
    unguided: list[dict[str, Any]],
    algorithm: str = "td3bc",
    metric: str = "d4rl_last",
) -> str:
    """``c``, ``guided``: the guided campaign and its records (its ``none`` arm is the original data); ``unguided``:
    the records of the same DiffStitch, sizes and seeds without guidance. Per dataset of ``c`` that the unguided arm
    ran, three lines (:func:`~stitchkit.campaign.readings.compare`): guided against unguided, then each against the
    original data. The paper reports only the guided method, so only that line carries the paper's difference."""
    g, u = scores(guided, metric), scores(unguided, metric)
    lines = []
    for d in dict.fromkeys(r["cell"]["dataset"] for r in unguided) or c.grid.datasets[:1]:
        with_g, without = g.get((d, algorithm, "diffstitch"), []), u.get((d, algorithm, "diffstitch"), [])
        original, where = g.get((d, algorithm, "none"), []), f"{algorithm} on {short_id(d)}"
        paper = paper_difference(c, d, (algorithm, "diffstitch"), (algorithm, "none"))
        lines += [
            compare(f"guided vs unguided DiffStitch, {where}", with_g, without, ARMS, None),
            compare(
                f"guided DiffStitch vs the original data, {where}", with_g, original, ("guided", "original"), paper
            ),
            compare(f"unguided vs the original data, {where}", without, original, ("unguided", "original"), None),
        ]
    return "\n".join(lines)


def _volumes_differ(c: Campaign, dataset: str, builds: dict[str, dict[str, Any]], vol: dict[str, float | None]) -> str:
    """One sentence when the two builds added different amounts of data (``vol``: each arm's multiple of the data,
    more than 5% apart): the arms then differ in volume as well as in guidance, and at a fixed share of each batch
    the smaller build's transitions are each drawn more often. Says whether the smaller one stopped at the
    campaign's iteration cap (so it wanted more)."""
    if None in vol.values() or abs(vol["guided"] - vol["unguided"]) <= 0.05 * max(vol.values()):
        return ""
    small = min(vol, key=vol.get)
    b, cap = builds[small]["summary"], c.sizes.get("stitch", {}).get("max_iterations")
    capped = (
        f" (it stopped at the campaign's cap of {cap:,} stitching iterations, `max_iterations`)"
        if cap and b.get("iterations", 0) >= cap
        else ""
    )
    return (
        f"\n\nOn {short_id(dataset)} the arms differ in volume as well as in guidance: the guided build added "
        f"{vol['guided']:.2f} x the data, the unguided {vol['unguided']:.2f} x; the {small} build is the smaller"
        f"{capped}. At a fixed share of each batch each of its transitions is drawn "
        f"{max(vol.values()) / vol[small]:.2f} x as often, so a difference between the arms is guidance's together "
        "with the volume it brought."
    )


def guidance_builds(guided: Campaign, unguided: Campaign) -> str:
    """Markdown: the guided and the unguided DiffStitch builds side by side, per dataset the unguided campaign
    builds, then a sentence where their volumes differ. Why before any learner: guidance is meant to raise the
    bridges' reward (their reward model's labels); whether it also changes how gently they move (TD3+BC clones the
    actions), how well they obey the physics or how many land can be read from the two builds alone, and says which
    of those a difference between the two arms could come from."""
    head = " | ".join(heading for heading, _ in FACT_PHRASES.values())
    rows = [f"| dataset | build | generated | {head} |", "|---|---|---|---|---|---|---|"]
    sentences = ""
    for d in unguided.grid.datasets:
        built, vols = {}, {}
        for label, c in zip(ARMS, (guided, unguided)):
            b = latest_builds(c, "diffstitch", results_folder(c)).get(d)
            if b is None:
                rows.append(f"| {short_id(d)} | {label} ({c.name}) | not yet built | | | | |")
                continue
            built[label], vols[label], facts = b, volume(results_folder(c), d, b), build_facts(b)
            made = f"{b['summary']['accepted_transitions']:,}"  # not the hours: a build may resume a session's work
            made += f" ({vols[label]:.2f} x the data)" if vols[label] else ""
            made += f" in {b['summary']['iterations']:,} it." if "iterations" in b["summary"] else ""
            cells = " | ".join(facts.get(k, "-") for k in FACT_PHRASES)
            rows.append(f"| {short_id(d)} | {label} ({c.name}) | {made} | {cells} |")
        if len(built) == 2:
            sentences += _volumes_differ(unguided, d, built, vols)
    return "\n".join(rows) + sentences
