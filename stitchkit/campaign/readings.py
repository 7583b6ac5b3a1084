"""Reading a campaign's records: metrics, the table beside the paper's, divergence flags, readings of differences
with their intervals, seeds past the data, the settings set beside the paper's, progress, the README and the
learning curves. Read-only: everything a notebook needs, and nothing that runs."""

from __future__ import annotations

import contextlib
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from stitchkit.bench import BenchError
from stitchkit.campaign.divergence import DIVERGED, TD_LOSSES, diverged, divergence_notes, td_loss
from stitchkit.campaign.records import (
    TOP,
    Campaign,
    archive_folder,
    data_summaries,
    data_summary,
    load,
    records,
    results_folder,
    short_id,
    spec,
)
from stitchkit.files import atomic_write_text
from stitchkit.stats import difference_ci, mean_ci, seeds_needed

# ------------------------------------------------------------------------------------------------- reading it
TAIL = 4  # evaluations averaged by the "_tail" metrics: the last 75k of 300k updates at one per 25k
METRICS = {
    "d4rl_last": "D4RL-normalised score at the last evaluation",
    "d4rl_best": "D4RL-normalised score at the best evaluation",
    "d4rl_tail": f"D4RL-normalised score averaged over the last {TAIL} evaluations",
    "score_last": "kit score at the last evaluation",
    "score_best": "kit score at the best evaluation",
    "score_tail": f"kit score averaged over the last {TAIL} evaluations",
}


def metric_value(result: dict[str, Any], metric: str) -> float | None:
    """One run's ``metric`` (a key of :data:`METRICS`), or None where the record lacks it.

    Why "_tail": the papers (and CORL) report the last evaluation, but one 10-episode evaluation of IQL on hopper
    swings by 60 points between neighbouring evaluations, so one run's last value is mostly noise. The mean of
    the last :data:`TAIL` evaluations is computed from the stored curve (no record changes) and shown beside the
    papers' "last" convention, never instead of it."""
    if metric not in METRICS:
        raise BenchError(f"unknown campaign metric {metric!r}; accepted: {', '.join(METRICS)}")
    if not metric.endswith("_tail"):
        return result.get(metric)
    values = result["curve"].get("d4rl_score" if metric.startswith("d4rl") else "score")
    return None if not values else float(np.mean(values[-TAIL:]))


GENTLER = 0.15  # a build's mean |action| this far (as a share) from its data's is listed among the reasons


def data_table(c: Campaign, folder: Path | None = None) -> str:
    """The data's own episodes beside the campaign's datasets (``data.json``); a dataset the runner has not
    loaded yet shows as "not yet computed"."""
    known = data_summaries(folder or results_folder(c))
    rows = [
        "| dataset | episodes | transitions | median episode length | best episode | best tenth's mean | mean |",
        "|---|---|---|---|---|---|---|",
    ]
    for d in c.grid.datasets:
        s = known.get(d)
        if s is None:
            rows.append(f"| {short_id(d)} | " + " | ".join(["not yet computed"] * 6) + " |")
            continue
        rows.append(
            f"| {short_id(d)} | {s['episodes']:,} | {s['transitions']:,} | {s['median_length']:g} | "
            f"{s['d4rl_best']:.1f} | {s['d4rl_top']:.1f} | {s['d4rl_mean']:.1f} |"
        )
    return "\n".join(rows)


