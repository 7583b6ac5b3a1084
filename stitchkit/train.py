"""The training front end shared by the notebooks and ``stitchkit train``: dataset in, curves and scores out."""

from __future__ import annotations

import copy
import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

import torch

from stitchkit.algos.common import (
    SeedBatchSampler,
    SeedGoalSampler,
    SeedWindowSampler,
    TrainConfig,
    make_update,
    summarize,
    train,
)
from stitchkit.algos.learner import Learner
from stitchkit.cores import memory_gib
from stitchkit.data import registry
from stitchkit.data.episodes import returns, transitions
from stitchkit.data.normalizers import ZScore, return_range_scale
from stitchkit.data.subsample import best_episodes
from stitchkit.device import get_device
from stitchkit.evaluate import Evaluator, GoalEvaluator, goal_env_id
from stitchkit.options import OptionError, positive
from stitchkit.paths import data_dir
from stitchkit.plugins import LEARNERS, load
from stitchkit.profiles import Profile, get_profile


def learner(name: str) -> Learner:
    """The declaration of learner ``name`` (its module's ``LEARNER``): model, budget, per-dataset defaults."""
    return load(LEARNERS, name, "learner")


def make_algo(
    name: str, obs_dim: int, act_dim: int, seeds: list[int], steps: int, dataset_id: str = "", **overrides: Any
) -> torch.nn.Module:
    """A learner's model with its per-dataset defaults for ``dataset_id`` (CORL's configs) and ``overrides``."""
    spec = learner(name)
    options = {**(spec.dataset_defaults(dataset_id) if dataset_id else {}), **spec.check(overrides)}
    return spec.make(obs_dim, act_dim, seeds, steps, options)


def seed_list(seeds: int | list[int]) -> list[int]:
    """``3`` -> [0, 1, 2]; a list is taken as given. Zero or negative counts, repeats and negative seeds are
    errors, before any work."""
    out = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    if isinstance(seeds, int) and seeds < 1:
        raise OptionError(f"seeds must be a positive count, got {seeds}")
    if not out or len(set(out)) != len(out) or any(not isinstance(s, int) or s < 0 for s in out):
        raise OptionError(f"seeds must be distinct non-negative integers, got {seeds}")
    return out


#: bytes each parameter holds while training: its float32 weight, gradient and Adam's two moments
BYTES_PER_PARAMETER = 16
#: the share of the machine's memory a run's parameters may take (activations, data and the evaluator need the rest)
MEMORY_SHARE = 0.5
#: options that set a model's size, named in the error when a run would not fit
SIZE_OPTIONS = ("hidden", "idm_hidden", "d", "layers", "heads", "seq_len", "episode_len", "n_actions")
#: options that add to a run's updates (a pre-training stage), named in the error when a run would take hours
STEP_OPTIONS = ("idm_steps",)


class RunTooLargeError(OptionError):
    """A run that would not fit this machine's memory, or (unconfirmed) would take hours at a minutes profile."""


def parameter_count(spec: Learner, obs_dim: int, act_dim: int, seeds: list[int], steps: int, options) -> int | None:
    """The model's parameters, counted on PyTorch's meta device (shapes only, nothing allocated) for one seed and
    scaled by the seed count (a seed-batched model holds one copy per seed), so a run whose widths or seed count
    would not fit is refused in a moment, before it takes the machine's memory; None where a model cannot be built
    there."""
    try:
        with torch.device("meta"):
            model = spec.make(obs_dim, act_dim, seeds[:1], steps, options)
        return sum(p.numel() for p in model.parameters()) * len(seeds)
    except RuntimeError as err:
        if "overflow" in str(err):  # a tensor past 2^63 bytes: no machine holds it
            return 2**62
        return None
    except Exception:  # a model that cannot be built on the meta device: no estimate, no refusal
        return None


