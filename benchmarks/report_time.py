"""How long `make report` took, read from what it wrote: the course's timing record beside the 90-minute goal.

    .venv/bin/python benchmarks/report_time.py --reports /tmp/clone/reports --setup 123 --data 1700 --wall 3900 \
        --source "make report PROFILE=lab from a fresh clone of <commit>, ..." --record

``stitchkit report`` writes each page's seconds (``index.json``) and its cells' seconds, slowest first
(``<page>.cells.json``); the phases before it (``make setup``, ``make data``) and the report's own wall time come
from the run that timed them (a script's ``date +%s`` stamps). Prints one line per notebook and the total; with
``--record`` writes ``results/course_time/report_<profile>.json``. Notebook times here are beside another notebook
(``--workers 2``), so a notebook under 12 minutes here is under 12 minutes alone; one over it needs an alone timing
(``benchmarks/course_time.py``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

GOAL_MINUTES = 90  # make report PROFILE=lab from a fresh clone
NOTEBOOK_GOAL_SECONDS = 720  # each notebook at lab


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--reports", type=Path, default=Path("reports"), help="the folder `make report` wrote")
    p.add_argument("--setup", type=float, required=True, help="seconds of `make setup` (pip)")
    p.add_argument("--data", type=float, required=True, help="seconds of `stitchkit data defaults` (make data)")
    p.add_argument("--wall", type=float, required=True, help="seconds of the notebook phase (stitchkit report)")
    p.add_argument("--source", default="", help="how it was run: commit, machine, what else ran")
    p.add_argument("--record", action="store_true", help="write results/course_time/report_<profile>.json")
    args = p.parse_args()

    pages = json.loads((args.reports / "index.json").read_text())
    profiles = {pg["profile"] for pg in pages}
    if len(profiles) != 1:
        raise SystemExit(f"{args.reports}/index.json mixes profiles {sorted(profiles)}: time one build at a time")
    profile = profiles.pop()
    notebooks, slowest, failed = {}, {}, []
    for pg in pages:
        name = Path(pg["notebook"]).stem
        notebooks[name] = round(pg["seconds"], 1)
        cells = args.reports / f"{name}.cells.json"
        slowest[name] = json.loads(cells.read_text())[:3] if cells.exists() else []
        if not pg["ok"]:
            failed.append(name)
        flag = "FAILED" if not pg["ok"] else ("over 12 min beside another" if pg["seconds"] > 720 else "ok")
        print(f"{name:<28} {pg['seconds']:8.1f} s  {flag}")
    total = args.setup + args.data + args.wall
    print(
        f"setup {args.setup:.0f} s, data {args.data:.0f} s, notebooks {args.wall:.0f} s: {total:.0f} s = "
        f"{total / 60:.1f} min (goal {GOAL_MINUTES})"
    )
    from stitchkit.campaign.records import machine_text

    record = {
        "profile": profile,
        "machine": machine_text(),
        "commit": sorted({pg["commit"] for pg in pages}),
        "setup_seconds": round(args.setup),
        "data_seconds": round(args.data),
        "notebooks_wall_seconds": round(args.wall),
        "total_seconds": round(total),
        "total_minutes": round(total / 60, 1),
        "goal_minutes": GOAL_MINUTES,
        "notebooks": notebooks,
        "notebooks_over_12_min_beside_another": [n for n, s in notebooks.items() if s > NOTEBOOK_GOAL_SECONDS],
        "failed": failed,
        "slowest_cells": slowest,
        "source": args.source,
    }
    if args.record:
        from stitchkit.files import atomic_write_text

        out = Path("results/course_time") / f"report_{profile}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out, json.dumps(record, indent=1, sort_keys=True) + "\n")
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