def past_the_data(
    c: Campaign, recs: list[dict[str, Any]], metric: str = "d4rl_tail", folder: Path | None = None
) -> str:
    """Per arm, how many seeds end above the data's best tenth (what 10%-BC copies) and above its best episode,
    with each seed's value: a markdown table on the D4RL scale (``data.json``).

    Why: a stitching method's promise is a learner that climbs past the best the data holds, and a mean over 3
    seeds hides how: two seeds far above the data's best episode and one stuck below its best tenth average to a
    middling score with a wide interval. Counting seeds says which happened."""
    if not metric.startswith("d4rl"):
        raise BenchError(f"past_the_data reads the D4RL scale (the data's summary is D4RL-normalised), not {metric!r}")
    known = data_summaries(folder or results_folder(c))
    sc = scores(recs, metric)
    augs = c.grid.augmenters
    rows = ["| dataset | learner | " + " | ".join(augs) + " |", "|---|---|" + "---|" * len(augs)]
    for d in c.grid.datasets:
        data = known.get(d)
        for algo in c.grid.algorithms:
            cells = []
            for a in augs:
                v = sc.get((d, algo, a), [])
                if not v or data is None:
                    cells.append("not yet computed")
                    continue
                top = sum(x > data["d4rl_top"] for x in v)
                best = sum(x > data["d4rl_best"] for x in v)
                seeds = ", ".join(f"{x:.1f}" for x in v)
                cells.append(f"{best}/{len(v)} past the best episode, {top}/{len(v)} past the best tenth<br>({seeds})")
            rows.append(f"| {short_id(d)} | {algo} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def scores(recs: list[dict[str, Any]], metric: str = "score_last") -> dict[tuple[str, str, str], list[float]]:
    """{(dataset, algorithm, augmenter): [metric per seed]} (``metric``: a key of :data:`METRICS`)."""
    out: dict[tuple[str, str, str], list[float]] = {}
    for r in recs:
        c, v = r["cell"], metric_value(r["result"], metric)
        if v is not None:
            out.setdefault((c["dataset"], c["algorithm"], c["augmenter"]), []).append(v)
    return out


def table(
    c: Campaign, recs: list[dict[str, Any]], metric: str = "d4rl_last", augmenters: tuple[str, ...] | None = None
) -> str:
    """DiffStitch's Table 1 shape in Markdown: a row per (dataset, learner), a column per augmenter (all, or
    ``augmenters``), each cell "mean [95% CI] (n)" over seeds (with how many of them diverged, :func:`diverged`),
    the paper's "mean ± std" beside it for the D4RL-normalised metrics; a cell without records reads "not yet
    computed"."""
    sc = scores(recs, metric)
    broke: dict[tuple[str, str, str], int] = {}
    for r in recs:
        if diverged(r["result"]):
            key = (r["cell"]["dataset"], r["cell"]["algorithm"], r["cell"]["augmenter"])
            broke[key] = broke.get(key, 0) + 1
    augs = augmenters or c.grid.augmenters
    head = ["dataset", "learner"] + list(augs)
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for d in c.grid.datasets:
        for algo in c.grid.algorithms:
            cells = []
            for a in augs:
                v = sc.get((d, algo, a))
                text = "not yet computed"
                if v:
                    m, lo, hi = mean_ci(v)
                    bad = broke.get((d, algo, a), 0)
                    ci = f" [{lo:.1f}, {hi:.1f}]" if len(v) > 1 else ""
                    text = f"{m:.1f}{ci} (n={len(v)}" + (f", {bad} diverged" if bad else "") + ")"
                paper = _paper(c, d, algo, a)
                if paper is not None and metric.startswith("d4rl"):
                    text += f"<br>paper {paper[0]:.1f}" + (f" ± {paper[1]:.1f}" if paper[1] is not None else "")
                cells.append(text)
            rows.append("| " + " | ".join([short_id(d), algo] + cells) + " |")
    return "\n".join(rows)


def _paper(c: Campaign, dataset: str, algorithm: str, augmenter: str) -> tuple[float, float | None] | None:
    """The published (mean, std) of a cell, from the campaign file's ``[paper]`` (a number: the mean alone)."""
    v = c.paper.get(dataset, {}).get(algorithm, {}).get(augmenter)
    if v is None:
        return None
    return (float(v), None) if isinstance(v, int | float) else (float(v[0]), float(v[1]))


SETUP_ROWS = {  # [paper_setup] key -> the row's name in :func:`versus_paper`
    "data": "data",
    "steps": "learner updates",
    "seeds": "seeds per cell",
    "learners": "learners",
    "evaluation": "reported score",
}


def _value(v: Any) -> str:
    """A setting as the campaign-vs-paper table prints it."""
    if isinstance(v, bool) or v is None:
        return str(v)
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, list | tuple):
        return " x ".join(map(str, v)) if all(isinstance(x, int) for x in v) else ", ".join(map(str, v))
    return str(v)


