"""The `full` grid's four slow parts on this machine, at git revision REF and in the working tree, in one run.

Issue 32 names where the `full` grid's GPU hours go: Decision Transformer updates, DiffStitch's U-Net, CQL's
critic passes and evaluation. This script measures each at `full` sizes for a bounded number of steps, at REF
(checked out into a temporary worktree) and in the working tree, each figure in its own fresh process, the two
sides interleaved round by round (the order swapped every round) so both see the same machine load. It prints
the median of the rounds per figure and the speed-up, and with ``--json`` one JSON line last.

    .venv/bin/python benchmarks/full_speed.py --compare 5c229ea [--rounds 3] [--dt-batch 512] [--out F] [--json]
    .venv/bin/python benchmarks/full_speed.py --project F   # the grid projection again, from a saved line

Figures (one thread each):
- ``dt``: DT updates/s, 1 seed, CORL's model (128 wide, 3 layers, K 20) at ``--dt-batch`` windows (`full` trains
  4,096; 512 keeps a CPU figure to seconds: the cost is linear in the batch); the working tree also in bf16.
- ``dt sampler``: DT batches/s drawn from hopper medium-replay (`lab` data) at 1 and 8 seeds, ``--dt-batch``
  windows each (the CPU work a GPU's DT update waits for).
- ``cql``: CQL updates/s at 1 and 8 seeds (batch 256, 256-256).
- ``unet``: DiffStitch's U-Net training steps/s at `full` sizes (H 100, 128 channels, batch 64); the working tree
  also in bf16.
- ``eval``: evaluation episodes/s on hopper, 4 members x 10 episodes (`full`'s evaluation), for an untrained
  TD3+BC (episodes of a few dozen steps: what gpu_check timed on the H200) and for the kit's committed expert and
  medium behaviour policies (1,000-step episodes and shorter ones); the working tree also with ``--workers``
  worker processes stepping the envs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

COMMON = """
import json, time, torch
torch.set_num_threads(1)
"""

PROBES = {
    "dt": """
from stitchkit.bench import steps_per_second
opts = {{"bf16": True}} if {bf16} else {{}}
print(json.dumps(steps_per_second("dt", 1, torch.device("cpu"), {seconds}, {dt_batch}, **opts)))
""",
    "cql": """
from stitchkit.bench import steps_per_second
print(json.dumps(steps_per_second("cql", {seeds}, torch.device("cpu"), {seconds}, 256)))
""",
    "unet": """
import dataclasses, numpy as np
from stitchkit.augment import diffstitch as ds
from stitchkit.augment.diffusion import diffusion_from_sizes
from stitchkit.data.episodes import Episode
from stitchkit.profiles import get_profile
from stitchkit.progress import quiet
prof = get_profile("full")
sz = ds.SIZES.of(prof) if hasattr(ds, "SIZES") else prof.stitch
rng = np.random.default_rng(0)
eps = [Episode(rng.normal(size=(2 * sz.horizon + 1, 11)), rng.uniform(-1, 1, (2 * sz.horizon, 3)),
               rng.normal(size=2 * sz.horizon), np.zeros(2 * sz.horizon, bool), np.zeros(2 * sz.horizon, bool), id=i)
       for i in range(20)]
cdf, _ = ds.model_data(eps, 0)
model = diffusion_from_sizes(11, sz)
opts = {{"bf16": True}} if {bf16} else {{}}
with quiet():
    ds.train_diffusion(model, eps, cdf, dataclasses.replace(sz, diffusion_train_steps=1), **opts)
    t0 = time.perf_counter()
    ds.train_diffusion(model, eps, cdf, dataclasses.replace(sz, diffusion_train_steps={unet_steps}), **opts)
print(json.dumps({unet_steps} / (time.perf_counter() - t0)))
""",
    "sampler": """
from stitchkit.algos.common import SeedWindowSampler
from stitchkit.data import registry
from stitchkit.data.episodes import transitions
from stitchkit.data.normalizers import ZScore
eps = registry.load_episodes("stitchkit/hopper/medium-replay-v0", "lab")
sampler = SeedWindowSampler(eps, list(range({seeds})), 20, ZScore.fit(transitions(eps)["observations"]))
sampler.sample({dt_batch})
t0, n = time.perf_counter(), 0
while time.perf_counter() - t0 < {seconds}:
    sampler.sample({dt_batch})
    n += 1
print(json.dumps(n / (time.perf_counter() - t0)))
""",
    "eval": """
