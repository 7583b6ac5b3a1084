"""The course as a lab plan: each notebook's measured minutes, what it needs first, and two routes through it.

Why: an instructor planning a 2-hour lab must know which notebooks fit live and which to read from the HTML
report. The minutes are never typed: they are read from ``results/course_time/<profile>.json``, which
``benchmarks/course_time.py --record`` (every notebook in a fresh kernel, in course order) and a complete
``make report`` write. Notebook 00 prints the map.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from stitchkit.files import atomic_write_text
from stitchkit.paths import project_root

# notebook -> (what it teaches, the notebooks it needs first: for their ideas, or for what they build and cache)
COURSE: dict[str, tuple[str, tuple[str, ...]]] = {
    "00_tour": ("what stitching is; profiles", ()),
    "01_datasets": ("the datasets, built offline; headroom", ("00_tour",)),
    "02_goal_stitching": ("stitching you can see: chains on the maze, GCBC, is the model needed?", ("01_datasets",)),
    "03_seeing_trajectories": ("rendering and the physics oracle", ("01_datasets",)),
    "04_offline_rl": ("the evaluators: BC, TD3+BC, IQL, CQL, DT", ("01_datasets",)),
    "05_diffstitch": ("DiffStitch, its ablations, is the model needed?", ("03_seeing_trajectories", "04_offline_rl")),
    "06_astro": ("ASTRO: temporal distance, RDF", ("05_diffstitch",)),
    "07_tels": ("TELS: T-symmetry, latent state-stitching", ("04_offline_rl",)),
    "08_baselines": ("SER and TATU beside DiffStitch", ("05_diffstitch",)),
    "09_benchmark": (
        "the benchmark, statistics, the campaign's records",
        ("05_diffstitch", "06_astro", "08_baselines"),
    ),
}
# notebook -> the notebooks whose cached runs, models or generated data it reads (a subset of "needs first": the
# rest are needed for their ideas). `make report` runs two notebooks at a time and starts one only after these.
REUSES: dict[str, tuple[str, ...]] = {
    "05_diffstitch": ("01_datasets",),  # the original arms on hopper medium-replay are 01's headroom runs
    "06_astro": ("05_diffstitch",),  # DiffStitch's arms and saved dataset
    "08_baselines": ("05_diffstitch",),
    "09_benchmark": tuple(nb for nb in COURSE if nb not in ("00_tour", "03_seeing_trajectories", "09_benchmark")),
}
# run in a 2-hour lab, in this order: 03 before 02, whose chains are judged by 03's physics oracle (02 explains it
# in a paragraph, so the full course keeps the numbered order)
LIVE_2H = ("00_tour", "03_seeing_trajectories", "02_goal_stitching", "05_diffstitch")


def times_path(profile: str = "lab") -> Path:
    return project_root() / "results" / "course_time" / f"{profile}.json"


def load_times(profile: str = "lab", path: Path | None = None) -> dict[str, Any] | None:
    """The latest recorded course timing at ``profile`` (None when none was recorded)."""
    try:
        return json.loads((path or times_path(profile)).read_text())
    except (OSError, ValueError):
        return None


def record_times(line: dict[str, Any], path: Path | None = None) -> Path:
    """Save one course timing (``course_time.py``'s JSON line: profile, machine, notebooks -> seconds, failed)."""
    path = path or times_path(line["profile"])
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(line, indent=1, sort_keys=True) + "\n")
    return path