def _data_cell(c: Campaign, folder: Path) -> str:
    """The campaign's datasets as the runner measured them (``data.json``): size and D4RL-normalised returns."""
    known, out = data_summaries(folder), []
    for d in c.grid.datasets:
        s = known.get(d)
        text = f"{s['transitions']:,} transitions, {s['episodes']:,} episodes, mean {s['d4rl_mean']:.1f}, " if s else ""
        out.append(f"{short_id(d)}: " + (f"{text}best {s['d4rl_best']:.1f}" if s else "not yet loaded by the runner"))
    return f"the kit's `{c.profile_name}` build<br>" + "<br>".join(out)


def latest_builds(c: Campaign, augmenter: str, folder: Path) -> dict[str, dict[str, Any]]:
    """Each dataset's latest build of this augmenter (``builds/``) that generated something; the rest left out."""
    out = {}
    for d in c.grid.datasets:
        with contextlib.suppress(OSError, ValueError, IndexError, KeyError, TypeError):
            build = json.loads((folder / "builds" / f"{short_id(d)}-{augmenter}.json").read_text())[-1]
            if build["summary"].get("accepted_transitions"):
                out[d] = build
    return out


# A build's measured facts (:func:`build_facts`): each one's column heading and how it reads in a sentence
FACT_PHRASES = {
    "accepted": ("bridges accepted", "{} of bridges accepted"),
    "oracle": ("physics-oracle error", "physics-oracle error {}"),
    "action": ("mean \\|action\\|", "mean \\|action\\| {}"),
    "reward": ("reward per step", "reward per step {}"),
}


def build_facts(build: dict[str, Any]) -> dict[str, str]:
    """A build record's measured facts (keys of :data:`FACT_PHRASES`), those it holds: the share of bridges
    accepted, the physics-oracle error, mean |action| and reward per step beside the parent data's."""
    b, oracle, act = build["summary"], build.get("oracle", {}), build.get("actions", {})
    facts = {"accepted": f"{b['accepted'] / b['generated']:.0%}"} if b.get("generated") else {}
    if oracle.get("n"):
        facts["oracle"] = f"median {oracle['median']:.3g} (p90 {oracle['p90']:.3g})"
    if act.get("n"):
        facts["action"] = f"{act['mean_abs']:.3f} (the data's {act['data_mean_abs']:.3f})"
    if "reward" in act:
        facts["reward"] = f"{act['reward']:.3f} (the data's {act['data_reward']:.3f})"
    return facts


def volume(folder: Path, dataset: str, build: dict[str, Any]) -> float | None:
    """A build's accepted transitions as a multiple of its parent data's (the campaign's data summary), or None."""
    orig = data_summaries(folder).get(dataset, {}).get("transitions")
    return build["summary"]["accepted_transitions"] / orig if orig else None


def _generated(c: Campaign, augmenter: str, folder: Path) -> str:
    """What the builds generated, per dataset, and its size against the original data's."""
    builds = latest_builds(c, augmenter, folder)
    out = []
    for d in c.grid.datasets:
        if d not in builds:
            out.append(f"{short_id(d)}: not yet built")
            continue
        n, vol = builds[d]["summary"]["accepted_transitions"], volume(folder, d, builds[d])
        share = f" ({vol:.2f} x the data)" if vol else ""
        facts = "".join(f", {FACT_PHRASES[k][1].format(v)}" for k, v in build_facts(builds[d]).items())
        out.append(f"{short_id(d)}: {n:,}{share} in {builds[d]['seconds'] / 3600:.1f} h{facts}")
    return "<br>".join(out)


