"""How long the course takes: every notebook executed at a profile in a fresh kernel, its wall time, and the total.

    .venv/bin/python benchmarks/course_time.py --profile lab            # the whole course (39 min here in Dec 2026)
    .venv/bin/python benchmarks/course_time.py --profile lab 02 05      # some notebooks, by number or name

Run it from a state where ``make data`` has run (that is what a student has). The notebooks run one after another,
as a student runs them, so a notebook that reuses what an earlier one built (a cached run, trained models) is timed
the way the course meets it. Prints one line per notebook, then one JSON line: {"profile", "machine",
"notebooks": {name: seconds}, "failed": [...], "total_seconds"}. The goal at ``lab`` is 12 minutes per notebook.
"""

from __future__ import annotations

import argparse
import json
import os
import time


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--profile", default="lab")
    p.add_argument("notebooks", nargs="*", help="numbers (02) or names (02_goal_stitching); default: all")
    p.add_argument("--timeout", type=int, default=3600, help="seconds per notebook")
    p.add_argument("--save", help="a folder to write each executed notebook into (.ipynb), to read its outputs")
    p.add_argument(
        "--record",
        action="store_true",
        help="write the timing to results/course_time/<profile>.json (notebook 00's course map reads it)",
    )
    p.add_argument("--source", default="", help="with --record: how it was run (commit, data state, what else ran)")
    args = p.parse_args()

    from stitchkit.campaign.records import machine_text
    from stitchkit.report import execute_notebook, list_notebooks

    chosen = [
        nb
        for nb in list_notebooks()
        if not args.notebooks or any(nb.stem == a or nb.stem.split("_")[0] == a for a in args.notebooks)
    ]
    if not chosen:
        raise SystemExit(f"no notebook matches {args.notebooks}; the course: {[n.stem for n in list_notebooks()]}")
    times, failed = {}, []
    for nb in chosen:
        t0 = time.perf_counter()
        done, error = execute_notebook(nb, args.profile, args.timeout)
        times[nb.stem] = round(time.perf_counter() - t0, 1)
        if args.save:
            import nbformat

            os.makedirs(args.save, exist_ok=True)
            nbformat.write(done, os.path.join(args.save, f"{nb.stem}.ipynb"))
        if error:
            failed.append(nb.stem)
        flag = "FAILED: " + error if error else ("over 12 min" if times[nb.stem] > 720 else "ok")
        print(f"{nb.stem:<28} {times[nb.stem]:8.1f} s  {flag}", flush=True)
    machine = machine_text()
    line = {
        "profile": args.profile,
        "machine": machine,
        "notebooks": times,
        "failed": failed,
        "total_seconds": round(sum(times.values()), 1),
        **({"source": args.source} if args.source else {}),
    }
    if args.record:
        from stitchkit.course import record_times, update_readme

        print(f"recorded in {record_times(line)}")
        if args.profile == "lab" and not failed and len(times) == len(list_notebooks()):
            print(f"README's notebook map rewritten: {update_readme(line)}")
    print(json.dumps(line))


if __name__ == "__main__":
    main()
