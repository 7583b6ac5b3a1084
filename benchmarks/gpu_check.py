"""The GPU check: every CUDA path of the kit at `full` sizes, a bounded number of steps each, one JSON line out.

    python benchmarks/gpu_check.py                     # on a GPU: full sizes, about 3-5 minutes
    python benchmarks/gpu_check.py --device cpu --tiny # the same lines at smoke sizes, < 1 minute (make test runs it)

A GPU is lent to this project rarely and briefly, so this one prepared script is how the `full` profile is checked:
learner updates/s (1 seed and 8 batched seeds, eager and as one CUDA graph, with the graph's drift from eager),
DiffStitch's U-Net training and stitching throughput (full and strided sampler), SER, TATU, ASTRO and TELS model
training, evaluation speed, and from these rates the estimated wall time of the `full` benchmark grid. Every model
and batch is checked to live on the chosen device: a mismatch is an error, not a silent copy.

Data: a real hopper dataset, built on the spot from the committed behaviour policies (``--steps`` transitions, so
no download and no `make data`): speeds do not depend on the dataset's size. Models are trained for a few steps
only, so DiffStitch's acceptance rate here says nothing about quality; the grid estimate takes it as an input.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

LEARNERS = ("bc", "td3bc", "iql", "cql", "dt", "gcbc", "gcivl")
SECTIONS = ("learners", "tels", "models", "evaluation", "estimate_full_grid")
DATASET = "stitchkit/hopper/medium-v0"


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def rate(fn: Callable[[int], object], device: torch.device, seconds: float, warmup: int = 3) -> float:
    """Calls per second of ``fn(i)`` over about ``seconds`` after ``warmup`` calls (device synchronised)."""
    for i in range(warmup):
        fn(i)
    sync(device)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds or n < 2:
        fn(warmup + n)
        n += 1
    sync(device)
    return n / (time.perf_counter() - t0)


def on_device(module: torch.nn.Module, device: torch.device, what: str) -> None:
    """Every parameter and buffer of ``module`` on ``device``: the check that no path silently runs elsewhere."""
    for name, t in [*module.named_parameters(), *module.named_buffers()]:
        if t.device.type != device.type:
            raise RuntimeError(f"{what}: {name} is on {t.device}, not {device}")


# ------------------------------------------------------------------------------------------------- learners
def learner_rates(
    algo: str, seeds: int, batch: int, device: torch.device, seconds: float, graph: bool, sampler=None, sized=None
) -> float:
    """Updates/s of ``algo`` with ``seeds`` batched members: on a fixed synthetic batch, or drawing every batch from
    ``sampler`` (the real training step). ``sized``: options the profile sizes (a goal-conditioned net's width)."""
    from stitchkit.algos.graphed import GraphedUpdate
    from stitchkit.bench import fake_batch
    from stitchkit.train import make_algo

    model = make_algo(algo, 11, 3, list(range(seeds)), 1_000_000, **(sized or {})).to(device)
    on_device(model, device, algo)
    update = GraphedUpdate(model) if graph else model.update
    b = fake_batch(algo, seeds, batch, device)
    return rate(lambda i: update(sampler.sample(batch) if sampler else b, i), device, seconds)


def graph_drift(algo: str, seeds: int, batch: int, device: torch.device, steps: int) -> float:
    """Largest |parameter difference| between eager and graphed training from the same seed after ``steps``
    updates on the same batches (0 when the graph replays exactly the eager kernels)."""
    from stitchkit.algos.graphed import GraphedUpdate
    from stitchkit.bench import fake_batch
    from stitchkit.train import make_algo

    eager = make_algo(algo, 11, 3, list(range(seeds)), 1_000_000).to(device)
    graphed = make_algo(algo, 11, 3, list(range(seeds)), 1_000_000).to(device)
    update = GraphedUpdate(graphed)
    base = fake_batch(algo, seeds, batch, device)
    for step in range(steps):
        b = {k: v + 0.01 * (step % 7) if v.is_floating_point() else v for k, v in base.items()}
        eager.update(b, step)
        update(b, step)
    sync(device)
    return max(float((p - q).detach().abs().max()) for p, q in zip(eager.parameters(), graphed.parameters()))


# ------------------------------------------------------------------------------------------------- models
def model_rates(episodes, prof, device: torch.device, steps: int, stitch_iterations: int) -> dict[str, object]:
    """Training steps/s of every augmentation model at the profile's sizes, and DiffStitch's stitching speed."""
    from stitchkit.augment import astro, ser, tatu
    from stitchkit.augment import diffstitch as ds
    from stitchkit.augment.bridges import discounted_rtg
    from stitchkit.augment.diffusion import diffusion_from_sizes
    from stitchkit.augment.models import DynamicsEnsemble, InverseDynamics, RewardModel, fit
    from stitchkit.augment.temporal import train_distance
    from stitchkit.profiles import with_sizes

    out: dict[str, object] = {}
    sz = dataclasses.replace(ds.SIZES.of(prof), diffusion_train_steps=steps)
    cdf, data = ds.model_data(episodes, 0)
    obs_dim, act_dim = data.s.shape[1], data.a.shape[1]

    def timed(fn: Callable[[], object], n: int) -> float:
        sync(device)
        t0 = time.perf_counter()
        fn()
        sync(device)
        return n / (time.perf_counter() - t0)

    diffusion = diffusion_from_sizes(obs_dim, sz).to(device)
    on_device(diffusion, device, "diffusion")
    ds.train_diffusion(diffusion, episodes, cdf, dataclasses.replace(sz, diffusion_train_steps=3), device=device)
    out["diffstitch_unet_steps_per_s"] = timed(
        lambda: ds.train_diffusion(diffusion, episodes, cdf, sz, device=device), steps
    )
    ds.train_diffusion(
        diffusion, episodes, cdf, dataclasses.replace(sz, diffusion_train_steps=3), device=device, bf16=True
    )
    out["diffstitch_unet_bf16_steps_per_s"] = timed(  # bfloat16 autocast (train_diffusion's bf16)
        lambda: ds.train_diffusion(diffusion, episodes, cdf, sz, device=device, bf16=True), steps
    )
    models = {
        "inverse": InverseDynamics(obs_dim, act_dim),
        "reward": RewardModel(obs_dim, act_dim),
        "dynamics": DynamicsEnsemble(obs_dim, act_dim, sz.ensemble, min(5, sz.ensemble)),
    }
    for name, m in models.items():
        m.to(device)
        on_device(m, device, name)
        members = sz.ensemble if name == "dynamics" else None
        fit(m, data, 3, sz.model_batch, members=members, device=device)
        out[f"{name}_model_steps_per_s"] = timed(
            lambda m=m, members=members: fit(m, data, steps, sz.model_batch, members=members, device=device), steps
        )
    held = data.tensors(np.flatnonzero(data.holdout)[:8192], device)
    models["dynamics"].choose_elites(held["s"], held["a"], held["s_next"])
    rtg = np.concatenate([discounted_rtg(e.rewards, 0.99) for e in episodes])
    bundle = ds.DiffStitchModels(
        diffusion, models["inverse"], models["reward"], models["dynamics"], cdf, float(max(np.abs(rtg).max(), 1e-6))
    )
    for sampler in ("full", "strided"):
        res = ds.stitch(
            bundle,
            episodes,
            "hopper",
            with_sizes(prof, {"stitch": {"diffusion_train_steps": steps}}, [ds.SIZES]),
            ds.DiffStitchConfig(seed=0, sampler=sampler),
            DATASET,
            budget=10**12,
            max_iterations=stitch_iterations,
        )
        s = res.stats
        candidate = sum(b.steps for b in res.bridges)
        out[f"stitch_{sampler}"] = {
            "bridges_per_s": s["generated"] / s["seconds"],
            "candidate_transitions_per_s": candidate / s["seconds"],
            "accepted_transitions_per_s": s["accepted_transitions_per_s"],
            "acceptance_rate": s["acceptance_rate"],
            "iterations": s["iterations"],
        }

    # SER: the EDM denoiser over transitions (its own training loop, checkpoint-free here)
    def ser_steps(n: int):
        return with_sizes(prof, {"ser": {"train_steps": n}}, [ser.SIZES])

    ser.train_models(episodes, ser_steps(3), log=lambda *_: None, device=device)
    out["ser_steps_per_s"] = timed(
        lambda: ser.train_models(episodes, ser_steps(steps), log=lambda *_: None, device=device), steps
    )
    # TATU: its dynamics ensemble and reward model are the classes timed above; the behaviour CVAE is its own
    vae = tatu.BehaviourVAE(obs_dim, act_dim, tatu.SIZES.of(prof).vae_hidden).to(device)
    on_device(vae, device, "behaviour VAE")
    fit(vae, data, 3, sz.model_batch, device=device)
    out["tatu_vae_steps_per_s"] = timed(lambda: fit(vae, data, steps, sz.model_batch, device=device), steps)
    # ASTRO: the temporal-distance encoder (the rest is DiffStitch's models)
    a = astro.SIZES.of(prof)
    out["astro_distance_steps_per_s"] = timed(
        lambda: train_distance(
            episodes,
            cdf.normalize,
            steps,
            a.distance_batch,
            a.distance_cap,
            a.latent_dim,
            a.distance_hidden,
            device=str(device),
        ),
        steps,
    )
    return out


# ------------------------------------------------------------------------------------------------- evaluation
def evaluation_rate(norm, device: torch.device, members: int, episodes: int) -> dict[str, float]:
    """Environment steps/s of the batched evaluator (members x episodes envs, one policy call per step), with the
    envs stepped here and split over worker processes (``STITCHKIT_EVAL_WORKERS``, at least 2 for the figure);
    ``env_steps_per_s`` is the rate at the setting a run here would use. Each figure times a second evaluation:
    the first makes the envs (and starts the workers), once per training process."""
    from stitchkit.evaluate import Evaluator, eval_workers
    from stitchkit.train import make_algo

    model = make_algo("td3bc", 11, 3, list(range(members)), 1).to(device)
    calls = [0]
    act = model.actor.act

    def counting(obs):
        calls[0] += 1
        return act(obs)

    model.actor.act = counting
    used = eval_workers()
    out: dict[str, float] = {"eval_workers": used}
    for workers in sorted({1, max(2, used)}):
        ev = Evaluator(DATASET, norm, members, episodes, device=str(device), workers=workers)
        ev(model.actor)
        calls[0] = 0
        t0 = time.perf_counter()
        ev(model.actor)
        sec = time.perf_counter() - t0
        rates = {
            "env_steps_per_s": calls[0] * members * episodes / sec,  # as if every env ran the longest episode
            "episodes_per_s": members * episodes / sec,
            "policy_calls_per_s": calls[0] / sec,
        }
        out.update({f"{k}_{workers}_workers": v for k, v in rates.items()})
        if workers == used:
            out.update(rates)
    return out


# ------------------------------------------------------------------------------------------------- estimate
def update_seconds(row: dict[str, float], seeds: int) -> float:
    """Seconds of one graphed update of ``seeds`` batched members, interpolated between the measured 1 and 8
    (linear in time: a launch-bound update costs about the same for any count, a compute-bound one grows with it)."""
    t1, t8 = 1 / row["graph_1"], 1 / row["graph_8"]
    return t1 + (t8 - t1) * (seeds - 1) / 7


def grid_estimate(prof, figures: dict, acceptance: float) -> dict[str, float]:
    """Hours of the `full` grid on this device from the measured rates (4 seeds per group, batched)."""
    from stitchkit.augment import astro, ser
    from stitchkit.augment import diffstitch as ds
    from stitchkit.bench import load_grid
    from stitchkit.train import learner

    grid = load_grid("full")
    st, bl, a = ds.SIZES.of(prof), ser.SIZES.of(prof), astro.SIZES.of(prof)
    seeds = len(grid.seeds)
    steps = {al: learner(al).budget(prof, learner(al).user_options(prof, {}))[0] for al in grid.algorithms}
    upd = figures["learners"]
    timed = [al for al in grid.algorithms if "graph_8" in upd.get(al, {})]  # (a --learners subset, or an error)
    groups = grid.groups(prof.name)  # the product less its n/a cells (goal-conditioned learners off the maze)
    runs = {al: sum(g.algorithm == al for g in groups) for al in grid.algorithms}
    train_s = sum(steps[al] * update_seconds(upd[al], seeds) * runs[al] for al in timed)
    sizes = {al: getattr(prof, learner(al).section) for al in grid.algorithms}
    evals = sum(steps[al] / sizes[al].eval_every * sizes[al].eval_episodes * runs[al] for al in grid.algorithms)
    env_steps = evals * seeds * 1000
    eval_s = env_steps / figures["evaluation"]["env_steps_per_s"]
    m = figures["models"]
    model_s = (
        3
        * st.model_steps
        / min(m["inverse_model_steps_per_s"], m["reward_model_steps_per_s"], m["dynamics_model_steps_per_s"])
    )
    stitch_rate = m["stitch_strided"]["candidate_transitions_per_s"] * acceptance
    stitch_s = st.budget / stitch_rate if stitch_rate > 0 else 0.0  # 0: no candidate bridge in the short run
    diffstitch_s = st.diffusion_train_steps / m["diffstitch_unet_steps_per_s"] + model_s + stitch_s
    astro_s = a.distance_steps / m["astro_distance_steps_per_s"] + stitch_s  # reuses DiffStitch's models
    ser_s = bl.train_steps / m["ser_steps_per_s"]
    tatu_s = model_s + st.model_steps / m["tatu_vae_steps_per_s"]
    augment_s = (diffstitch_s + astro_s + ser_s + tatu_s) * len(grid.datasets)
    by_learner = {al: steps[al] * update_seconds(upd[al], seeds) * runs[al] / 3600 for al in timed}
    bf16_rate = m.get("diffstitch_unet_bf16_steps_per_s")  # what train_diffusion(bf16=True) would save
    unet_bf16_saves = (
        st.diffusion_train_steps * (1 / m["diffstitch_unet_steps_per_s"] - 1 / bf16_rate) * len(grid.datasets)
        if bf16_rate
        else None
    )
    return {
        "train_hours": train_s / 3600,
        "train_hours_by_learner": by_learner,
        "eval_hours": eval_s / 3600,
        "augment_hours": augment_s / 3600,
        "unet_bf16_saves_hours": None if unet_bf16_saves is None else unet_bf16_saves / 3600,
        "total_hours": (train_s + eval_s + augment_s) / 3600,
        "stitch_acceptance_assumed": acceptance,
        "stitching_counted": stitch_rate > 0,
        "groups": len(groups),
        "learners_not_timed": [al for al in grid.algorithms if al not in timed],
    }


def section(figures: dict, name: str, fn: Callable[[], object], strict: bool) -> None:
    """Run one part of the check; outside ``--strict`` a failure is recorded (and printed) and the rest goes on,
    so one broken path does not cost the whole device run."""
    t0 = time.perf_counter()
    try:
        figures[name] = fn()
    except Exception as err:
        if strict:
            raise
        import traceback

        traceback.print_exc()
        figures[name] = {"error": f"{type(err).__name__}: {err}"}
    print(f"# {name} done in {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:N (default: cuda when there is one)")
    parser.add_argument("--tiny", action="store_true", help="smoke sizes and short timings: the CI check")
    parser.add_argument("--seconds", type=float, default=None, help="timing window per figure (default 3, tiny 0.2)")
    parser.add_argument(
        "--acceptance",
        type=float,
        default=0.3,
        help="DiffStitch acceptance rate assumed for the grid estimate (trained models)",
    )
    parser.add_argument("--learners", nargs="+", default=list(LEARNERS), choices=LEARNERS)
    parser.add_argument("--model-steps", type=int, default=None, help="steps per model timing (default 200, tiny 5)")
    parser.add_argument(
        "--drift-steps", type=int, default=None, help="updates of the graph-vs-eager check (50, tiny 10)"
    )
    parser.add_argument("--strict", action="store_true", help="stop at the first error (the CI test)")
    parser.add_argument(
        "--sections", nargs="+", default=list(SECTIONS), choices=SECTIONS, help="the parts to run (default: all)"
    )
    parser.add_argument(
        "--matmul-precision",
        default="high",
        choices=("highest", "high", "medium"),
        help="torch.set_float32_matmul_precision: 'high' lets float32 matmuls use TF32 tensor cores",
    )
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON line to this file")
    args = parser.parse_args()
    if not 0 < args.acceptance <= 1:
        parser.error(f"--acceptance must be in (0, 1], got {args.acceptance}")

    from stitchkit.data import registry
    from stitchkit.data.samplers import MixedSampler  # noqa: F401  (import check: the sampler module loads)
    from stitchkit.device import get_device
    from stitchkit.profiles import PROFILES

    try:
        device = get_device(args.device)
    except ValueError as err:
        parser.error(str(err))
    os.environ["STITCHKIT_DEVICE"] = str(device)
    os.environ["STITCHKIT_MATMUL_PRECISION"] = args.matmul_precision  # what get_device sets on a GPU
    if device.type == "cuda":
        torch.set_float32_matmul_precision(args.matmul_precision)
    tiny = args.tiny
    prof = PROFILES["smoke" if tiny else "full"]
    seconds = args.seconds or (0.2 if tiny else 3.0)
    model_steps = args.model_steps or (5 if tiny else 200)
    drift_steps = args.drift_steps or (10 if tiny else 50)
    started = time.perf_counter()
    t0 = time.perf_counter()
    data_prof = dataclasses.replace(
        PROFILES["smoke"], data=dataclasses.replace(PROFILES["smoke"].data, locomotion_steps=2_000 if tiny else 20_000)
    )
    episodes = registry.load_episodes(DATASET, data_prof, build_missing=True, log=lambda *_: None)
    figures: dict[str, object] = {"data_seconds": time.perf_counter() - t0}

    from stitchkit.algos.common import SeedBatchSampler
    from stitchkit.data.episodes import transitions
    from stitchkit.data.normalizers import ZScore

    norm = ZScore.fit(transitions(episodes)["observations"])
    from stitchkit.train import learner

    def learners() -> dict[str, dict]:
        out: dict[str, dict] = {}
        for algo in args.learners:
            lr = learner(algo)
            batch = lr.budget(prof, {})[1]  # the learner's own batch at this profile
            sized = lr.profile_options(prof) if lr.goal_conditioned else {}
            row = {}
            for seeds in (1, 8):
                row[f"eager_{seeds}"] = learner_rates(algo, seeds, batch, device, seconds, False, sized=sized)
                row[f"graph_{seeds}"] = learner_rates(algo, seeds, batch, device, seconds, True, sized=sized)
            if algo in ("bc", "td3bc", "iql", "cql"):  # the whole step: the numpy sampler's draw and copy included
                sampler = SeedBatchSampler(episodes, None, list(range(8)), 1.0, norm, str(device))
                row["graph_8_with_sampler"] = learner_rates(
                    algo, 8, batch, device, seconds, graph=True, sampler=sampler
                )
            if algo == "dt":  # bfloat16 autocast (the DT option bf16): its seed-updates/s at 1 and 8 seeds
                for seeds in (1, 8):
                    row[f"bf16_eager_{seeds}"] = learner_rates(
                        algo, seeds, batch, device, seconds, False, sized={"bf16": True}
                    )
            row["seed_cost_ratio_8_vs_1"] = row["graph_1"] / row["graph_8"]  # time of 8 batched seeds / of 1
            row["graph_speedup_8"] = row["graph_8"] / row["eager_8"]
            row["graph_vs_eager_max_abs_diff"] = graph_drift(algo, 2, min(batch, 256), device, drift_steps)
            out[algo] = row
            print(f"# {algo}: " + ", ".join(f"{k} {v:.3g}" for k, v in row.items()), file=sys.stderr, flush=True)
        return out

    def tels() -> dict[str, float]:  # the TS-IDM (TELS's first stage) trains as a batched learner update
        from stitchkit.algos.tels import SIZES as TELS_SIZES
        from stitchkit.bench import fake_batch
        from stitchkit.train import make_algo

        out = {}
        for seeds in (1, 8):
            m = make_algo(
                "tels", 11, 3, list(range(seeds)), 10**9, idm_steps=10**9, idm_hidden=TELS_SIZES.of(prof).idm_hidden
            )
            m.to(device)
            on_device(m, device, "tels")
            b = fake_batch("tels", seeds, prof.train.batch_size, device)
            out[f"tsidm_steps_per_s_{seeds}"] = rate(lambda i, m=m, b=b: m.update(b, i), device, seconds)
        return out

    parts = {
        "learners": learners,
        "tels": tels,
        "models": lambda: model_rates(episodes, prof, device, model_steps, 2 if tiny else 3),
        "evaluation": lambda: evaluation_rate(norm, device, 2 if tiny else 4, 2 if tiny else 10),
        "estimate_full_grid": lambda: grid_estimate(PROFILES["full"], figures, args.acceptance),
    }
    for name in args.sections:
        section(figures, name, parts[name], args.strict)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu"
    line = json.dumps(
        {
            "device": str(device),
            "device_name": name,
            "torch": torch.__version__,
            "tiny": tiny,
            "profile": prof.name,
            "seconds_per_figure": seconds,
            "matmul_precision": args.matmul_precision,
            "wall_seconds": round(time.perf_counter() - started, 1),
            **figures,
        },
        default=float,
    )
    print(line, flush=True)
    if args.out:
        args.out.write_text(line + "\n")
    if any(isinstance(v, dict) and "error" in v for v in figures.values()):
        sys.exit(1)


if __name__ == "__main__":
    if "STITCHKIT_DATA" not in os.environ:  # a throw-away data folder: the check never touches the user's data
        os.environ["STITCHKIT_DATA"] = tempfile.mkdtemp(prefix="stitchkit-gpu-check-")
        os.environ.setdefault("MINARI_DATASETS_PATH", os.path.join(os.environ["STITCHKIT_DATA"], "minari"))
    main()
