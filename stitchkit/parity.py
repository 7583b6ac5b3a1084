"""Parity with the literature: the kit's medium-replay data and classic learners read beside D4RL and CORL.

Two questions a reader asks before any stitching result means anything:

* **Are the data D4RL's?** :func:`data_rows` puts each environment's published recording (``full``: the whole
  replay buffer up to its stopping step) and the ``lab`` subsample beside D4RL v2's published statistics, and says
  which statistic misses the tolerance (:data:`stitchkit.data.replay.TOLERANCE`). Computed from the committed
  recordings alone (returns and lengths are recorded), so it costs no replay.
* **Do the learners score what CORL's score on them?** :func:`learner_rows` reads the ``parity`` campaign (BC and
  10%-BC: BC on the best 10% of episodes, the ``-top10`` datasets) and the ``none`` arms of ``campaign-d4rl``
  (TD3+BC, IQL), last evaluation, D4RL-normalised, beside CORL's published last scores and the targets the kit
  set itself. Both are written under ``results/parity/`` (:func:`write`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from stitchkit.campaign import readings
from stitchkit.campaign.records import write_data_summaries
from stitchkit.data import replay
from stitchkit.data.subsample import by_return_indices
from stitchkit.files import atomic_write_json
from stitchkit.paths import project_root
from stitchkit.profiles import get_profile
from stitchkit.stats import mean_ci

ENVS = ("hopper", "walker2d", "halfcheetah")
#: CORL's README (D4RL v2, last evaluation, mean over 4 seeds; ± the seeds' std where CORL prints it)
CORL = {
    "hopper": {"bc": 29.8, "bc-10%": 70.4, "td3bc": 64.4, "iql": 97.4, "cql": 95.1, "dt": 81.8},
    "walker2d": {"bc": 21.8, "bc-10%": 54.4, "td3bc": 85.6, "iql": 82.2, "cql": 73.1, "dt": 59.9},
    "halfcheetah": {"bc": 35.7, "bc-10%": 23.6, "td3bc": 44.8, "iql": 44.5, "cql": 45.0, "dt": 38.9},
}
#: what the kit requires of its own runs on D4RL-like data (issue 43): below these, the data or the learner is wrong
TARGETS = {("hopper", "td3bc"): 50.0, ("hopper", "bc-10%"): 55.0, ("hopper", "iql"): 75.0, ("walker2d", "td3bc"): 65.0}
LEARNERS = ("bc", "bc-10%", "td3bc", "iql")
#: the rows the parity runs fill (issue 43): BC and 10%-BC everywhere, TD3+BC and IQL on hopper and walker2d
ROWS = tuple((env, learner) for env in ENVS for learner in LEARNERS if env != "halfcheetah" or learner.startswith("bc"))


def folder() -> Path:
    return project_root() / "results" / "parity"


def _stats(returns: np.ndarray, lengths: np.ndarray, env: str) -> dict[str, Any]:
    from stitchkit.data.d4rl import d4rl_score

    scores = d4rl_score(env, returns)
    return {
        "transitions": int(lengths.sum()),
        "episodes": len(lengths),
        "d4rl_mean": round(float(scores.mean()), 1),
        "d4rl_best": round(float(scores.max()), 1),
        "median_length": float(np.median(lengths)),
        "mean_length": round(float(lengths.mean()), 1),
    }


def data_rows(envs: tuple[str, ...] = ENVS) -> dict[str, dict[str, Any]]:
    """Per environment with a published recording: its ``full`` and ``lab`` statistics, D4RL's, the misses of
    ``full`` against D4RL's (the tolerance's), and how the recording was stopped."""
    out = {}
    for env in envs:
        try:
            rec, card = replay.published_recording(env)
        except FileNotFoundError:
            continue
        full = _stats(rec["returns"], rec["lengths"], env)
        budget = get_profile("lab").data.locomotion_steps
        keep = by_return_indices(rec["returns"], rec["lengths"], budget, seed=0)
        out[env] = {
            "full": full,
            "lab": _stats(rec["returns"][keep], rec["lengths"][keep], env),
            "d4rl": replay.D4RL_MEDIUM_REPLAY[env],
            "misses": replay.misses(full, env),
            "stop": card["stop"],
            "rule": card["rule"],
            "algorithm": card["algorithm"],
            "schedule": card["settings"].get("schedule", "interleaved"),
        }
    return out


def data_table(rows: dict[str, dict[str, Any]]) -> str:
    """Markdown: each statistic of the kit's ``full`` and ``lab`` medium-replay beside D4RL's."""
    head = "| statistic | " + " | ".join(f"kit {e} (`full`) | kit {e} (`lab`) | D4RL {e}" for e in rows) + " |"
    lines = [head, "|---" * (1 + 3 * len(rows)) + "|"]
    for key, label in (
        ("transitions", "transitions"),
        ("episodes", "episodes"),
        ("d4rl_mean", "mean episode return (D4RL-normalised)"),
        ("d4rl_best", "best episode"),
        ("mean_length", "mean episode length"),
    ):
        cells = []
        for r in rows.values():
            ref = r["d4rl"].get(key)
            if key == "mean_length":
                ref = round(r["d4rl"]["transitions"] / r["d4rl"]["episodes"], 1)
            cells += [f"{r['full'][key]:,}", f"{r['lab'][key]:,}", f"{ref:,}" if ref is not None else "-"]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _arm(env: str, learner: str) -> tuple[str, str, str]:
    """(campaign, dataset id, algorithm) holding a parity row's runs."""
    base = f"stitchkit/{env}/medium-replay-v0"
    if learner == "bc-10%":
        return "parity", f"stitchkit/{env}/medium-replay-top10-v0", "bc"
    if learner == "bc":
        return "parity", base, "bc"
    return "campaign-d4rl", base, learner


