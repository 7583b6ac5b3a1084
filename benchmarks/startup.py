"""How long the kit takes to start: `import stitchkit`, the heavy imports, and the `stitchkit` command."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path


def timed(cmd: list[str], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    py = sys.executable
    script = Path(py).parent / "stitchkit"
    rows = {
        "python -c pass": timed([py, "-c", "pass"], args.repeats),
        "import stitchkit": timed([py, "-c", "import stitchkit"], args.repeats),
        "import torch": timed([py, "-c", "import torch"], args.repeats),
        "import mujoco, minari": timed([py, "-c", "import mujoco, minari"], args.repeats),
        "stitchkit --help": timed([str(script), "--help"], args.repeats),
        "stitchkit info": timed([str(script), "info"], args.repeats),
    }
    print(f"{'what':<24}{'best of ' + str(args.repeats):>14}")
    for name, sec in rows.items():
        print(f"{name:<24}{sec * 1000:>11.0f} ms")
    if args.json:
        print(json.dumps({k: round(v, 4) for k, v in rows.items()}))


if __name__ == "__main__":
    main()
