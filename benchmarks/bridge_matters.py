"""Where do generated bridges beat naive joints? (issue 28) The search of :mod:`stitchkit.bridge_search`, run and
printed: each axis's points, each joint type (naive, DiffStitch, ASTRO) and the original fragments, the long tasks'
success with a 95% bootstrap interval over seeds, and what the joints are (gap, share through a wall, median
physics-oracle error). Rows are appended to ``results/bridge_matters/<profile>.json`` as they finish (a rerun
continues the search), then the whole table and, with ``--json``, one JSON line.

    .venv/bin/python benchmarks/bridge_matters.py --profile lab --seeds 5 [--gap-seeds 10] [--axes gap walls] [--json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from stitchkit import bridge_search


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--profile", default="lab")
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--gap-seeds", type=int, default=10, help="seeds of the gap axis (the pilot's confirmation)")
    axes = [*bridge_search.AXES, "locomotion"]
    p.add_argument("--axes", nargs="+", default=axes, choices=axes)
    p.add_argument("--out", type=Path, help="rows file (default: results/bridge_matters/<profile>.json)")
    p.add_argument(
        "--arms", nargs="+", choices=["original", *bridge_search.ARMS], help="only these arms (one process per core)"
    )
    p.add_argument("--json", action="store_true")
    args = p.parse_args()

    import torch

    torch.set_num_threads(1)
    rows = bridge_search.run(args.profile, args.axes, args.seeds, args.gap_seeds, args.out, arms=args.arms)
    print(
        f"\n{args.profile}: success on the five long tasks, mean [95% bootstrap CI over seeds]; joints: gap (maze "
        "units), share through a wall, median physics-oracle error"
    )
    for r in rows:
        print(bridge_search.format_row(r))
    print("\n".join(["", *bridge_search.verdicts(rows)]))
    if args.json:
        print(json.dumps({"profile": args.profile, "rows": rows}))


if __name__ == "__main__":
    main()