def check_fits(name: str, spec: Learner, obs_dim: int, act_dim: int, seeds: list[int], steps: int, options) -> int:
    """Refuse, naming the seed count and the size options, a model whose training state would pass
    :data:`MEMORY_SHARE` of this machine's memory. Returns the parameter count (0 when unknown)."""
    n, mem = parameter_count(spec, obs_dim, act_dim, seeds, steps, options), memory_gib()
    if n is None:
        return 0
    need = n * BYTES_PER_PARAMETER / 2**30
    if mem is not None and need > MEMORY_SHARE * mem:
        sizes = ", ".join(f"{k}={options[k]}" for k in SIZE_OPTIONS if k in options)
        raise RunTooLargeError(
            f"{name} with {len(seeds):,} seed(s) ({sizes}) would hold about {need:,.1f} GiB of weights and optimizer "
            f"state ({need * 1024 / len(seeds):,.1f} MiB per seed); this machine has {mem:.0f} GiB, of which a run "
            f"may take {MEMORY_SHARE:.0%}: lower --seeds or the widths"
        )
    return n


def seconds_per_update(algo: torch.nn.Module, sampler, batch_size: int) -> float:
    """One update of a copy of ``algo``, timed after one warm-up update; the sampler's and torch's random states
    are put back, so a run that follows gives the numbers it would have given without the probe."""
    states, rng = sampler.state(), torch.get_rng_state()
    probe = copy.deepcopy(algo)
    update = make_update(probe, "off")
    update(sampler.sample(batch_size), 0)
    t0 = time.perf_counter()
    update(sampler.sample(batch_size), 1)
    took = time.perf_counter() - t0
    sampler.load_state(states), torch.set_rng_state(rng)
    return took


class NotTrajectoriesError(ValueError):
    """A sequence learner (Decision Transformer) was given augmented data that holds no whole trajectories."""


