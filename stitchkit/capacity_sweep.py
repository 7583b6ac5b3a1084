"""Does the original data catch up with a bigger network or a longer run? Notebook 02's capacity sweep, recorded.

Why a record: the sweep trains GCBC to twice the profile's budget at two widths on two datasets (the maze's
original fragments, and the same fragments with DiffStitch-bridged chains), 3 seeds each: about as much CPU as
all of notebook 02's other arms together, for one figure. ``benchmarks/goal_lesson.py --sweep`` runs it once and
writes ``results/goal_sweep/<profile>.json`` (committed); notebook 02 reads and draws it, and every sentence about
it is printed from the record. The runs are ordinary cached :func:`stitchkit.train.run` calls, so the record is
the same code path as the notebook's own arms.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from stitchkit.files import atomic_write_text
from stitchkit.paths import project_root
from stitchkit.profiles import Profile, get_profile

MAZE = "stitchkit/pointmaze-medium/stitch-v0"
CHAINS = "stitchkit/pointmaze-medium/stitch-chain-ds-v0"  # notebook 02's DiffStitch chains
CHAIN_OPTIONS = {"joint": "diffstitch"}
RATIO = 0.25  # original : chained (ChainConfig's), as in notebook 02
ARMS = {"original": None, "DiffStitch chains": CHAINS}
BUDGETS = (0.5, 1.0, 2.0)  # read at these multiples of the profile's goal-conditioned budget


def widths(profile: str | Profile) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The profile's GCBC width and one twice as wide."""
    hidden = tuple(get_profile(profile).goals.hidden)
    return hidden, tuple(2 * w for w in hidden)


def record_path(profile: str | Profile) -> Path:
    return project_root() / "results" / "goal_sweep" / f"{get_profile(profile).name}.json"


def load(profile: str | Profile = "lab", path: Path | None = None) -> dict[str, Any] | None:
    """The recorded sweep, or None when it has not been run (read-only, never an error)."""
    try:
        return json.loads((path or record_path(profile)).read_text())
    except (OSError, ValueError):
        return None


def jobs(profile: str | Profile, seeds: int) -> dict[tuple[str, tuple[int, ...]], dict[str, Any]]:
    """(arm, width) -> the :func:`stitchkit.train.run` keywords of one sweep run: GCBC to twice the budget."""
    prof = get_profile(profile)
    steps = int(BUDGETS[-1] * prof.goals.steps)
    out = {}
    for width in widths(prof):
        for arm, aug in ARMS.items():
            extra = dict(augmented_id=aug, ratio=RATIO) if aug else {}
            out[(arm, width)] = dict(
                algo_name="gcbc", dataset_id=MAZE, seeds=seeds, profile=prof.name, steps=steps, hidden=width, **extra
            )
    return out


def run(
    profile: str | Profile = "lab",
    seeds: int = 3,
    processes: int = 2,
    path: Path | None = None,
    source: str = "",
) -> dict[str, Any]:
    """Build the chains (cached), train every sweep run (cached, ``processes`` at a time) and write the record:
    per (arm, width), the mean and per-seed success on the long tasks at every evaluation."""
    from stitchkit import augment
    from stitchkit.data import registry
    from stitchkit.train import run_many

    prof = get_profile(profile)
    t0 = time.perf_counter()
    augment.run("chain", MAZE, CHAINS, prof, log=lambda *_: None, **CHAIN_OPTIONS)
    todo = jobs(prof, seeds)
    runs = []
    for (arm, width), out in zip(todo, run_many(list(todo.values()), processes=processes)):
        steps = sorted({r["step"] for r in out["curves"]})
        per_seed = [[float(r["score"]) for r in out["curves"] if r["step"] == s] for s in steps]
        runs.append(
            {
                "arm": arm,
                "width": list(width),
                "steps": steps,
                "mean": [float(np.mean(p)) for p in per_seed],
                "per_seed": per_seed,
            }
        )
    rec = {
        "profile": prof.name,
        "budget": prof.goals.steps,
        "seeds": seeds,
        "batch_size": prof.goals.batch_size,
        "ratio": RATIO,
        "chains": CHAINS,
        "fingerprints": {d: registry.fingerprint(d) for d in (MAZE, CHAINS)},
        "runs": runs,
        "seconds": round(time.perf_counter() - t0),
        "source": source,
    }
    path = path or record_path(prof)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(rec, indent=1) + "\n")
    return rec


def curve(rec: dict[str, Any], arm: str, width: tuple[int, ...] | list[int]) -> dict[str, Any]:
    """The recorded run of ``arm`` at ``width``."""
    for r in rec["runs"]:
        if r["arm"] == arm and tuple(r["width"]) == tuple(width):
            return r
    raise KeyError(f"no sweep run for {arm!r} at width {tuple(width)}; recorded: {[r['arm'] for r in rec['runs']]}")


def table(rec: dict[str, Any]) -> str:
    """Markdown: success at each of :data:`BUDGETS` per width and arm, per seed."""
    lines = ["| MLP | steps | arm | success % | per seed |", "|---|---|---|---|---|"]
    for r in rec["runs"]:
        for mult in BUDGETS:
            s = int(mult * rec["budget"])
            if s in r["steps"]:
                i = r["steps"].index(s)
                seeds = [round(x) for x in r["per_seed"][i]]
                lines.append(f"| {tuple(r['width'])} | {s} | {r['arm']} | {r['mean'][i]:.0f} | {seeds} |")
    return "\n".join(lines)


def verdicts(rec: dict[str, Any]) -> list[str]:
    """One line per width: where each arm stands at the largest budget, and whether the original caught up."""
    lines = []
    for width in dict.fromkeys(tuple(r["width"]) for r in rec["runs"]):
        o, c = (curve(rec, arm, width) for arm in ARMS)
        lo, lc = o["mean"][-1], c["mean"][-1]
        lines.append(
            f"- MLP {width}, {o['steps'][-1]} steps ({rec['seeds']} seeds): original {lo:.0f}%, DiffStitch chains "
            f"{lc:.0f}%: " + ("the chains keep their lead" if lc > lo else "the original data have caught up")
        )
    return lines