def runs() -> list[dict[str, Any]]:
    """Every finished parity run: environment, learner, seed, its spec, curve and last D4RL-normalised score, and
    whether its critic diverged (:func:`stitchkit.campaign.readings.diverged`)."""
    found = {name: readings.records(readings.load(name)) for name in ("parity", "campaign-d4rl")}
    out = []
    for env, learner in ROWS:
        name, dataset, algo = _arm(env, learner)
        for rec in found[name]:
            cell = rec["cell"]
            if (cell["dataset"], cell["augmenter"], cell["algorithm"]) != (dataset, "none", algo):
                continue
            res = rec["result"]
            out.append(
                {
                    "env": env,
                    "learner": learner,
                    "seed": cell["seed"],
                    "campaign": name,
                    "spec": rec["spec"],
                    "curve": {k: res["curve"][k] for k in ("step", "d4rl_score") if k in res["curve"]},
                    "d4rl_last": res.get("d4rl_last"),
                    "diverged": readings.diverged(res),
                }
            )
    return out


def learner_rows(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (environment, learner): the last evaluation's mean and 95% t-interval over seeds, CORL's
    number, the kit's target and whether it is met, and how many seeds diverged."""
    rows = []
    for env, learner in ROWS:
        runs_here = [r for r in found if (r["env"], r["learner"]) == (env, learner)]
        target = TARGETS.get((env, learner))
        row = {"env": env, "learner": learner, "corl": CORL[env][learner], "target": target, "n": len(runs_here)}
        if runs_here:
            values = [r["d4rl_last"] for r in runs_here]
            mean, low, high = mean_ci(values)
            row.update(mean=mean, low=low, high=high, seeds=values)
            row["diverged"] = sum(bool(r["diverged"]) for r in runs_here)
            complete = len(runs_here) >= 3
            row["met"] = None if target is None or not complete else bool(mean >= target and not row["diverged"])
        rows.append(row)
    return rows


def learner_table(rows: list[dict[str, Any]]) -> str:
    """Markdown: the kit's last-evaluation score per learner and environment beside CORL's."""
    lines = [
        "| dataset | learner | kit, last evaluation (95% interval, seeds) | CORL (D4RL v2) | target |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        if "mean" in r:
            lo = "" if r["n"] < 2 else f" [{r['low']:.1f}, {r['high']:.1f}]"
            div = f", {r['diverged']} diverged" if r.get("diverged") else ""
            kit = f"{r['mean']:.1f}{lo} (n={r['n']}{div})"
        else:
            kit = "not yet computed"
        target = (
            "-"
            if r["target"] is None
            else f"≥ {r['target']:.0f}" + ("" if r.get("met") is None else (": met" if r["met"] else ": missed"))
        )
        lines.append(f"| {r['env']}-medium-replay | {r['learner']} | {kit} | {r['corl']} | {target} |")
    return "\n".join(lines)


def write(where: Path | None = None) -> dict[str, Path]:
    """``results/parity/data.json`` (the data beside D4RL's) and ``records.json`` (every finished run, and the
    rows beside CORL's), both regenerated from the committed recordings and campaign records."""
    where = where or folder()
    found = runs()
    # the file is shared: per environment the rows beside D4RL's (here), per dataset id what the parity campaign's
    # runner measured of the data it trained on; one writer, which keeps the other keys
    return {
        "data": write_data_summaries(where, data_rows()),
        "records": atomic_write_json(where / "records.json", {"runs": found, "rows": learner_rows(found)}),
    }


DIVERGENCE_FILE = "divergence.json"  # written by benchmarks/walker_divergence.py: TD3+BC's critic read as it trains


def divergence() -> dict[str, Any]:
    """``results/parity/divergence.json``: per data (``old``: the kit's earlier walker2d medium-replay, rebuilt by its
    own commit; ``new``: the D4RL-recipe data at the same size) and seed, the critic's readings every few thousand
    updates; empty where not yet measured."""
    try:
        return json.loads((folder() / DIVERGENCE_FILE).read_text())
    except (OSError, ValueError):
        return {}


def divergence_reading(found: dict[str, Any] | None = None) -> str:
    """Why TD3+BC's critic diverged on the earlier walker data, in one paragraph generated from the measurement:
    how the critic valued the actor's actions against the data's own as training went on, against the largest
    discounted return any state of the data could have.

    Why this measurement: TD3+BC's critic is trained only on the data's actions, and its target bootstraps from
    Q(s', pi(s')); if the actor's actions leave the data's, the target reads an extrapolation, and a critic whose
    values pass what any policy could earn is feeding on its own error."""
    found = divergence() if found is None else found
    if not found:
        return "Not yet measured: `benchmarks/walker_divergence.py --data old` writes `results/parity/divergence.json`."
    out = []
    for _, e in sorted(found.items()):
        rows = e["rows"]
        first, last = rows[0], rows[-1]
        peak = max(rows, key=lambda r: r["q_max"])
        past = next((r for r in rows if r["q_max"] > e["return_bound"]), None)
        blown = next((r for r in rows if r["critic_loss"] > 100 * first["critic_loss"]), None)
        what = "the kit's earlier walker2d medium-replay" if e["data"] == "old" else "the D4RL-recipe walker2d data"
        text = (
            f"**{what}** ({e['episodes']:,} episodes, median length {e['median_length']:g}, "
            f"{e['terminal_share']:.1%} of transitions terminal), TD3+BC seed {e['seed']}, {e['steps']:,} updates: "
            f"the mean Q(s, π(s)) over 10,000 of the data's states went from {first['q_policy']:.1f} at "
            f"{first['step']:,} updates to {last['q_policy']:,.1f}, against Q(s, a) at the data's own actions "
            f"{first['q_data']:.1f} to {last['q_data']:,.1f}; the largest Q(s, π(s)) peaked at {peak['q_max']:,.0f} "
            f"(update {peak['step']:,}), where no policy can earn more than {e['return_bound']:.0f} "
            f"(the data's largest reward / (1 - γ))"
        )
        text += f", and passed that bound at update {past['step']:,}" if past else ", and stayed below that bound"
        text += (
            f"; the critic's loss passed 100 times its first reading at update {blown['step']:,} "
            f"({first['critic_loss']:.1f} to {blown['critic_loss']:,.0f})."
            if blown
            else f"; the critic's loss went from {first['critic_loss']:.1f} to {last['critic_loss']:.1f}."
        )
        if past is not None:
            before = next((r for r in rows if r["step"] >= past["step"] - 50_000), first)
            text += (
                f" It began in a few states: from update {before['step']:,} to {past['step']:,} the largest value "
                f"climbed from {before['q_max']:,.0f} to {past['q_max']:,.0f} while the mean moved from "
                f"{before['q_policy']:.0f} to {past['q_policy']:.0f}; then the mean followed, and the data's own "
                f"actions were valued past the bound too (mean Q(s, a) {last['q_data']:,.0f} at the end): the error "
                "is not confined to actions the data lacks."
            )
        text += f" The actor's actions sat {last['action_gap']:.2f} from the data's on average (each in [-1, 1])."
        twin = _campaign_twin(e)
        if twin:
            text += " " + twin
        out.append(text)
    return "\n\n".join(out)


def _campaign_twin(e: dict[str, Any]) -> str:
    """Whether the measurement reproduces the closed campaign's record of the same seed on the same data (the
    critic's loss at the evaluations both hold)."""
    if e["data"] != "old":
        return ""
    path = project_root() / "results" / "campaign" / "walker2d-medium-replay" / "none" / f"td3bc-s{e['seed']}.json"
    try:
        curve = json.loads(path.read_text())["result"]["curve"]
    except (OSError, ValueError, KeyError):
        return ""
    mine = {r["step"]: r["critic_loss"] for r in e["rows"]}
    both = [(st, c) for st, c in zip(curve["step"], curve["critic_loss"]) if st in mine]
    if not both:
        return ""
    same = all(abs(mine[st] - c) <= 1e-3 * max(1.0, abs(c)) for st, c in both)
    st, c = both[-1]
    return (
        f"The run {'reproduces' if same else 'does not reproduce'} the closed campaign's seed-{e['seed']} record "
        f"(critic loss {mine[st]:,.1f} here and {c:,.1f} there at update {st:,})."
    )