def versus_paper(c: Campaign, folder: Path | None = None) -> str:
    """Every setting in which the campaign differs from the paper it is read against, as a markdown table printed
    from the campaign file, the methods' declarations (``Method.paper``) and the build records: data, learner
    updates, seeds, each generator's sizes, steps, sampler, guidance and generated volume, the batch ratio and the
    qualification threshold.

    Why: a campaign's "not shown" is a statement about *these* settings; a reader who sees only the paper's numbers
    beside the kit's would take it for a statement about the method."""
    from stitchkit import augment

    folder = folder or results_folder(c)
    setup, prof = c.paper_setup, c.profile()
    first = c.cells()[0]
    sp = spec(c, first)
    ours = {
        "data": _data_cell(c, folder),
        "steps": _value(c.train["steps"]),
        "seeds": _value(len(c.grid.seeds)),
        "learners": f"{', '.join(c.grid.algorithms)}: {_value(list(c.train.get('hidden', [])))} networks, "
        f"batch {sp['batch_size']}",
        "evaluation": f"last evaluation (every {c.train['eval_every']:,} updates, {c.train['eval_episodes']} episodes)",
    }
    rows = ["| setting | this campaign | the paper |", "|---|---|---|"]
    rows += [f"| {name} | {ours[key]} | {_value(setup.get(key, '-'))} |" for key, name in SETUP_ROWS.items()]
    for a in (a for a in c.grid.augmenters if a != "none"):
        m = augment.method(a)
        sizes: dict[str, Any] = {}
        for t in reversed(m.sizes):  # its own table last: its own value wins a shared name
            sizes |= asdict(t.of(prof))
        configs = [augment.resolved_config(a, d, c.grid.options_for(a, d)) for d in c.grid.datasets]
        for key, theirs in m.paper.items():
            if key == "volume":
                continue
            if key == "ratio":
                mine = f"{c.grid.ratio(a):.3g} original : 1 generated"
            elif all(getattr(cf, key, None) is not None for cf in configs):  # an option (per dataset)
                mine = ", ".join(sorted({_value(getattr(cf, key)) for cf in configs}))
            else:  # a size (an option left to the sizes reads as its size)
                mine = _value(sizes.get(key, "-"))
            rows.append(f"| {a}: {key} | {mine} | {_value(theirs)} |")
        rows.append(f"| {a}: generated transitions | {_generated(c, a, folder)} | {m.paper.get('volume', '-')} |")
    return "\n".join(rows)