def run(
    algo_name: str,
    dataset_id: str,
    seeds: int | list[int] = 1,
    profile: str | Profile | None = None,
    augmented_id: str | None = None,
    ratio: float = 1.0,
    resume: bool = True,
    progress: bool = True,
    build_missing: bool = True,
    steps: int | None = None,
    top_fraction: float | None = None,
    eval_every: int | None = None,
    eval_episodes: int | None = None,
    max_hours: float | None = None,
    dry_run: bool = False,
    **overrides: Any,
) -> dict[str, Any]:
    """Train ``algo_name`` on ``dataset_id`` (plus ``augmented_id`` at ratio original:augmented) for the
    profile's steps (or ``steps``, for a budget sweep), all seeds in one batched model; returns the curves and
    last/best summaries. ``eval_every`` / ``eval_episodes`` replace the profile's evaluation schedule (a long
    campaign run evaluates less often than a notebook's short one).
    ``top_fraction``: train on the dataset's best episodes only (by return), e.g. 0.1 for
    CORL's "10% BC" (its ``frac``), the usual check of how much a dataset's best behaviour is worth.

    Before training: a model whose training state would not fit this machine's memory is refused
    (:func:`check_fits`); with ``max_hours``, so is a run whose updates alone (one timed here) would take longer;
    ``dry_run`` stops there and returns the estimate, having made one update on a copy of the model."""
    prof = get_profile(profile)
    spec = learner(algo_name)
    seeds = seed_list(seeds)
    positive("ratio", ratio)
    for name, value in (("steps", steps), ("eval_every", eval_every), ("eval_episodes", eval_episodes)):
        if value is not None:
            positive(name, value)
    if top_fraction is not None and not 0 < top_fraction <= 1:
        raise OptionError(f"top_fraction must be in (0, 1], got {top_fraction}")
    spec.user_options(prof, overrides)  # checked before any data is loaded (the run key uses it)
    options = spec.resolved(dataset_id, prof, overrides)
    env_id = goal_env_id(dataset_id) if spec.goal_conditioned else None  # goals need a maze: refused before any work
    if augmented_id:  # generated from another dataset: refused before any work
        recipe = registry.parse_id(augmented_id)
        if recipe.kind == "augmented" and recipe.parent != dataset_id:
            raise registry.DatasetError(
                f"augmented dataset {augmented_id} was generated from {recipe.parent}, not from {dataset_id}; "
                f"train on --dataset {recipe.parent}, or augment {dataset_id} first"
            )
    torch.manual_seed(seeds[0])
    original = registry.load_episodes(dataset_id, prof, build_missing=build_missing, log=lambda *_: None)
    if top_fraction is not None:
        original = best_episodes(original, top_fraction)
    augmented = registry.load_episodes(augmented_id, prof, build_missing=False) if augmented_id else None
    norm = ZScore.fit(transitions(original)["observations"])
    sizes = getattr(prof, spec.section)  # the profile's section for this learner (``train``, ``goals``)
    budget_steps, batch = spec.budget(prof, options)
    steps = int(steps or budget_steps)
    cfg = TrainConfig(
        steps=steps,
        batch_size=batch,
        eval_every=min(eval_every or sizes.eval_every, steps),
        eval_episodes=eval_episodes or sizes.eval_episodes,
        seeds=seeds,
        ratio=ratio,
        graph=os.environ.get("STITCHKIT_GRAPH", "off"),
    )
    obs_dim, act_dim = original[0].observations.shape[1], original[0].actions.shape[1]
    device = get_device()
    cfg.device = str(device)
    n_params = check_fits(algo_name, spec, obs_dim, act_dim, seeds, cfg.steps, options)
    try:
        algo = spec.make(obs_dim, act_dim, seeds, cfg.steps, options).to(device)
    except (RuntimeError, MemoryError) as err:  # the meta-device estimate could not be made, and it did not fit
        if not isinstance(err, MemoryError) and "allocate" not in str(err):
            raise
        sizes = ", ".join(f"{k}={options[k]}" for k in SIZE_OPTIONS if k in options)
        raise RunTooLargeError(
            f"{algo_name} with {len(seeds):,} seed(s) ({sizes}) does not fit this machine's memory: lower --seeds or "
            "the widths"
        ) from None
    if spec.sequence:  # whole trajectories, original and stitched alike; conditioned on the best return
        episodes = original + (augmented or [])
        kinds = {e.provenance.kind for e in augmented or []}
        if kinds & {"synthetic", "rollout"} or (augmented and any(len(e) <= 1 for e in augmented)):
            what = (
                "single synthetic transitions (SER)"
                if "synthetic" in kinds
                else "short model rollouts from mid-episode states (TATU)"
                if "rollout" in kinds
                else "single transitions"
            )
            raise NotTrajectoriesError(
                f"{augmented_id} holds {what}, not whole trajectories: Decision Transformer conditions on a "
                "trajectory's return to go, so it takes only stitched data (diffstitch, astro); train td3bc, iql, cql "
                "or bc on this dataset instead"
            )
        if "target_return" not in overrides:
            algo.actor.target_return = float(max(e.ret for e in episodes))
        sampler = SeedWindowSampler(episodes, seeds, algo.model.seq_len, norm, str(device))
    elif spec.goal_conditioned:  # hindsight goals from whole trajectories; evaluated on reaching OGBench's goals
        if augmented and any(e.provenance.kind == "synthetic" for e in augmented):
            raise NotTrajectoriesError(
                f"{augmented_id} holds single synthetic transitions (SER), which have no future states to draw goals "
                "from; goal-conditioned learners take stitched trajectories (diffstitch, astro) or TATU rollouts"
            )
        sampler = SeedGoalSampler(
            original, augmented, seeds, ratio, norm, algo.actor_goals, algo.value_goals, str(device)
        )
    else:
        # CORL's reward normalisation where the learner's options ask for it: one factor from the original episodes
        scale = return_range_scale(returns(original)) if options.get("normalize_reward") else 1.0
        sampler = SeedBatchSampler(original, augmented, seeds, ratio, norm, str(device), reward_scale=scale)
    evaluator = (
        GoalEvaluator(env_id, norm, len(seeds), cfg.eval_episodes, sizes.horizon, seed=seeds[0], device=str(device))
        if env_id
        else Evaluator(dataset_id, norm, len(seeds), cfg.eval_episodes, seed=seeds[0], device=str(device))
    )
    if dry_run or max_hours is not None:
        per_update = seconds_per_update(algo, sampler, cfg.batch_size)
        hours = per_update * cfg.steps / 3600
        if max_hours is not None and hours > max_hours:
            named = "".join(f" + {k}={options[k]:,}" for k in STEP_OPTIONS if options.get(k))
            raise RunTooLargeError(
                f"{algo_name} with {len(seeds):,} seed(s) would take about {hours:,.1f} h here ({cfg.steps:,} updates"
                f"{': the profile' + chr(39) + 's' + named if named else ''} at {per_update:.3g} s each, evaluations "
                f"not counted), more than the {max_hours:g} h a {prof.name}-profile run may take unasked: pass --yes "
                "to start it anyway"
            )
        if dry_run:
            return {
                "algo": algo_name,
                "dataset": dataset_id,
                "profile": prof.name,
                "seeds": seeds,
                "steps": cfg.steps,
                "batch_size": cfg.batch_size,
                "parameters": n_params,
                "seconds_per_update": per_update,
                "estimate_hours": hours,
                "dry_run": True,
            }
    run_dir, key, _ = run_key(
        algo_name,
        dataset_id,
        seeds,
        prof,
        augmented_id,
        ratio,
        steps,
        top_fraction,
        eval_every,
        eval_episodes,
        **overrides,
    )
    run_dir = run_dir if resume else None
    if run_dir is not None:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "run.json").write_text(key)
    log = train(algo, sampler, cfg, evaluator, run_dir, progress=progress)
    return {
        "algo": algo_name,
        "dataset": dataset_id,
        "augmented": augmented_id,
        "ratio": ratio,
        **({"top_fraction": top_fraction} if top_fraction is not None else {}),
        "profile": prof.name,
        "seeds": seeds,
        "steps": cfg.steps,
        "curves": log,
        "score": summarize(log, "score"),
        "return": summarize(log, "return"),
        **({"d4rl_score": summarize(log, "d4rl_score")} if "d4rl_score" in log[-1] else {}),
        "run_dir": str(run_dir) if run_dir else None,
    }


