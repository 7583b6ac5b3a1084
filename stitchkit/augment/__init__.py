"""Stitching methods that generate new trajectories from a dataset; one module per method, one interface.

A method is one module that declares itself once (a :class:`~stitchkit.augment.method.Method`: name, config,
generate function, what it saves, per-dataset defaults), listed in :data:`stitchkit.plugins.STITCHING_METHODS`.
Every method is run the same way, by :func:`run` (``stitchkit augment <method> --dataset ID --out ID``): it loads
the parent dataset, trains (or reloads) the method's models, generates, and writes the generated data as a Minari
dataset ``<parent>-<method>[-<tag>]-v0`` holding **generated data only**, every episode with its provenance. The
learners take it as ``augmented_id`` and mix it with the parent at a ratio r (``stitchkit train --augmented``).

========== ============================================ ===================================
method     module                                       what one generated episode is
========== ============================================ ===================================
diffstitch :mod:`stitchkit.augment.diffstitch`          source prefix + diffusion bridge + target suffix
astro      :mod:`stitchkit.augment.astro`               source prefix + model-rollout bridge + target suffix
ser        :mod:`stitchkit.augment.ser`                 one synthetic transition (no trajectory)
tatu       :mod:`stitchkit.augment.tatu`                a short (<= 5 step) model rollout from a dataset state
chain      :mod:`stitchkit.augment.chains`              3-6 fragments end to end, joints glued or bridged
naive      :mod:`stitchkit.augment.naive`               a diffstitch/astro dataset's pairs, glued by one step
========== ============================================ ===================================

Each summary carries the method's suggested ``ratio`` (original : augmented) for the learners.
"""

from __future__ import annotations

import time
from typing import Any

from stitchkit.augment.method import Job, Method
from stitchkit.options import OptionError
from stitchkit.plugins import STITCHING_METHODS, load
from stitchkit.profiles import Profile, get_profile


class AugmentError(ValueError):
    """Bad augmentation input, or a run that produced nothing to save; the message says what to change."""


def method(name: str) -> Method:
    """The declaration of stitching method ``name`` (its module's ``METHOD``)."""
    try:
        return load(STITCHING_METHODS, name, "stitching method")
    except ValueError as err:
        raise AugmentError(str(err)) from None


def options_accepted(name: str) -> list[str]:
    """The option names method ``name`` takes (its config dataclass's fields, less ``seed``)."""
    return sorted(method(name).fields())


def resolved_config(name: str, dataset_id: str, options: dict[str, Any] | None = None, seed: int = 0) -> Any:
    """The config a run of ``name`` on ``dataset_id`` uses: the method's per-dataset defaults, then ``options``
    (typed and checked: an OptionError names a bad one)."""
    return method(name).config_for(dataset_id, options or {}, seed)


def run(
    name: str,
    dataset_id: str,
    out_id: str | None = None,
    profile: str | Profile | None = None,
    seed: int = 0,
    force: bool = False,
    log=print,
    dry_run: bool = False,
    **options: Any,
) -> dict[str, Any]:
    """Generate with method ``name`` from ``dataset_id`` and save as ``out_id``; returns the run's summary.

    The options are checked before any work. An existing ``out_id`` built at the same profile is kept (``force``
    regenerates it). ``dry_run``: stop once the options, ids and profile are checked and the config is settled
    (per-dataset and profile defaults filled in), and return that config."""
    from stitchkit.data import registry
    from stitchkit.device import get_device

    m = method(name)
    config = m.config_for(dataset_id, options, seed)  # raises OptionError before anything is loaded or trained
    prof = get_profile(profile)
    out_id = out_id or registry.augmented_id(dataset_id, name)
    registry.parse_id(dataset_id)
    try:
        recipe = registry.parse_id(out_id)
    except registry.DatasetError:
        recipe = None
    if recipe is None or recipe.kind != "augmented" or recipe.method != name or recipe.parent != dataset_id:
        raise AugmentError(
            f"output id {out_id!r} must name its parent and method, as "
            f"{registry.augmented_id(dataset_id, name)!r} or "
            f"{registry.augmented_id(dataset_id, name, 'mytag')!r}"
        )
    if dry_run:
        from dataclasses import asdict

        resolved = m.resolve(config, dataset_id, prof)
        return {"method": name, "parent": dataset_id, "out": out_id, "profile": prof.name, "config": asdict(resolved)}
    with registry.build_lock(out_id):
        st = registry.status(out_id)
        if st["state"] == "built" and not force:
            if st["profile"] != prof.name:
                raise registry.DatasetError(
                    f"{out_id} exists, built at profile {st['profile']!r}; use --force to "
                    f"regenerate it at {prof.name!r}"
                )
            log(f"{out_id}: already built at profile {prof.name}")
            return registry.read_metadata(out_id)["stitchkit"].get("augment", {})
        t0 = time.perf_counter()
        episodes = registry.load_episodes(dataset_id, prof, build_missing=True, log=log)
        job = Job(name, dataset_id, episodes, prof, config, log, str(get_device()))
        generated, summary = m.generate(job)
        summary = {
            "method": name,
            "parent": dataset_id,
            "seed": seed,
            **summary,
            "total_seconds": round(time.perf_counter() - t0, 1),
        }
        save(out_id, generated, summary, prof)
    log(
        f"{out_id}: {len(generated)} generated episodes, {summary.get('accepted_transitions', '?')} generated "
        f"transitions, {summary['total_seconds']} s"
    )
    return summary