def why_not_refuted(
    c: Campaign, recs: list[dict[str, Any]], folder: Path | None = None, metric: str = "d4rl_tail"
) -> str:
    """Why a null result of this campaign does not refute the paper: a bulleted list built from the same facts as
    :func:`versus_paper` (budgets against the paper's) and from the records (seeds the paper's difference would
    need at the measured spread, curves still rising at the last evaluation). Each line is a measured or declared
    fact; none is a guess about the outcome."""
    from stitchkit import augment

    folder = folder or results_folder(c)
    setup, prof, out = c.paper_setup, c.profile(), []
    steps = setup.get("steps")
    if isinstance(steps, int) and steps > c.train["steps"]:
        out.append(
            f"- **Learner budget**: {c.train['steps']:,} updates per run, {c.train['steps'] / steps:.0%} of the "
            f"paper's {steps:,}."
        )
    curves = [r["result"]["curve"] for r in recs]
    tails = [cv.get("d4rl_score", cv.get("score", [])) for cv in curves]
    tails = [t for t in tails if len(t) > TAIL]
    if tails:
        up = sum(t[-1] > np.mean(t[-TAIL - 1 : -1]) for t in tails)
        out.append(
            f"- **Still climbing?** In {up} of {len(tails)} runs the last evaluation is above the mean of the "
            f"{TAIL} before it."
        )
    sc = scores(recs, metric)
    for a in (a for a in c.grid.augmenters if a != "none"):
        m, sizes, builds = augment.method(a), {}, latest_builds(c, a, folder)
        for t in reversed(m.sizes):
            sizes |= asdict(t.of(prof))
        short = [
            f"{k} {sizes[k]:,} of {v:,}"
            for k, v in m.paper.items()
            if k in sizes
            and isinstance(v, int)
            and not isinstance(v, bool)
            and isinstance(sizes[k], int)
            and sizes[k] < v
        ]
        if short:
            out.append(f"- **{a}, smaller than released**: " + "; ".join(short) + ".")
        released = next((v for k, v in m.paper.items() if k in ("budget", "samples") and isinstance(v, int)), 0)
        out += [
            f"- **{a}, volume on {short_id(d)}**: {n:,} generated transitions against the released {released:,}: at "
            f"the same share of each batch, each is drawn {released / n:.1f} x as often as in the released setting."
            for d, n in ((d, b["summary"]["accepted_transitions"]) for d, b in builds.items())
            if n < released
        ]
        for d, b in builds.items():
            act = b.get("actions", {})
            share = act["mean_abs"] / act["data_mean_abs"] if act.get("n") else 1.0
            if abs(share - 1) > GENTLER:
                x, y = sc.get((d, "td3bc", a), []), sc.get((d, "td3bc", "none"), [])
                arm, diff = "", difference_ci(x, y) if min(len(x), len(y)) > 1 else None  # both arms: 2 seeds
                if diff is not None:
                    arm = " (its TD3+BC arm: {:+.1f} [{:+.1f}, {:+.1f}] against the original data, {})"
                    arm = arm.format(*diff, METRICS[metric])
                out.append(
                    f"- **{a}, action size on {short_id(d)}**: its generated transitions' mean |action| is "
                    f"{act['mean_abs']:.3f}, the data's {act['data_mean_abs']:.3f} ({share:.2f} x); a learner "
                    "that clones each batch's actions (TD3+BC's policy loss) is pulled toward them" + f"{arm}."
                )
        if "return_guidance" in m.paper:
            used = {augment.resolved_config(a, d, c.grid.options_for(a, d)).return_guidance for d in c.grid.datasets}
            if used != {m.paper["return_guidance"]}:
                out.append(
                    f"- **{a}, return guidance**: w = {', '.join(f'{w:g}' for w in sorted(used))} here, "
                    f"{m.paper['return_guidance']:g} released (bridges pushed toward a high return)."
                )
    for d in c.grid.datasets:
        for algo in c.grid.algorithms:
            for a in (a for a in c.grid.augmenters if a != "none"):
                x, y = sc.get((d, algo, a), []), sc.get((d, algo, "none"), [])
                effect = paper_difference(c, d, (algo, a), (algo, "none"))
                if len(x) >= 2 and len(y) >= 2 and effect:
                    need = seeds_needed(x, y, effect)
                    have, planned = min(len(x), len(y)), len(c.grid.seeds)
                    if need > planned:
                        out.append(
                            f"- **Seeds, {algo} + {a} on {short_id(d)}**: the paper's {effect:+.1f} would need {need} "
                            f"seeds per arm at the spread measured here; the campaign runs {planned}"
                            + (f" ({have} landed in the smaller arm so far)." if have < planned else ".")
                        )
    data = setup.get("data")
    if data:
        out.append(f"- **Data**: the paper's is {data}; the campaign's is the kit's own (table above).")
    return "\n".join(out) if out else "- no difference declared between this campaign and the paper"


def banner(c: Campaign, recs: list[dict[str, Any]]) -> str:
    """The label every notebook puts over the campaign's numbers: what they are and how to reproduce them."""
    machines = sorted({r["provenance"]["machine"]["device"] for r in recs}) or ["-"]
    if c.closed:  # its data recipe was replaced: the numbers are history, said before they are read
        return (
            f"**Closed campaign, precomputed** at {c.train['steps']:,} updates per run on {', '.join(machines)} "
            f"(records in `results/{c.name}/`; {len(recs)} of {len(c.cells())} runs done). **It {c.closed}.**"
        )
    return (
        f"**Precomputed** at {c.train['steps']:,} updates per run, one seed per run, on {', '.join(machines)} "
        f"(records in `results/{c.name}/`; `make campaign` reproduces and continues them): "
        f"**{len(recs)} of {len(c.cells())} runs done**."
    )


def overview(c: Campaign, recs: list[dict[str, Any]], augmenters: tuple[str, ...] | None = None) -> str:
    """What notebooks show first: the banner, then the D4RL-normalised Table-1 grid at the last evaluation (the
    papers' convention). The differences from the original data, at the last evaluation and averaged over the last
    evaluations, are drawn beside it (:func:`stitchkit.campaign.plots.plot_forest`) rather than tabled twice."""
    return (
        banner(c, recs)
        + "\n\nD4RL-normalised score at the last evaluation (the papers' convention): mean [95% t-interval] "
        "(seeds), the paper's mean ± std below it. The forest plot under it draws each augmenter's difference from "
        f"the original data, at the last evaluation and averaged over each run's last {TAIL} evaluations (one "
        "evaluation is 10 episodes and swings by tens of points; the average is the steadier reading).\n\n"
        + table(c, recs, "d4rl_last", augmenters)
    )