def course_map(profile: str = "lab", times: dict[str, Any] | None = None, budget_min: float = 12.0) -> str:
    """The map as Markdown: per notebook its minutes at ``profile`` (from the record), what it needs first, then the
    two routes with their live minutes."""
    times = times if times is not None else load_times(profile)
    secs = (times or {}).get("notebooks", {})

    def minutes(nb: str) -> str:
        if nb not in secs:
            return "not yet measured"
        m = secs[nb] / 60
        return f"{m:.1f}" + (" (over budget)" if m > budget_min else "")

    rows = [f"| notebook | what it teaches | `{profile}` minutes | needs first |", "|---|---|---|---|"]
    rows += [f"| `{nb}` | {what} | {minutes(nb)} | {', '.join(needs) or '-'} |" for nb, (what, needs) in COURSE.items()]
    head = (
        f"Minutes: each notebook in a fresh kernel, in course order, on {times['machine']} "
        f"(`benchmarks/course_time.py --record`); total {sum(secs.values()) / 60:.0f} min."
        if times
        else "Minutes: not yet measured at this profile (`benchmarks/course_time.py --profile "
        f"{profile} --record` writes them)."
    )

    def total(nbs) -> str:
        known = [secs[nb] for nb in nbs if nb in secs]
        return f"{sum(known) / 60:.0f} min" if len(known) == len(list(nbs)) else "not yet measured"

    read = [nb for nb in COURSE if nb not in LIVE_2H]
    routes = [
        "",
        f"**A 2-hour lab session.** Run live: {', '.join(f'`{nb}`' for nb in LIVE_2H)} ({total(LIVE_2H)} of "
        f"computing, the rest of the time for reading and the exercises); read from the HTML report "
        f"(`make report`): {', '.join(f'`{nb}`' for nb in read)}.",
        "",
        f"**The full course.** All ten in order, each after what it needs ({total(COURSE)} of computing at "
        f"`{profile}`); the later notebooks reuse the earlier ones' cached runs and models.",
    ]
    return "\n".join([head, "", *rows, *routes])


README_START, README_END = (
    "<!-- course-table: generated by stitchkit.course.update_readme -->",
    "<!-- /course-table -->",
)
README_TOPICS = {  # the README's longer line per notebook
    "00_tour": "what stitching is (measured on a toy world), the course map, profiles, GPUs",
    "01_datasets": "offline datasets built locally in Minari format: maze stitching, D4RL-style locomotion, headroom",
    "02_goal_stitching": "the first measured effect: GCBC on the maze, chains naive and bridged, where the bridge "
    "matters (the search), goal swapping, GCIVL, a budget sweep",
    "03_seeing_trajectories": "MuJoCo rendering, the physics oracle, the StitchViewer widget",
    "04_offline_rl": "BC, TD3+BC, IQL, CQL and Decision Transformer",
    "05_diffstitch": "DiffStitch: every model, every module, ablations, is the model needed?",
    "06_astro": "ASTRO: temporal distances, Rollout Deviation Feedback, is the model needed?",
    "07_tels": "TELS: T-symmetry, latent state-stitching, the small-data study",
    "08_baselines": "SER and TATU (DiffStitch's baselines): oracle error, coverage, downstream",
    "09_benchmark": "the full benchmark, statistics, the campaign's records: every method of the course in one grid",
}


def readme_block(times: dict[str, Any] | None) -> str:
    """README's notebook map, minutes from the record (``not yet measured`` without one), with its source."""
    secs = (times or {}).get("notebooks", {})
    rows = ["| notebook | what it teaches | `lab` minutes |", "|---|---|---|"]
    rows += [
        f"| `{nb}` | {README_TOPICS[nb]} | {secs[nb] / 60:.1f} |"
        if nb in secs
        else f"| `{nb}` | {README_TOPICS[nb]} | - |"
        for nb in COURSE
    ]
    source = (
        f"`lab` minutes: each notebook's wall time in course order on {times['machine']}, "
        f"{sum(secs.values()) / 60:.0f} minutes in all ({times.get('source', 'benchmarks/course_time.py --record')}). "
        "Written from `results/course_time/lab.json` by `benchmarks/course_time.py --record`; a test keeps this "
        "table and the record equal."
        if secs
        else "`lab` minutes: not yet measured (`benchmarks/course_time.py --profile lab --record`)."
    )
    return "\n".join([README_START, *rows, "", source, README_END])


def update_readme(times: dict[str, Any] | None = None, path: Path | None = None) -> Path:
    """Rewrite README's notebook map between its markers from the course-time record."""
    path = path or project_root() / "README.md"
    text = path.read_text()
    a, b = text.index(README_START), text.index(README_END) + len(README_END)
    atomic_write_text(path, text[:a] + readme_block(times if times is not None else load_times("lab")) + text[b:])
    return path


__all__ = [
    "COURSE",
    "LIVE_2H",
    "REUSES",
    "course_map",
    "load_times",
    "readme_block",
    "record_times",
    "times_path",
    "update_readme",
]