def run_key(
    algo_name: str,
    dataset_id: str,
    seeds: int | list[int] = 1,
    profile: str | Profile | None = None,
    augmented_id: str | None = None,
    ratio: float = 1.0,
    steps: int | None = None,
    top_fraction: float | None = None,
    eval_every: int | None = None,
    eval_episodes: int | None = None,
    **overrides: Any,
) -> tuple[Path, str, int]:
    """Where :func:`run` caches a run, its key and the steps it trains: the key is everything the result depends on,
    the datasets' contents included (``registry.fingerprint``: rebuilt or regenerated data is a new run). Both
    datasets must be built."""
    prof, spec = get_profile(profile), learner(algo_name)
    user = spec.user_options(prof, overrides)
    defaults = spec.dataset_defaults(dataset_id)  # per-dataset settings change results too: a change is a new run
    budget_steps = spec.budget(prof, spec.resolved(dataset_id, prof, overrides))[0]
    steps = int(steps or budget_steps)
    prints = [registry.fingerprint(d) for d in (dataset_id, augmented_id) if d]
    key = json.dumps(
        # without augmented data the ratio changes nothing, so it is not part of the key: notebooks share such runs
        [algo_name, dataset_id, augmented_id, ratio if augmented_id else None, seed_list(seeds), prof.name]
        + [sorted(user.items())]
        + ([sorted(defaults.items())] if defaults else [])
        + prints
        + ([steps] if steps != budget_steps else [])
        + ([{"top_fraction": top_fraction}] if top_fraction is not None else [])
        + ([{"eval": [eval_every, eval_episodes]}] if (eval_every, eval_episodes) != (None, None) else [])
    )
    return data_dir() / "runs" / f"{algo_name}-{hashlib.sha1(key.encode()).hexdigest()[:10]}", key, steps