def section(c: Campaign, recs: list[dict[str, Any]], augmenters: tuple[str, ...] | None = None) -> str:
    """A campaign as notebooks 05, 08 and 09 open it: the settings beside the paper's (:func:`versus_paper`), why a
    null result would not refute the paper (:func:`why_not_refuted`), and only then the grid (:func:`overview`).

    Why this order: the grid's "not shown" is about the settings above it, so they are read first."""
    return (
        f"**`{c.name}` vs the paper**, setting by setting:\n\n"
        + versus_paper(c)
        + "\n\n**Why a null result here is not a refutation** (from the table above and the records):\n\n"
        + why_not_refuted(c, recs)
        + "\n\n"
        + overview(c, recs, augmenters)
    )


def compare(label: str, x: list[float], y: list[float], names: tuple[str, str], paper_diff: float | None) -> str:
    """One honest line: x against y, each with its 95% interval, the difference with its 95% Welch interval beside
    the paper's, and the verdict from the difference's interval: it excludes 0 (the direction shows at this many
    seeds) or spans 0 (it cannot be told from seed spread). Intervals that do not even overlap are said so. Then
    the paper's own difference against the same interval: inside it, the kit's result is consistent with the paper's
    effect size; outside it, the lift (or fall) here is smaller or larger than the paper's at this many seeds
    (:func:`beyond`), which an interval spanning 0 alone would not say."""
    if len(x) < 2 or len(y) < 2:
        return f"- **{label}**: not yet computed ({len(x)} seed(s) of {names[0]}, {len(y)} of {names[1]})."
    (mx, lx, hx), (my, ly, hy) = mean_ci(x), mean_ci(y)
    diff, dl, dh = difference_ci(x, y)
    text = (
        f"- **{label}**: {names[0]} {mx:.1f} [{lx:.1f}, {hx:.1f}] vs {names[1]} {my:.1f} [{ly:.1f}, {hy:.1f}], "
        f"difference {diff:+.1f} [{dl:+.1f}, {dh:+.1f}]"
        + (f" (paper {paper_diff:+.1f})" if paper_diff is not None else "")
        + "; "
    )
    same = paper_diff is None or (diff > 0) == (paper_diff > 0)
    if dl > 0 or dh < 0:
        apart = " (the two intervals are apart)" if lx > hy or ly > hx else ""
        text += f"the difference's interval excludes 0{apart}: " + (
            "the paper's direction holds here." if same else "the opposite of the paper's direction."
        )
    else:
        text += (
            f"the difference's interval spans 0: at {min(len(x), len(y))} seeds this cannot be told from seed spread"
            + (" (the sign agrees with the paper's)." if same else " (the sign is the paper's opposite).")
        )
    if paper_diff is None:
        return text
    if dl <= paper_diff <= dh:
        return text + f" The paper's {paper_diff:+.1f} lies inside the interval: consistent with its effect size."
    return text + f" The paper's {paper_diff:+.1f} lies outside the interval, " + beyond(paper_diff, paper_diff > dh)


def beyond(paper_diff: float, below: bool) -> str:
    """How the kit's difference stands to a paper's that lies outside its interval, said by the effect's sign: an
    interval ``below`` a paper's fall is a larger fall, not a "smaller effect" (the kit read TATU's IQL arm,
    -47.5 [-80.1, -14.9] against the paper's -11.8, as smaller before this)."""
    where = "above it" if below else "below it"
    if paper_diff == 0:
        return f"{where}: the paper's shows no difference, the kit's interval excludes it."
    what = {
        (True, True): "the lift here is smaller than the paper's, if there is one",
        (True, False): "the lift here is larger than the paper's",
        (False, True): "the fall here is larger than the paper's",
        (False, False): "the fall here is smaller than the paper's, if there is one",
    }[(paper_diff > 0, below)]
    return f"{where}: {what}."


