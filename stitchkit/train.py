"""The training front end shared by the notebooks and ``stitchkit train``: dataset in, curves and scores out."""
from __future__ import annotations

import hashlib
import inspect
import json
import os
from functools import partial
from pathlib import Path
from typing import Any

import torch

from stitchkit.algos.bc import BC
from stitchkit.algos.cql import CQL
from stitchkit.algos.common import SeedBatchSampler, SeedWindowSampler, TrainConfig, summarize, train
from stitchkit.algos.dt import DT
from stitchkit.algos.iql import IQL
from stitchkit.algos.por import POR
from stitchkit.algos.td3bc import TD3BC
from stitchkit.algos.tels import TELS, TSIDMFeatures
from stitchkit.data import registry
from stitchkit.data.episodes import transitions
from stitchkit.data.normalizers import ZScore
from stitchkit.device import get_device
from stitchkit.evaluate import Evaluator
from stitchkit.paths import data_dir
from stitchkit.profiles import Profile, get_profile

ALGOS = {"bc": BC, "td3bc": TD3BC, "iql": IQL, "cql": CQL, "dt": DT, "por": POR, "tels": TELS,
         "tsidm-td3bc": partial(TSIDMFeatures, inner="td3bc"), "tsidm-iql": partial(TSIDMFeatures, inner="iql")}


def make_algo(name: str, obs_dim: int, act_dim: int, seeds: list[int], steps: int, dataset_id: str = "",
              **overrides: Any) -> torch.nn.Module:
    """An evaluator with CORL's defaults (and its per-dataset exceptions for IQL on hopper)."""
    if name not in ALGOS:
        raise ValueError(f"unknown algorithm {name!r}; accepted: {', '.join(ALGOS)}")
    kwargs: dict[str, Any] = {}
    if name == "iql":
        kwargs["max_steps"] = steps
        if "hopper/medium-v" in dataset_id or "hopper/medium-replay" in dataset_id:
            kwargs.update(deterministic=True, tau=0.001)  # CORL's hopper-medium(-replay) config
        if "hopper/medium-expert" in dataset_id:
            kwargs.update(beta=6.0, expectile=0.5)
    if name.startswith("tsidm-"):
        kwargs["max_steps"] = steps
    if name in ("por", "tels"):  # POR's released settings: mazes tau 0.9, alpha 10; MuJoCo POR-r tau 0.5, alpha 3
        kwargs["max_steps"] = steps
        maze = "maze" in dataset_id
        if name == "por":
            kwargs.update(dict(expectile=0.9, alpha=10.0) if maze else dict(expectile=0.5, alpha=3.0))
        elif maze:  # TELS's maze results use its advantage-weighted guide (reviewers)
            kwargs.update(guide="awr", expectile=0.9, alpha=10.0)
    params = inspect.signature(ALGOS[name]).parameters
    accepted = set(params) - {"obs_dim", "act_dim", "seeds", "inner", "inner_kwargs"}
    unknown = set(overrides) - accepted
    if unknown and not any(p.kind == p.VAR_KEYWORD for p in params.values()):
        raise ValueError(f"unknown {name} option(s) {sorted(unknown)}; accepted: {', '.join(sorted(accepted))}")
    kwargs.update(overrides)
    return ALGOS[name](obs_dim, act_dim, seeds, **kwargs)


class NotTrajectoriesError(ValueError):
    """A sequence learner (Decision Transformer) was given augmented data that holds no whole trajectories."""