import numpy as np
from stitchkit.data.normalizers import ZScore
from stitchkit.evaluate import Evaluator
S, E = 4, 10
if {trained}:  # the kit's committed behaviour policies: expert, medium, expert, medium
    from stitchkit.data import policies
    picked = policies.pick_checkpoints(policies.list_checkpoints("hopper"))
    nets = [policies.load_actor(picked[k]) for k in ("expert", "medium", "expert", "medium")]
    class Actor(torch.nn.Module):
        def act(self, obs):
            return torch.as_tensor(np.stack([n.act(o.numpy(), None, deterministic=True) for n, o in zip(nets, obs)]))
    actor, norm = Actor(), ZScore(np.zeros(11), np.ones(11))
else:  # an untrained TD3+BC, as gpu_check times it
    from stitchkit.train import make_algo
    actor, norm = make_algo("td3bc", 11, 3, list(range(S)), 1).actor, ZScore(np.zeros(11), np.ones(11))
kw = {{"workers": {workers}}} if {workers} > 1 else {{}}
ev = Evaluator("stitchkit/hopper/medium-replay-v0", norm, S, E, **kw)
ev(actor)  # the first evaluation makes the envs (and starts any workers) once per process
t0 = time.perf_counter()
ev(actor)  # a training run evaluates many times in one process
print(json.dumps(S * E / (time.perf_counter() - t0)))
""",
}


def figures(args: argparse.Namespace) -> list[tuple[str, str, dict, str | None]]:
    """(name, probe, parameters, base) for every figure; a figure with a ``base`` exists in the working tree only
    and its speed-up is against the base figure's REF value."""
    base = {"seconds": args.seconds, "dt_batch": args.dt_batch, "unet_steps": args.unet_steps}
    out = [
        ("dt 1 seed", "dt", {**base, "bf16": False}, None),
        ("dt 1 seed bf16", "dt", {**base, "bf16": True}, "dt 1 seed"),
        ("dt sampler 1 seed", "sampler", {**base, "seeds": 1}, None),
        ("dt sampler 8 seeds", "sampler", {**base, "seeds": 8}, None),
        ("cql 1 seed", "cql", {**base, "seeds": 1}, None),
        ("cql 8 seeds", "cql", {**base, "seeds": 8}, None),
        ("unet", "unet", {**base, "bf16": False}, None),
        ("unet bf16", "unet", {**base, "bf16": True}, "unet"),
    ]
    for trained in (False, True):
        name = "eval " + ("trained" if trained else "untrained")
        out.append((name, "eval", {**base, "trained": trained, "workers": 1}, None))
        out.append(
            (f"{name} {args.workers} workers", "eval", {**base, "trained": trained, "workers": args.workers}, name)
        )
    return [f for f in out if not args.only or any(f[0].startswith(o) for o in args.only)]


def probe(src: Path, name: str, params: dict) -> float:
    """One figure measured by the kit found at ``src``, in a fresh process (a clean import of that code)."""
    code = COMMON + PROBES[name].format(**params)
    env = {
        **os.environ,
        "PYTHONPATH": str(src),
        "OMP_NUM_THREADS": "1",
        "MUJOCO_GL": "egl",
        "STITCHKIT_DATA": str(ROOT / "data"),  # both sides read the datasets built here
        "MINARI_DATASETS_PATH": str(ROOT / "data" / "minari"),
    }
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=src, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"{name} at {src} failed:\n{out.stderr[-2000:]}")
    return float(out.stdout.strip().splitlines()[-1])


GPU_CHECK = ROOT / "benchmarks/results/gpu_check_h200_repeat.json"
GPU_TF32 = ROOT / "benchmarks/results/gpu_learners_h200_tf32.json"