def paper_difference(c: Campaign, d: str, a: tuple[str, str], b: tuple[str, str]) -> float | None:
    pa, pb = _paper(c, d, *a), _paper(c, d, *b)
    return None if pa is None or pb is None else pa[0] - pb[0]


def reading(c: Campaign, recs: list[dict[str, Any]], augmenter: str, metric: str = "d4rl_last") -> str:
    """A line per (dataset, learner), generated from the records: ``augmenter`` against the original data
    (:func:`compare`)."""
    sc = scores(recs, metric)
    return "\n".join(
        compare(
            f"{algo} on {short_id(d)}",
            sc.get((d, algo, augmenter), []),
            sc.get((d, algo, "none"), []),
            (augmenter, "original"),
            paper_difference(c, d, (algo, augmenter), (algo, "none")),
        )
        for d in c.grid.datasets
        for algo in c.grid.algorithms
    )


def readings_of(c: Campaign, recs: list[dict[str, Any]], augmenters: tuple[str, ...]) -> str:
    """Each augmenter's :func:`reading`, at the last evaluation (the papers' metric) and averaged over each run's
    last :data:`TAIL` evaluations (the steadier one), as the notebooks print them under a campaign's grid."""
    return "\n\n".join(
        f"*{a}*, last evaluation\n\n"
        + reading(c, recs, a)
        + f"\n\n*{a}*, averaged over each run's last {TAIL} evaluations\n\n"
        + reading(c, recs, a, metric="d4rl_tail")
        for a in augmenters
    )


def seeds_table(
    c: Campaign, recs: list[dict[str, Any]], metric: str = "d4rl_tail", augmenters: tuple[str, ...] | None = None
) -> str:
    """Markdown: per (dataset, learner, augmenter), the two arms' spreads over seeds and the seeds per arm the
    paper's difference would need to show at that spread (:func:`stitchkit.stats.seeds_needed`): whether the
    campaign's 3 seeds could have shown the paper's lift at all, or the learner's seed spread hides it."""
    sc = scores(recs, metric)
    rows = [
        "| dataset | learner | augmenter | sd (augmented, original) | paper's difference | seeds per arm to show it |",
        "|---|---|---|---|---|---|",
    ]
    for d in c.grid.datasets:
        for algo in c.grid.algorithms:
            for a in augmenters or tuple(x for x in c.grid.augmenters if x != "none"):
                x, y = sc.get((d, algo, a), []), sc.get((d, algo, "none"), [])
                effect = paper_difference(c, d, (algo, a), (algo, "none"))
                if len(x) < 2 or len(y) < 2 or not effect:
                    continue
                sds = f"{np.std(x, ddof=1):.1f}, {np.std(y, ddof=1):.1f}"
                rows.append(f"| {short_id(d)} | {algo} | {a} | {sds} | {effect:+.1f} | {seeds_needed(x, y, effect)} |")
    return "\n".join(rows) if len(rows) > 2 else "not yet computed: no cell has 2 seeds of both arms"


def reading_learners(
    c: Campaign, recs: list[dict[str, Any]], learner: str, augmenter: str = "none", metric: str = "d4rl_last"
) -> str:
    """A line per (dataset, other learner): ``learner`` against each other learner of the campaign on the same
    data (TELS's small-data row: TELS against POR and TD3+BC)."""
    sc = scores(recs, metric)
    return "\n".join(
        compare(
            f"{learner} vs {other} on {short_id(d)}",
            sc.get((d, learner, augmenter), []),
            sc.get((d, other, augmenter), []),
            (learner, other),
            paper_difference(c, d, (learner, augmenter), (other, augmenter)),
        )
        for d in c.grid.datasets
        for other in c.grid.algorithms
        if other != learner
    )