def _run_in_worker(jobs: list[dict[str, Any]], profile: str) -> list[dict[str, Any]]:
    import torch

    torch.set_num_threads(1)
    out = []
    for job in jobs:
        try:
            out.append(run(profile=profile, log=lambda *_: None, **job))
        except AugmentError as err:  # nothing accepted (undertrained models): the caller decides what to do
            out.append({"error": str(err), "accepted_transitions": 0})
    return out


def start(jobs: list[dict[str, Any]], profile: str | Profile | None = None):
    """Run the :func:`run` calls ``jobs`` (keyword dicts: ``name``, ``dataset_id``, ``out_id``, ``seed`` and
    options) one after another in a worker process of its own; returns a ``concurrent.futures.Future`` of their
    summaries.

    Why: a generative model trains on one core for minutes; on a 2-core laptop a notebook can meanwhile train the
    learners that do not need its data (``train.run_many``) and call ``.result()`` when it does. One after another,
    so a later job reuses the models an earlier one trained (ASTRO's on DiffStitch's). Every job's options are
    checked here, before the worker starts; a job that accepts no generated data returns ``{"error": message}``
    in place of its summary, and the others still run."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    for job in jobs:
        options = {k: v for k, v in job.items() if k not in ("name", "dataset_id", "out_id", "seed", "force")}
        method(job["name"]).config_for(job["dataset_id"], options, job.get("seed", 0))  # fails now, not later
    pool = ProcessPoolExecutor(1, mp_context=mp.get_context("spawn"))
    future = pool.submit(_run_in_worker, jobs, get_profile(profile).name)
    pool.shutdown(wait=False)  # the worker exits when its jobs are done
    return future


# generated datasets the course reads (notebooks 06 and 08), built by `make data` after the models
COURSE_AUGMENTATIONS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("diffstitch", {"sampler": "strided"}),
    ("ser", {}),
    ("tatu", {}),
)


def _train_bridge_models(job: tuple[str, str, int]) -> str:
    """One dataset's DiffStitch and ASTRO models, trained (or found) where every notebook and command looks, then
    its :data:`COURSE_AUGMENTATIONS` (SER's and TATU's models train here too: minutes each on one core)."""
    import torch

    from stitchkit.augment import astro
    from stitchkit.data import registry
    from stitchkit.progress import quiet

    torch.set_num_threads(1)  # one core per dataset
    dataset_id, profile, seed = job
    prof = get_profile(profile)
    with quiet():
        episodes = registry.load_episodes(dataset_id, prof, build_missing=True, log=lambda *_: None)
        astro.cached_models(episodes, dataset_id, prof, seed, log=lambda *_: None)
        notes = []
        for name, options in COURSE_AUGMENTATIONS:
            try:
                run(name, dataset_id, None, prof, seed=seed, log=lambda *_: None, **options)
            except AugmentError as err:  # nothing kept (smoke's barely trained models): the notebook says so too
                notes.append(f"{name}: {err}")
    return "; ".join([dataset_id, *notes])


def prepare_models(
    dataset_ids: list[str], profile: str | Profile | None = None, seed: int = 0, workers: int = 2, log=print
) -> None:
    """Train the DiffStitch and ASTRO models (ASTRO's are DiffStitch's plus its temporal distance) of
    ``dataset_ids``, then generate their :data:`COURSE_AUGMENTATIONS`, one dataset per core, unless cached.
    ``make lab`` and ``make report`` run it after the data, so notebooks 02, 05, 06 and 08 load the models and
    generated data (minutes each on one core at ``lab``) instead of making them while a student waits; each still
    shows the models' training curves (kept with the models)."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    prof = get_profile(profile)
    with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as pool:
        for done in pool.map(_train_bridge_models, [(d, prof.name, seed) for d in dataset_ids]):
            log(f"models ready for {done}")


