"""Dataset ids, how each is built, and loading any of them through one call.

Ids in the kit's own Minari namespace ``stitchkit/``:

* ``stitchkit/pointmaze-{medium,large}/stitch-v0``                     - :mod:`stitchkit.data.maze`
* ``stitchkit/{hopper,halfcheetah,walker2d}/{random,medium,medium-replay,expert,medium-expert}-v0``
                                                                        - :mod:`stitchkit.data.locomotion`
* derived small-sample variants of any of those: ``...-<N>k-v0`` (a budget of N thousand transitions),
  ``...-<P>pct-v0`` (P percent of the episodes), ``...-r<R>-v0`` (TSRL's ratio: 1/R of the episodes);
  whole trajectories, seed 111 (TSRL's); the metadata names the parent.
* augmented datasets ``<parent without -v0>-<method>[-<tag>]-v0`` (method: diffstitch, astro, ser, tatu), e.g.
  ``stitchkit/hopper/medium-replay-diffstitch-v0``: generated data only, with provenance - :mod:`stitchkit.augment`.
  A tag-less one builds with the method's defaults; a tagged one (an ablation) is written by ``stitchkit augment``.

Any other id (``mujoco/hopper/medium-v0``, ``D4RL/pointmaze/medium-v2``) is a real Minari dataset: loaded when
local, downloaded when allowed and possible, else a clear error naming the local equivalent to build.

A build writes into a temporary Minari root and renames the finished folder into place, so an interrupted build
leaves no half dataset; a folder without the kit's completion mark is reported as corrupt, never loaded.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from stitchkit.data import packing
from stitchkit.data.episodes import Episode, Provenance, returns, total_steps
from stitchkit.data.ids import (  # noqa: F401  (the ids live in ids.py; callers reach them here, beside the builds)
    NAMESPACE,
    REAL_TO_LOCAL,
    SUBSAMPLE_SEED,
    DatasetError,
    Recipe,
    augmented_id,
    base_ids,
    dataset_keys,
    local_equivalent,
    parse_id,
    rebuild_command,
)
from stitchkit.data.validate import InvalidDataError, action_bounds, check_episodes, content_hash
from stitchkit.files import atomic_write_text, recover_directory, replace_directory
from stitchkit.profiles import Profile, get_profile


def minari_root() -> Path:
    from stitchkit.paths import configure_minari_path

    return configure_minari_path()


def dataset_dir(dataset_id: str, root: Path | None = None) -> Path:
    """Where a dataset lives (a replacement killed half-way is undone first: the old complete version is back)."""
    return recover_directory((root or minari_root()) / dataset_id)


# --------------------------------------------------------------------------------------------- building
def profile_sizes(recipe: Recipe, profile: Profile) -> dict[str, int]:
    if recipe.kind == "maze":
        return {"episodes": profile.data.maze_episodes}
    return {"steps": profile.data.locomotion_steps, "ref_episodes": profile.data.ref_episodes}


def generate(recipe: Recipe, profile: Profile, seed: int) -> tuple[list[Episode], dict[str, Any]]:
    """Episodes and metadata for a base recipe (no Minari involved): what a build writes."""
    if recipe.kind == "maze":
        from stitchkit.data import maze

        name = recipe.env.removeprefix("pointmaze-")
        episodes = maze.generate(name, profile.data.maze_episodes, seed)
        rmax = maze.oracle_policy_return(name, profile.data.ref_episodes, seed=123)
        rmin = maze.oracle_policy_return(name, profile.data.ref_episodes, seed=123, random=True)
        meta = {
            "env": maze.collection_env_id(name),
            "eval_env": maze.eval_env_id(name),
            "ref_min_score": float(rmin.mean()),
            "ref_max_score": float(rmax.mean()),
            "card": {
                "protocol": "OGBench stitch: 200-step episodes, oracle to a cell 4 cells away, N(0, 0.5) action noise",
                "task": maze.DEFAULT_TASK,
                "reward": "OGBench singletask: success - 1; termination = success (state before step)",
                "ref_max": "noise-free oracle on the eval task",
                "ref_min": "uniform random policy",
            },
        }
        return episodes, meta
    from stitchkit.data import locomotion
    from stitchkit.data.policies import LOCOMOTION_ENVS

    episodes, card = locomotion.build(recipe.env, recipe.name, profile.data.locomotion_steps, seed)
    refs = cached_reference_scores(recipe.env, profile.data.ref_episodes)
    env_id = LOCOMOTION_ENVS[recipe.env]
    return episodes, {"env": env_id, "eval_env": env_id, "card": card, **refs}


def _refscores_path(env: str, episodes: int) -> Path:
    from stitchkit.data.locomotion import choose_checkpoints, policies_version

    key = f"{env}-{policies_version(env)}-expert{choose_checkpoints(env)['expert'].step}-n{episodes}"
    return minari_root() / NAMESPACE / ".refscores" / f"{key}.json"


def cached_reference_scores(env: str, episodes: int) -> dict[str, float]:
    """Reference scores are shared by all five datasets of an env: compute once, keep beside the datasets."""
    from stitchkit.data.locomotion import reference_scores
    from stitchkit.files import atomic_write_json

    path = _refscores_path(env, episodes)
    if path.exists():
        return json.loads(path.read_text())
    refs = reference_scores(env, episodes)
    atomic_write_json(path, refs)
    return refs


@contextmanager
def _temporary_minari_root(root: Path):
    """Point Minari at a scratch root inside ``root`` for the duration of a build."""
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=root, prefix=".build-"))
    old = os.environ.get("MINARI_DATASETS_PATH")
    os.environ["MINARI_DATASETS_PATH"] = str(tmp)
    try:
        yield tmp
    finally:
        os.environ["MINARI_DATASETS_PATH"] = old if old is not None else str(root)
        shutil.rmtree(tmp, ignore_errors=True)


def write_dataset(
    dataset_id: str,
    episodes: list[Episode],
    env: str,
    eval_env: str | None = None,
    ref_min_score: float | None = None,
    ref_max_score: float | None = None,
    stitchkit_meta: dict | None = None,
    root: Path | None = None,
) -> Path:
    """Write episodes as a Minari dataset, atomically: build in a scratch root, then rename into place. Many short
    episodes (SER's transitions, TATU's rollouts) are written as a few long ones (:mod:`stitchkit.data.packing`)."""
    import gymnasium as gym
    import minari
    from minari.data_collector import EpisodeBuffer

    root = root or minari_root()
    final = dataset_dir(dataset_id, root)
    packed = packing.worth_packing(episodes)
    buffers = [
        EpisodeBuffer(
            id=i,
            observations=ep.observations,
            actions=ep.actions,
            rewards=ep.rewards,
            terminations=ep.terminations,
            truncations=ep.truncations,
            infos=dict(ep.infos) if ep.infos else None,
        )
        for i, ep in enumerate(packing.pack(episodes) if packed else episodes)
    ]
    provenance = [ep.provenance.to_json() for ep in episodes]
    meta = dict(stitchkit_meta or {}) | {"content_hash": content_hash(episodes)}  # part of the fingerprint
    if any(ep.provenance.kind != "original" for ep in episodes):
        meta["provenance"] = packing.compress_provenance(provenance)
    if packed:
        meta["packed"] = True
    with _temporary_minari_root(root) as tmp:
        env_obj = gym.make(env)
        try:  # nothing invalid is ever written: a NaN from a generator stops here, before any file exists
            check_episodes(dataset_id, episodes, *action_bounds(env_obj.action_space), fix="nothing was written")
        except InvalidDataError as err:
            env_obj.close()
            raise DatasetError(str(err)) from None
        ds = minari.create_dataset_from_buffers(
            dataset_id,
            buffers,
            env=env_obj,
            eval_env=eval_env,
            ref_min_score=ref_min_score,
            ref_max_score=ref_max_score,
            algorithm_name=meta.get("recipe", "stitchkit"),
            author="stitchkit",
            author_email="stitchkit@localhost",
            code_permalink="stitchkit",
            description=meta.get("description", ""),
        )
        env_obj.close()
        ds.storage.update_metadata({"stitchkit": json.dumps(meta | {"complete": True}, default=str)})
        for ns in Path(dataset_id).parents:  # Minari's namespace metadata files, if the real root lacks them
            src = tmp / ns / "namespace_metadata.json"
            if str(ns) != "." and src.exists() and not (root / ns / "namespace_metadata.json").exists():
                (root / ns).mkdir(parents=True, exist_ok=True)
                shutil.copy(src, root / ns / "namespace_metadata.json")
        replace_directory(tmp / dataset_id, final)
    return final


def env_spec(value):
    """An env id passes through; a parent dataset's serialized spec (JSON) becomes an ``EnvSpec``."""
    if isinstance(value, str) and value.startswith("{"):
        import gymnasium as gym

        return gym.envs.registration.EnvSpec.from_json(value)
    return value