def progress(c: Campaign, folder: Path | None = None) -> dict[str, Any]:
    """Runs done out of planned (per dataset), and the CPU hours spent: training (records), builds, and runs archived
    after a settings change made them stale (:func:`archive_folder`)."""
    folder = folder or results_folder(c)
    recs = records(c, folder)
    per = {short_id(d): [0, 0] for d in c.grid.datasets}
    for cell in c.cells():
        per[short_id(cell.dataset)][1] += 1
    for r in recs:
        per[short_id(r["cell"]["dataset"])][0] += 1
    train_h = sum(r["provenance"]["wall_seconds"] for r in recs) / 3600
    archived_h = 0.0
    for path in sorted(archive_folder(folder).glob("*/*/*/*.json")):
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            archived_h += json.loads(path.read_text())["provenance"]["wall_seconds"] / 3600
    build_h = 0.0
    for path in sorted((folder / "builds").glob("*.json")):
        try:
            build_h += sum(b.get("cpu_seconds", b["seconds"]) for b in json.loads(path.read_text())) / 3600
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return {
        "done": len(recs),
        "planned": len(c.cells()),
        "per_dataset": per,
        "train_cpu_hours": round(train_h, 2),
        "build_cpu_hours": round(build_h, 2),
        "archived_cpu_hours": round(archived_h, 2),  # runs made stale by a settings change (archive_folder)
    }


def write_readme(c: Campaign, folder: Path | None = None) -> Path:
    """``results/<name>/README.md``: progress, CPU hours and the table so far (regenerated after each record)."""
    folder = folder or results_folder(c)
    p, recs = progress(c, folder), records(c, folder)
    sizes = "; ".join(f"{s}: " + ", ".join(f"{k}={v}" for k, v in vals.items()) for s, vals in c.sizes.items())
    text = "\n".join(
        [
            f"# Campaign `{c.name}`: records (generated by `stitchkit campaign`, do not edit)",
            "",
            f"**{p['done']} of {p['planned']} runs done** ("
            + ", ".join(f"{d}: {a} of {b}" for d, (a, b) in p["per_dataset"].items())
            + f"). CPU hours: {p['train_cpu_hours']:.1f} training + {p['build_cpu_hours']:.1f} augmented-data builds"
            + (
                f" + {p['archived_cpu_hours']:.1f} in runs archived after a settings change "
                f"(`results/archive/{folder.name}/`)."
                if p["archived_cpu_hours"]
                else "."
            ),
            "",
            f"Each run: one seed, {c.train['steps']:,} updates, evaluated every {c.train['eval_every']:,} on "
            f"{c.train['eval_episodes']} episodes; networks "
            + ("-".join(map(str, c.train["hidden"])) if "hidden" in c.train else "at the profile's widths")
            + ", "
            f"profile `{c.profile_name}` data; generator sizes over `{c.profile_name}`: {sizes or 'none'}.",
            "`make campaign` runs the next pending cells; a record is `<dataset>/<augmenter>/<learner>-s<seed>.json`.",
            "",
            "## D4RL-normalised score at the last evaluation: mean [95% t-interval] (seeds)",
            "",
            table(c, recs, "d4rl_last"),
            "",
            f"## D4RL-normalised score averaged over each run's last {TAIL} evaluations: mean [95% t-interval] (seeds)",
            "",
            table(c, recs, "d4rl_tail"),
            "",
            "## Kit score (normalised by the kit's own random and expert policies) at the last evaluation",
            "",
            table(c, recs, "score_last"),
            "",
            f"## Runs whose value function diverged (TD loss over {DIVERGED:g}x its early median; kept in the means)",
            "",
            divergence_notes(recs),
            "",
            f"## The data's own episodes, D4RL-normalised: what imitating them could reach (best tenth: {TOP:.0%})",
            "",
            data_table(c, folder),
            "",
        ]
    )
    path = folder / "README.md"
    atomic_write_text(path, text)
    return path


# what a notebook reads with: the readings here, and from the records module the campaign file and its records
__all__ = [
    "DIVERGED",
    "METRICS",
    "TAIL",
    "TD_LOSSES",
    "banner",
    "compare",
    "data_summary",
    "data_table",
    "diverged",
    "divergence_notes",
    "load",
    "metric_value",
    "overview",
    "past_the_data",
    "progress",
    "reading",
    "reading_learners",
    "records",
    "scores",
    "seeds_table",
    "table",
    "td_loss",
    "versus_paper",
    "why_not_refuted",
    "write_readme",
]