def save(out_id: str, generated: list, summary: dict[str, Any], profile: str | Profile | None = None) -> None:
    """Write generated episodes as the augmented Minari dataset ``out_id`` (atomically), with the parent's
    environments and reference scores and the run's summary in its metadata. ``summary`` names ``method``,
    ``parent`` and ``seed``."""
    from stitchkit.data import registry

    prof = get_profile(profile)
    name, parent = summary["method"], summary["parent"]
    if not generated:
        hint = method(name).empty_hint
        raise AugmentError(
            f"{name} accepted no generated data from {parent} at profile {prof.name} "
            f"({summary}); {hint}, or train the models longer (a bigger profile)"
        )
    if _same_as_saved(out_id, generated, summary, prof.name):
        return  # rewriting identical data would only change its timings, and with them every cached run's key
    kit = {
        "recipe": "augmented",
        "profile": prof.name,
        "seed": summary.get("seed", 0),
        "parent": parent,
        "augment": summary,
        "card": {"method": name, "content": "generated data only; provenance per episode"},
    }
    registry.write_derived(out_id, generated, parent, kit)


def _same_as_saved(out_id: str, generated: list, summary: dict[str, Any], profile: str) -> bool:
    """True when ``out_id`` is built at ``profile`` from the same config, with the same episodes (provenance,
    lengths and returns): a regenerated copy of what is saved (same seed, same code)."""
    import numpy as np

    from stitchkit.data import packing, registry

    if registry.status(out_id).get("state") != "built":
        return False
    kit = registry.read_metadata(out_id)["stitchkit"]
    saved = kit.get("augment", {})
    if (
        kit.get("profile") != profile
        or saved.get("config") != summary.get("config")
        or packing.provenance_list(kit.get("provenance")) != [ep.provenance.to_json() for ep in generated]
    ):
        return False
    old = registry.load_episodes(out_id, profile)
    return len(old) == len(generated) and all(
        len(a) == len(b) and np.allclose(a.rewards, b.rewards) and np.allclose(a.observations, b.observations)
        for a, b in zip(old, generated)
    )


def oracle_result(env: str, episodes: list, n: int | None = None, seed: int = 0):
    """The physics oracle's check (:class:`stitchkit.oracle.OracleResult`) of an augmented dataset's generated
    transitions (bridges only for stitched episodes), or of a seeded sample of ``n`` of them: the ground truth every
    method is judged by, whatever model it used."""
    import numpy as np

    from stitchkit.data.episodes import generated_transitions
    from stitchkit.oracle import PhysicsOracle

    tr = generated_transitions(episodes)
    total = len(tr["observations"])
    if n is not None and total > n:
        pick = np.sort(np.random.default_rng(seed).choice(total, size=n, replace=False))
        tr = {k: v[pick] for k, v in tr.items()}
    oracle = PhysicsOracle(env)
    try:
        return oracle.check(tr["observations"], tr["actions"], tr["next_observations"])
    finally:
        oracle.close()


def oracle_errors(env: str, episodes: list):
    """The oracle's one-step error norm of every generated transition (:func:`oracle_result`)."""
    import numpy as np

    return oracle_result(env, episodes).norm if episodes else np.zeros(0)


__all__ = [
    "AugmentError",
    "OptionError",
    "method",
    "options_accepted",
    "oracle_errors",
    "oracle_result",
    "resolved_config",
    "run",
    "save",
    "start",
]