def write_derived(dataset_id: str, episodes: list[Episode], parent: str, kit: dict[str, Any]) -> Path:
    """Write a dataset derived from ``parent`` (a subsample, generated data) with the parent's environments and
    reference scores; ``kit`` (recipe, profile, seed, card...) goes into its metadata with ``parent``."""
    pmeta = read_metadata(parent)
    kit = {**kit, "parent_fingerprint": fingerprint(parent)}
    return write_dataset(
        dataset_id,
        episodes,
        env_spec(pmeta["env_spec"]),
        env_spec(pmeta.get("eval_env_spec")),
        pmeta.get("ref_min_score"),
        pmeta.get("ref_max_score"),
        {**kit, "parent": parent},
    )


@contextmanager
def build_lock(dataset_id: str):
    """One builder per dataset at a time (two notebooks may ask for the same dataset at once); the others wait
    and then find it built."""
    import fcntl

    path = minari_root() / ".locks" / (dataset_id.replace("/", "__") + ".lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def build(dataset_id: str, profile: str | Profile | None = None, seed: int = 0, force: bool = False, log=print) -> Path:
    """Build ``dataset_id`` at ``profile`` (offline, deterministic for a seed and profile) unless it exists."""
    recipe = parse_id(dataset_id)
    prof = get_profile(profile)
    with build_lock(dataset_id):
        return _build_locked(dataset_id, recipe, prof, seed, force, log)


def _build_job(job: tuple[str, str, str, int]) -> str:
    """One unit of :func:`build_many` in a worker process: an env's reference scores, or a dataset."""
    kind, target, profile, seed = job
    prof = get_profile(profile)
    if kind == "refs":
        cached_reference_scores(target, prof.data.ref_episodes)
    else:
        build(target, prof, seed=seed, log=lambda *_: None)
    return target


def build_many(
    dataset_ids: list[str], profile: str | Profile | None = None, seed: int = 0, workers: int = 2, log=print
) -> list[str]:
    """Build the missing ones of ``dataset_ids``, ``workers`` at a time (each build is one core's rollouts): first
    each locomotion env's reference scores (so two of its datasets never compute them twice), then the datasets,
    the largest first."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    prof = get_profile(profile)
    missing = [d for d in dict.fromkeys(dataset_ids) if status(d)["state"] != "built"]
    envs = {parse_id(d).env for d in missing if parse_id(d).kind == "locomotion"}
    n_ref = prof.data.ref_episodes
    refs = [("refs", env, prof.name, seed) for env in sorted(envs) if not _refscores_path(env, n_ref).exists()]
    size = {"medium-expert": 2, "medium-replay": 1.5}
    todo = sorted(missing, key=lambda d: -size.get(parse_id(d).name, 1) * (parse_id(d).kind == "locomotion"))
    with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as pool:
        for stage in (refs, [("dataset", d, prof.name, seed) for d in todo]):
            for target in pool.map(_build_job, stage):
                log(f"built {target}")
    return missing


def _build_locked(dataset_id: str, recipe: Recipe, prof: Profile, seed: int, force: bool, log) -> Path:
    existing = status(dataset_id)
    if existing["state"] == "stale" and not force:
        log(f"{dataset_id} is stale ({existing['why']}); rebuilding it")
    if existing["state"] == "built" and not force:
        if existing["profile"] != prof.name:
            raise DatasetError(
                f"{dataset_id} exists, built at profile {existing['profile']!r}, but profile "
                f"{prof.name!r} was asked for; rebuild with --force (replaces it) or use "
                f"--profile {existing['profile']}"
            )
        log(f"{dataset_id}: already built at profile {prof.name}")
        return dataset_dir(dataset_id)
    t0 = time.perf_counter()
    if recipe.kind == "augmented":  # generated data: the augmentation layer builds it (the data layer never calls up)
        raise DatasetError(f"{dataset_id} is generated data; build it with `{rebuild_command(dataset_id, False)}`")
    if recipe.kind == "subsample":
        from stitchkit.data.subsample import best_episodes, subsample_episodes

        parent = load_episodes(recipe.parent, profile=prof, build_missing=True, log=log)
        if recipe.top:
            episodes = best_episodes(parent, recipe.top / 100)
        else:
            ratio = recipe.ratio or (100 / recipe.pct if recipe.pct else None)
            episodes = subsample_episodes(parent, SUBSAMPLE_SEED, ratio=ratio, budget=recipe.budget)
        for i, ep in enumerate(episodes):
            ep.id = i
        card = {
            "subsample": {
                "budget": recipe.budget,
                "pct": recipe.pct,
                "ratio": recipe.ratio,
                **({"top_percent": recipe.top, "by": "episode return"} if recipe.top else {"seed": SUBSAMPLE_SEED}),
                "unit": "whole trajectories",
            }
        }
        kit = {
            "recipe": recipe.kind,
            "profile": prof.name,
            "seed": seed,
            "card": card,
            "build_seconds": round(time.perf_counter() - t0, 1),
        }
        path = write_derived(dataset_id, episodes, recipe.parent, kit)
        log(f"{dataset_id}: {len(episodes)} episodes, {total_steps(episodes)} steps, profile {prof.name}")
        return path
    episodes, meta = generate(recipe, prof, seed)
    kit = {
        "recipe": recipe.kind,
        "profile": prof.name,
        "seed": seed,
        "parent": recipe.parent,
        "card": meta["card"],
        "build_seconds": round(time.perf_counter() - t0, 1),
    }
    path = write_dataset(
        dataset_id,
        episodes,
        env_spec(meta["env"]),
        env_spec(meta.get("eval_env")),
        meta.get("ref_min_score"),
        meta.get("ref_max_score"),
        kit,
    )
    log(
        f"{dataset_id}: {len(episodes)} episodes, {total_steps(episodes)} steps, profile {prof.name}, "
        f"{time.perf_counter() - t0:.1f} s"
    )
    return path


# --------------------------------------------------------------------------------------------- loading
def read_metadata(dataset_id: str) -> dict[str, Any]:
    path = dataset_dir(dataset_id) / "data" / "metadata.json"
    meta = json.loads(path.read_text())
    if "stitchkit" in meta and isinstance(meta["stitchkit"], str):
        meta["stitchkit"] = json.loads(meta["stitchkit"])
    return meta


def _timeless(x: Any) -> Any:
    """``x`` without what a build measures about itself rather than its data: timings (keys ending in ``seconds``
    or ``_per_s``, at any depth: a generator's summary holds several) and the ``complete`` flag."""
    if isinstance(x, dict):
        drop = ("seconds", "_per_s")
        return {k: _timeless(v) for k, v in x.items() if k != "complete" and not str(k).endswith(drop)}
    return [_timeless(v) for v in x] if isinstance(x, list) else x


def fingerprint(dataset_id: str) -> str:
    """12 hex digits of what a built dataset's contents depend on (its recipe, profile, seed, card, parent, size,
    the contents' hash), never how long it took to build.

    Runs and trained models cached from a dataset key on it, so a dataset rebuilt from new behaviour policies never
    reuses what was learned from the old one; a rebuild with the same settings and contents gives the same
    fingerprint, on another machine too (a generator's summary records its timings: they are left out)."""
    meta = read_metadata(dataset_id)
    kit = _timeless(meta.get("stitchkit"))
    text = json.dumps([kit, meta.get("total_steps"), meta.get("total_episodes")], sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def stale_reason(dataset_id: str, kit: dict[str, Any]) -> str | None:
    """Why a built kit dataset no longer matches what it was built from, or None: a locomotion dataset rolled out
    from other behaviour policies than the committed ones, or a derived one whose parent was rebuilt since."""
    recipe = parse_id(dataset_id)
    if recipe.kind == "locomotion":
        from stitchkit.data.locomotion import source_version

        built, now = (kit.get("card") or {}).get("policies"), source_version(recipe.env, recipe.name)
        if built != now:
            was = built or "of an earlier kit"
            where = f"data/replays/{recipe.env}" if recipe.name == "medium-replay" else f"data/policies/{recipe.env}"
            return f"built from {was}, {where} now holds {now}"
        return None
    parent = kit.get("parent")
    if not parent or not parent.startswith(NAMESPACE + "/"):
        return None
    st = status(parent)
    if st["state"] == "stale":
        return f"its parent {parent} is stale"
    if st["state"] == "built" and kit.get("parent_fingerprint") != fingerprint(parent):
        return f"its parent {parent} was rebuilt since"
    return None


def status(dataset_id: str) -> dict[str, Any]:
    """``missing``, ``built`` (with its profile), ``stale`` (built, but from what has changed since: with its
    profile and why) or ``corrupt`` (with why)."""
    folder = dataset_dir(dataset_id)
    if not folder.exists():
        return {"state": "missing"}
    meta_path, data = folder / "data" / "metadata.json", folder / "data" / "main_data.hdf5"
    if not meta_path.exists() or not data.exists():
        return {"state": "corrupt", "why": f"{folder} lacks data/metadata.json or data/main_data.hdf5"}
    try:
        meta = read_metadata(dataset_id)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        return {"state": "corrupt", "why": f"{meta_path} is not valid JSON ({err})"}
    kit = meta.get("stitchkit")
    if dataset_id.startswith(NAMESPACE + "/") and not (isinstance(kit, dict) and kit.get("complete")):
        return {"state": "corrupt", "why": f"{folder} has no completion mark: a half-written build"}
    profile = kit.get("profile") if isinstance(kit, dict) else None
    why = stale_reason(dataset_id, kit) if dataset_id.startswith(NAMESPACE + "/") else None
    return {"state": "stale", "profile": profile, "why": why} if why else {"state": "built", "profile": profile}


def load_minari(
    dataset_id: str,
    profile: str | Profile | None = None,
    build_missing: bool = False,
    download: bool = False,
    log=print,
):
    """The ``minari.MinariDataset`` for any id. Kit ids are checked for completeness and profile."""
    import minari

    minari_root()
    if dataset_id.startswith(NAMESPACE + "/"):
        parse_id(dataset_id)
        st = status(dataset_id)
        prof = get_profile(profile)
        if st["state"] == "corrupt":
            raise DatasetError(
                f"dataset {dataset_id} is corrupt: {st['why']}; delete it or rebuild with "
                f"`{rebuild_command(dataset_id)}`"
            )
        if st["state"] in ("missing", "stale"):
            if not build_missing:
                raise DatasetError(
                    f"dataset {dataset_id} is stale: {st['why']}; rebuild it with `{rebuild_command(dataset_id)}`"
                    if st["state"] == "stale"
                    else f"dataset {dataset_id} is not built yet; build it with "
                    f"`stitchkit data build {dataset_id} --profile {prof.name}`"
                )
            build(dataset_id, prof, log=log)
        elif st["profile"] != prof.name:
            raise DatasetError(
                f"dataset {dataset_id} was built at profile {st['profile']!r} but profile "
                f"{prof.name!r} is in use; rebuild it with `stitchkit data build {dataset_id} "
                f"--profile {prof.name} --force`, or use profile {st['profile']!r}"
            )
        with readable(dataset_id):
            return minari.load_dataset(dataset_id)
    if (minari_root() / dataset_id).exists():
        return minari.load_dataset(dataset_id)
    local = local_equivalent(dataset_id)
    hint = (
        f"; its local equivalent is built with `stitchkit data build {local}`"
        if local
        else "; no local equivalent is known (see `stitchkit data list`)"
    )
    if not download:
        raise DatasetError(f"Minari dataset {dataset_id} is not in {minari_root()} and downloads are off{hint}")
    try:
        return minari.load_dataset(dataset_id, download=True)
    except Exception as err:  # network errors come in many types
        raise DatasetError(
            f"Minari dataset {dataset_id} is not local and could not be downloaded ({type(err).__name__}: {err}){hint}"
        ) from err


@contextmanager
def readable(dataset_id: str):
    """Turn a damaged file's low-level error (h5py's OSError on a truncated HDF5 file, a missing group) into one
    line naming the dataset and the command that rebuilds it."""
    try:
        yield
    except (OSError, KeyError, RuntimeError) as err:
        if isinstance(err, DatasetError):
            raise
        first = (str(err).splitlines() or [""])[0]
        raise DatasetError(
            f"dataset {dataset_id} cannot be read ({type(err).__name__}: {first}): its files in "
            f"{dataset_dir(dataset_id)} are damaged; rebuild it with `{rebuild_command(dataset_id)}`"
        ) from None


def to_episodes(ds, kit: dict[str, Any] | None = None) -> list[Episode]:
    """Minari episodes -> the kit's :class:`Episode` list (unpacked and with their provenance, when the dataset's
    stitchkit metadata ``kit`` says so)."""
    kit = kit or {}
    provenance = packing.provenance_list(kit.get("provenance"))
    if kit.get("packed"):
        return packing.unpack(to_episodes(ds), provenance)
    out = []
    for i, ep in enumerate(ds.iterate_episodes()):
        infos = {
            k: np.asarray(v)
            for k, v in (ep.infos or {}).items()
            if isinstance(v, np.ndarray) and len(v) == len(ep.actions) + 1
        }
        prov = Provenance.from_json(provenance[i]) if provenance else Provenance()
        out.append(
            Episode(
                np.asarray(ep.observations),
                np.asarray(ep.actions),
                np.asarray(ep.rewards),
                np.asarray(ep.terminations, bool),
                np.asarray(ep.truncations, bool),
                infos,
                prov,
                id=i,
            )
        )
    return out


def load_episodes(
    dataset_id: str,
    profile: str | Profile | None = None,
    build_missing: bool = False,
    download: bool = False,
    log=print,
) -> list[Episode]:
    """Any dataset id -> list of :class:`Episode`: the one call every notebook and algorithm uses."""
    ds = load_minari(dataset_id, profile, build_missing, download, log)
    with readable(dataset_id):
        kit = ds.storage.metadata.get("stitchkit")
        kit = json.loads(kit) if isinstance(kit, str) else (kit or {})
        episodes = to_episodes(ds, kit)
        fix = (
            f"rebuild it: stitchkit data build {dataset_id} --force"
            if dataset_id.startswith(NAMESPACE + "/")
            else "fix or re-download the dataset"
        )
        try:
            check_episodes(dataset_id, episodes, *action_bounds(ds.action_space), fix=fix)
        except InvalidDataError as err:
            raise DatasetError(str(err)) from None
        stored = kit.get("content_hash")
        if stored is not None and dataset_id.startswith(NAMESPACE + "/"):
            actual = content_hash(episodes)
            if actual != stored:  # edited by hand since it was written: what was trained on it is not reused
                restamp(dataset_id, actual)
                log(
                    f"{dataset_id}: its contents changed since it was written; runs and models on the old contents "
                    "will not be reused"
                )
        return episodes


def restamp(dataset_id: str, new_hash: str) -> None:
    """Record a dataset's current content hash in its metadata (atomically), which changes its fingerprint."""
    path = dataset_dir(dataset_id) / "data" / "metadata.json"
    meta = json.loads(path.read_text())
    kit = meta.get("stitchkit")
    kit = json.loads(kit) if isinstance(kit, str) else dict(kit or {})
    meta["stitchkit"] = json.dumps(kit | {"content_hash": new_hash}, default=str)
    atomic_write_text(path, json.dumps(meta))


def check_env(dataset_id: str, env_id: str) -> None:
    """Raise if ``env_id`` is not the environment ``dataset_id`` was collected in (or evaluated on)."""
    meta = (
        read_metadata(dataset_id)
        if dataset_id.startswith(NAMESPACE + "/")
        else load_minari(dataset_id).storage.metadata
    )
    ids = {json.loads(meta[k])["id"] for k in ("env_spec", "eval_env_spec") if meta.get(k)}
    if env_id not in ids:
        raise DatasetError(
            f"environment {env_id!r} does not match dataset {dataset_id}, collected in "
            f"{' / evaluated on '.join(sorted(ids))}"
        )


def info(dataset_id: str, profile: str | Profile | None = None) -> dict[str, Any]:
    """Episodes, steps, return statistics, reference scores, parent and recipe of a built dataset."""
    ds = load_minari(dataset_id, profile)
    with readable(dataset_id):
        meta = ds.storage.metadata
        kit = meta.get("stitchkit")
        kit = json.loads(kit) if isinstance(kit, str) else (kit or {})
        eps = to_episodes(ds, kit)
    rets = returns(eps)
    out = {
        "id": dataset_id,
        "episodes": len(eps),
        "steps": total_steps(eps),
        "return_mean": float(rets.mean()),
        "return_std": float(rets.std()),
        "return_min": float(rets.min()),
        "return_max": float(rets.max()),
        "ref_min_score": meta.get("ref_min_score"),
        "ref_max_score": meta.get("ref_max_score"),
        "parent": kit.get("parent"),
        "recipe": kit.get("recipe"),
        "profile": kit.get("profile"),
        "card": kit.get("card"),
    }
    # maze data episodes (200 steps) are not comparable with 1000-step evaluation episodes: no dataset score
    if out["ref_min_score"] is not None and out["ref_max_score"] is not None and "pointmaze" not in dataset_id:
        out["normalized_score_mean"] = float(
            100 * (rets.mean() - out["ref_min_score"]) / (out["ref_max_score"] - out["ref_min_score"])
        )
    return out


def estimate_build_seconds(dataset_ids: list[str], profile: str | Profile | None = None) -> float:
    """Seconds that building the missing ones of ``dataset_ids`` will take here, said before a notebook builds them:
    locomotion datasets (rollouts of the behaviour policies, minutes each at ``lab``) are timed by a probe; the
    others build in seconds and count 0."""
    from stitchkit.data import locomotion

    prof = get_profile(profile)
    steps: dict[str, int] = {}  # env -> transitions to collect
    for ds in dict.fromkeys(dataset_ids):
        recipe = parse_id(ds)
        if recipe.kind == "subsample" and status(ds)["state"] != "built":  # built from its parent
            ds, recipe = recipe.parent, parse_id(recipe.parent)
        if recipe.kind == "locomotion" and status(ds)["state"] != "built":
            n = prof.data.locomotion_steps * (2 if recipe.name == "medium-expert" else 1)
            if recipe.env not in steps and not _refscores_path(recipe.env, prof.data.ref_episodes).exists():
                n += prof.data.ref_episodes * 1_000  # the expert's reference episodes, once per env
            steps[recipe.env] = steps.get(recipe.env, 0) + n
    return sum(locomotion.seconds_per_transition(env) * n for env, n in steps.items())


def list_datasets() -> list[dict[str, Any]]:
    """Every buildable base id with its local state, plus other local Minari datasets."""
    rows = [{"id": i, **status(i)} for i in base_ids()]
    root = minari_root()
    known = {r["id"] for r in rows}
    for meta in root.glob("**/data/metadata.json"):
        ds_id = str(meta.parent.parent.relative_to(root))
        if ds_id not in known and not any(part.startswith(".") for part in Path(ds_id).parts):
            rows.append({"id": ds_id, **status(ds_id)})
    return rows