def is_finished(job: dict[str, Any]) -> bool:
    """Whether ``run(**job)`` would only load its result: its cached log already reaches the last step. Time
    estimates skip such runs, so a notebook that reuses an earlier one's runs does not announce their cost."""
    if job.get("resume", True) is False:
        return False
    try:
        run_dir, _, steps = run_key(
            **{k: v for k, v in job.items() if k not in ("resume", "progress", "build_missing")}
        )
        rows = [json.loads(line) for line in (run_dir / "curves.jsonl").read_text().splitlines()]
    except (FileNotFoundError, KeyError, ValueError):  # a dataset not built yet, or no log: it will train
        return False
    return len({r["seed"] for r in rows if r["step"] == steps}) == len(seed_list(job.get("seeds", 1)))


def load_algo(run_dir: str | Path) -> torch.nn.Module:
    """The trained model of a finished (or checkpointed) run, rebuilt from its ``run.json`` and ``checkpoint.pt``:
    for looking inside a learner after ``run`` (notebook 07 draws TELS's guide policy this way)."""
    run_dir = Path(run_dir)
    algo_name, dataset_id, _, _, seeds, profile, overrides = json.loads((run_dir / "run.json").read_text())[:7]
    prof = get_profile(profile)
    ep = registry.load_episodes(dataset_id, prof, build_missing=False, log=lambda *_: None)[0]
    spec = learner(algo_name)
    options = spec.resolved(dataset_id, prof, dict(overrides))
    algo = spec.make(ep.observations.shape[1], ep.actions.shape[1], seeds, spec.budget(prof, options)[0], options)
    state = torch.load(run_dir / "checkpoint.pt", map_location="cpu", weights_only=False)
    algo.load_state_dict(state["algo"])
    return algo.eval()


def score_text(result: dict[str, Any]) -> str:
    """A run's last evaluation as a table cell: "mean ± std" over its seeds."""
    s = result["score"]
    text = f"{s['last_mean']:.1f} ± {s['last_std']:.1f}"
    if "d4rl_score" in result:  # approximate: Gymnasium v5 and the kit's behaviour policies vs D4RL's v2
        text += f" (D4RL ≈ {result['d4rl_score']['last_mean']:.1f})"
    return text


def _run_one(kwargs: dict[str, Any]) -> dict[str, Any]:
    torch.set_num_threads(1)  # one core per worker: two workers fill a 2-core laptop without oversubscribing
    return run(**{"progress": False, **kwargs})


def arm_jobs(
    dataset_id: str,
    algos: tuple[str, ...],
    arms: dict[str, tuple[str | None, float] | None],
    profile: Profile,
) -> dict[tuple[str, str, str], dict[str, Any]]:
    """The :func:`run_many` jobs of a comparison: every learner in ``algos`` on every arm, keyed
    ``(dataset_id, algo, arm)``. An arm is ``name -> (augmented id, ratio)``: ``(None, ratio)`` for the original data
    alone, ``None`` for an arm whose data could not be generated at this budget (left out)."""
    return {
        (dataset_id, algo, name): dict(
            algo_name=algo,
            dataset_id=dataset_id,
            seeds=profile.train.seeds,
            profile=profile.name,
            augmented_id=arm[0],
            ratio=arm[1],
        )
        for algo in algos
        for name, arm in arms.items()
        if arm is not None
    }


def run_many(jobs: list[dict[str, Any]], processes: int = 2) -> list[dict[str, Any]]:
    """Independent :func:`run` calls (keyword dicts) in ``processes`` worker processes, results in job order.

    Why: a small learner update uses about one core, so on a 2-core laptop two runs side by side take the time of
    one (the arms of a comparison, the points of a sweep). Each worker resolves the same data folder and caches,
    so a finished run is reused as with :func:`run`; a job's error is raised here, naming the job."""
    if processes < 1:
        raise OptionError(f"processes must be >= 1, got {processes}")
    if processes == 1 or len(jobs) <= 1:
        return [_run_one(job) for job in jobs]
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(min(processes, len(jobs)), mp_context=mp.get_context("spawn")) as pool:
        futures = [pool.submit(_run_one, job) for job in jobs]
        out = []
        for job, fut in zip(jobs, futures):
            try:
                out.append(fut.result())
            except Exception as err:
                raise type(err)(f"{err} (in the job {job})") from err
    return out