def projection(summary: dict, gpu_path: Path = GPU_CHECK, tf32_path: Path = GPU_TF32) -> dict:
    """The `full` grid's hours on the H200 if each part gained there what it gained here: the H200's measured rates
    (learners with TF32) scaled by this run's speed-ups, through gpu_check's own estimate. A projection, not a
    measurement: a GPU's gains differ from a CPU's (bf16 and fused attention gain more there; env workers gain
    with its 16 cores, not this machine's 2)."""
    import copy

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from gpu_check import grid_estimate

    from stitchkit.profiles import get_profile

    gpu = json.loads(gpu_path.read_text())
    measured = copy.deepcopy(gpu)
    measured["learners"].update(json.loads(tf32_path.read_text())["learners"])
    base = grid_estimate(get_profile("full"), measured, 0.3)
    gain = lambda name: (summary.get(name) or {}).get("speedup") or 1.0
    scaled = copy.deepcopy(measured)
    factors = {
        "dt": gain("dt 1 seed bf16"),
        "cql": gain("cql 8 seeds"),
        "diffstitch_unet": gain("unet bf16"),
        "evaluation": max(
            gain("eval untrained"), gain(next((k for k in summary if k.startswith("eval untrained ")), ""))
        ),
    }
    for key in ("graph_1", "graph_8"):
        scaled["learners"]["dt"][key] *= factors["dt"]
        scaled["learners"]["cql"][key] *= factors["cql"]
    scaled["models"]["diffstitch_unet_steps_per_s"] *= factors["diffstitch_unet"]
    scaled["evaluation"]["env_steps_per_s"] *= factors["evaluation"]
    after = grid_estimate(get_profile("full"), scaled, 0.3)
    keep = ("total_hours", "train_hours", "eval_hours", "augment_hours", "train_hours_by_learner")
    m, a = base["train_hours_by_learner"], after["train_hours_by_learner"]
    others = [k for k in m if k not in ("dt", "cql")]
    parts = [
        ("DT", m["dt"], a["dt"]),
        ("augmentation", base["augment_hours"], after["augment_hours"]),
        ("CQL", m["cql"], a["cql"]),
        ("evaluation", base["eval_hours"], after["eval_hours"]),
        ("/".join(others), sum(m[k] for k in others), sum(a[k] for k in others)),
    ]
    text = (  # what notebook 09 prints
        f"full grid on the H200: {base['total_hours']:.0f} h measured -> {after['total_hours']:.0f} h projected ("
        + ", ".join(f"{name} {x:.0f} -> {y:.0f}" for name, x, y in parts)
        + "); factors "
        + ", ".join(f"{k} {v:.2f}x" for k, v in factors.items())
        + "; a projection from CPU speed-ups, not yet measured on a GPU"
    )
    return {
        "source": f"{gpu_path.name} (learners: {tf32_path.name})",
        "factors": factors,
        "measured_hours": {k: base[k] for k in keep},
        "projected_hours": {k: after[k] for k in keep},
        "text": text,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--compare", metavar="REF", help="the git revision measured as 'before'")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seconds", type=float, default=5.0, help="timed seconds per learner figure")
    p.add_argument("--dt-batch", type=int, default=512)
    p.add_argument("--unet-steps", type=int, default=2)
    p.add_argument("--workers", type=int, default=2, help="env worker processes in the working tree's extra figure")
    p.add_argument("--only", nargs="*", help="figures whose name starts so (dt, cql, unet, eval)")
    p.add_argument("--project", metavar="JSON", help="no measuring: project the grid from an earlier run's JSON line")
    p.add_argument("--out", help="write the JSON line to this file too")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    if args.project:
        line = json.loads(Path(args.project).read_text().strip().splitlines()[-1])
        line["projection"] = projection(line["figures"])
    else:
        if not args.compare:
            p.error("--compare REF is required (or --project JSON)")
        line = measure(args)
        line["projection"] = projection(line["figures"])
    print("\n" + line["projection"]["text"])
    if args.out:
        Path(args.out).write_text(json.dumps(line) + "\n")
    if args.json:
        print(json.dumps(line))


def measure(args: argparse.Namespace) -> dict:
    """Every figure at REF and in the working tree, interleaved; prints the table and returns the JSON line."""
    rows = {name: {"before": [], "after": []} for name, *_ in figures(args)}
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "before"
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(tree), args.compare], cwd=ROOT, check=True, capture_output=True
        )
        try:
            for r in range(args.rounds):
                for name, kind, params, base in figures(args):
                    sides = [("after", ROOT)] if base else [("before", tree), ("after", ROOT)]
                    for side, src in sides if r % 2 == 0 else sides[::-1]:
                        rows[name][side].append(probe(src, kind, params))
                    print(
                        f"round {r + 1}: {name}: " + ", ".join(f"{s} {v[-1]:.3g}" for s, v in rows[name].items() if v),
                        flush=True,
                    )
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, capture_output=True)
    print(f"\n{'figure':<48}{'before':>12}{'after':>12}{'speed-up':>10}   (median of {args.rounds} rounds, per s)")
    summary = {}
    for name, _, _, base in figures(args):
        sides = rows[name]
        ref = rows.get(base or name, {}).get("before") or []
        b = statistics.median(ref) if ref else None
        a = statistics.median(sides["after"])
        summary[name] = {
            "before": b,
            "after": a,
            "speedup": a / b if b else None,
            "before_of": base or name,
            "before_rounds": sides["before"],
            "after_rounds": sides["after"],
        }
        label = name + (f" (vs {base})" if base else "")
        print(f"{label:<48}{b if b is not None else float('nan'):>12.3g}{a:>12.3g}" + (f"{a / b:>9.2f}x" if b else ""))
    return {
        "compare": args.compare,
        "rounds": args.rounds,
        "dt_batch": args.dt_batch,
        "unet_steps": args.unet_steps,
        "workers": args.workers,
        "device": "cpu, one thread per figure",
        "figures": summary,
    }


if __name__ == "__main__":
    main()