def run(algo_name: str, dataset_id: str, seeds: int | list[int] = 1, profile: str | Profile | None = None,
        augmented_id: str | None = None, ratio: float = 1.0, resume: bool = True, progress: bool = True,
        build_missing: bool = True, **overrides: Any) -> dict[str, Any]:
    """Train ``algo_name`` on ``dataset_id`` (plus ``augmented_id`` at ratio original:augmented) for the
    profile's steps, all seeds in one batched model; returns the curves and last/best summaries."""
    prof = get_profile(profile)
    seed_list = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    torch.manual_seed(seed_list[0])
    original = registry.load_episodes(dataset_id, prof, build_missing=build_missing, log=lambda *_: None)
    augmented = registry.load_episodes(augmented_id, prof, build_missing=False) if augmented_id else None
    norm = ZScore.fit(transitions(original)["observations"])
    t = prof.train
    if algo_name in ("tels", "tsidm-td3bc", "tsidm-iql"):  # the TS-IDM trains first, then the usual step budget
        overrides = {"idm_steps": prof.tels.idm_steps, "hidden": prof.tels.idm_hidden, **overrides}
    steps, batch = {"dt": (t.dt_steps, t.dt_batch_size), "cql": (t.cql_steps, t.batch_size),
                    }.get(algo_name, (t.steps + overrides.get("idm_steps", 0), t.batch_size))
    cfg = TrainConfig(steps=steps, batch_size=batch, eval_every=min(t.eval_every, steps),
                      eval_episodes=t.eval_episodes, seeds=seed_list, ratio=ratio,
                      graph=os.environ.get("STITCHKIT_GRAPH", "off"))
    obs_dim, act_dim = original[0].observations.shape[1], original[0].actions.shape[1]
    device = get_device()
    cfg.device = str(device)
    algo = make_algo(algo_name, obs_dim, act_dim, seed_list, cfg.steps, dataset_id, **overrides).to(device)
    if algo_name == "dt":  # whole trajectories, original and stitched alike; conditioned on the best return
        episodes = original + (augmented or [])
        kinds = {e.provenance.kind for e in augmented or []}
        if kinds & {"synthetic", "rollout"} or (augmented and any(len(e) <= 1 for e in augmented)):
            what = ("single synthetic transitions (SER)" if "synthetic" in kinds else
                    "short model rollouts from mid-episode states (TATU)" if "rollout" in kinds else
                    "single transitions")
            raise NotTrajectoriesError(
                f"{augmented_id} holds {what}, not whole trajectories: Decision Transformer conditions on a "
                "trajectory's return to go, so it takes only stitched data (diffstitch, astro); train td3bc, iql, cql "
                "or bc on this dataset instead")
        if "target_return" not in overrides:
            algo.actor.target_return = float(max(e.ret for e in episodes))
        sampler = SeedWindowSampler(episodes, seed_list, algo.model.seq_len, norm, str(device))
    else:
        sampler = SeedBatchSampler(original, augmented, seed_list, ratio, norm, str(device))
    evaluator = Evaluator(dataset_id, norm, len(seed_list), cfg.eval_episodes, seed=seed_list[0], device=str(device))
    # the augmented data's metadata (its provenance and summary) is part of the key: regenerated data is a new run
    aug_print = hashlib.sha1((registry.dataset_dir(augmented_id) / "data" / "metadata.json").read_bytes()
                             ).hexdigest()[:12] if augmented_id else None
    key = json.dumps([algo_name, dataset_id, augmented_id, ratio, seed_list, prof.name, sorted(overrides.items())]
                     + ([aug_print] if aug_print else []))
    run_dir = data_dir() / "runs" / f"{algo_name}-{hashlib.sha1(key.encode()).hexdigest()[:10]}" if resume else None
    if run_dir is not None:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "run.json").write_text(key)
    log = train(algo, sampler, cfg, evaluator, run_dir, progress=progress)
    return {"algo": algo_name, "dataset": dataset_id, "augmented": augmented_id, "ratio": ratio,
            "profile": prof.name, "seeds": seed_list, "steps": cfg.steps, "curves": log,
            "score": summarize(log, "score"), "return": summarize(log, "return"),
            "run_dir": str(run_dir) if run_dir else None}


def load_algo(run_dir: str | Path) -> torch.nn.Module:
    """The trained model of a finished (or checkpointed) run, rebuilt from its ``run.json`` and ``checkpoint.pt``:
    for looking inside a learner after ``run`` (notebook 06 draws TELS's guide policy this way)."""
    run_dir = Path(run_dir)
    algo_name, dataset_id, _, _, seed_list, profile, overrides = json.loads((run_dir / "run.json").read_text())[:7]
    prof = get_profile(profile)
    ep = registry.load_episodes(dataset_id, prof, build_missing=False, log=lambda *_: None)[0]
    steps = {"dt": prof.train.dt_steps, "cql": prof.train.cql_steps}.get(algo_name, prof.train.steps)
    algo = make_algo(algo_name, ep.observations.shape[1], ep.actions.shape[1], seed_list, steps, dataset_id,
                     **dict(overrides))
    state = torch.load(run_dir / "checkpoint.pt", map_location="cpu", weights_only=False)
    algo.load_state_dict(state["algo"])
    return algo.eval()


def score_text(result: dict[str, Any]) -> str:
    """A run's last evaluation as a table cell: "mean ± std" over its seeds."""
    s = result["score"]
    return f"{s['last_mean']:.1f} ± {s['last_std']:.1f}"
