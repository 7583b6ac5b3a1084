"""Stitching methods that generate new trajectories from a dataset; one module per method, one interface.

Every method is run the same way, by :func:`run` (``stitchkit augment <method> --dataset ID --out ID``): it loads
the parent dataset, trains (or reloads) the method's models, generates, and writes the generated data as a Minari
dataset ``<parent>-<method>[-<tag>]-v0`` holding **generated data only**, every episode with its provenance. The
evaluators take it as ``augmented_id`` and mix it with the parent at a ratio r (``stitchkit train --augmented``).

========== ============================================ ===================================
method     module                                       what one generated episode is
========== ============================================ ===================================
naive      :mod:`stitchkit.augment.naive`               source prefix + one glued step + target suffix
diffstitch :mod:`stitchkit.augment.diffstitch`          source prefix + diffusion bridge + target suffix
astro      :mod:`stitchkit.augment.astro`               source prefix + model-rollout bridge + target suffix
ser        :mod:`stitchkit.augment.ser`                 one synthetic transition (no trajectory)
tatu       :mod:`stitchkit.augment.tatu`                a short (<= 5 step) model rollout from a dataset state
========== ============================================ ===================================

Each summary carries the method's suggested ``ratio`` (original : augmented) for the evaluators.
"""
from __future__ import annotations

import time
from dataclasses import fields
from typing import Any

from stitchkit.profiles import Profile, get_profile

class AugmentError(ValueError):
    """Bad augmentation input, or a run that produced nothing to save; the message says what to change."""


def _config(cls, method: str, options: dict[str, Any], seed: int):
    """A method's config dataclass from command-line options, naming any unknown option and the accepted ones."""
    names = {f.name for f in fields(cls)}
    unknown = set(options) - names
    if unknown:
        raise AugmentError(f"unknown {method} option(s) {sorted(unknown)}; accepted: {sorted(names)}")
    return cls(**{**options, "seed": seed})


def _progress(log):
    def progress(st: dict) -> None:
        if st["iteration"] % 10 == 0:
            log(f"  iteration {st['iteration']}: {st['accepted']}/{st['generated']} accepted, "
                f"{st['accepted_steps']} transitions")
    return progress


def _generate_diffstitch(dataset_id: str, episodes, prof: Profile, seed: int, options: dict[str, Any], log):
    from stitchkit.augment import diffstitch as ds
    from stitchkit.envs import env_name_of
    from stitchkit.paths import data_dir

    cfg = _config(ds.DiffStitchConfig, "DiffStitch", options, seed)
    cond = cfg.return_guidance > 0
    ckpt = data_dir() / "checkpoints" / "diffstitch" / ds.config_key(dataset_id, prof.name, seed, cond)
    from stitchkit.device import get_device

    models = ds.train_models(episodes, prof, seed, returns_condition=cond, checkpoint_dir=ckpt, log=log,
                             device=str(get_device()))
    result = ds.stitch(models, episodes, env_name_of(dataset_id), prof, cfg, dataset_id, progress=_progress(log))
    return result.episodes, ds.summary(result)


def _generate_astro(dataset_id: str, episodes, prof: Profile, seed: int, options: dict[str, Any], log):
    from stitchkit.augment import astro
    from stitchkit.augment import diffstitch as ds
    from stitchkit.device import get_device
    from stitchkit.envs import env_name_of
    from stitchkit.paths import data_dir

    cfg = _config(astro.AstroConfig, "ASTRO", options, seed)
    root = data_dir() / "checkpoints"
    models = astro.train_models(episodes, prof, seed, checkpoint_dir=root / "astro" / astro.config_key(
        dataset_id, prof.name, seed), diffstitch_dir=root / "diffstitch" / ds.config_key(dataset_id, prof.name, seed,
                                                                                          False),
        log=log, device=str(get_device()))

    result = astro.stitch(models, episodes, env_name_of(dataset_id), prof, cfg, dataset_id, progress=_progress(log))
    return result.episodes, {**astro.summary(result), "distance_quality": {
        k: v for k, v in models.quality.items() if k != "raw"}}


def _generate_ser(dataset_id: str, episodes, prof: Profile, seed: int, options: dict[str, Any], log):
    from stitchkit.augment import ser
    from stitchkit.device import get_device
    from stitchkit.paths import data_dir

    cfg = _config(ser.SERConfig, "SER", options, seed)
    device = str(get_device())
    models = ser.train_models(episodes, prof, seed, data_dir() / "checkpoints" / "ser" / ser.config_key(
        dataset_id, prof.name, seed), log=log, device=device)
    result = ser.generate(models, prof, cfg, device=device, log=log)
    return result.episodes, ser.summary(result)


def _generate_tatu(dataset_id: str, episodes, prof: Profile, seed: int, options: dict[str, Any], log):
    from stitchkit.augment import tatu
    from stitchkit.device import get_device
    from stitchkit.envs import env_name_of
    from stitchkit.paths import data_dir

    cfg = _config(tatu.TATUConfig, "TATU", options, seed)
    device = str(get_device())
    models = tatu.train_models(episodes, prof, seed, data_dir() / "checkpoints" / "tatu" / tatu.config_key(
        dataset_id, prof.name, seed), log=log, device=device)
    result = tatu.generate(models, episodes, env_name_of(dataset_id), prof, cfg, device=device,
                           progress=_progress(log))
    return result.episodes, tatu.summary(result)


GENERATORS = {"diffstitch": _generate_diffstitch, "astro": _generate_astro, "ser": _generate_ser,
              "tatu": _generate_tatu}
METHODS = tuple(GENERATORS)


def options_accepted(method: str) -> list[str]:
    """The option names ``method`` takes (its config dataclass's fields, less ``seed``)."""
    from importlib import import_module

    mod, cls = {"diffstitch": ("diffstitch", "DiffStitchConfig"), "astro": ("astro", "AstroConfig"),
                "ser": ("ser", "SERConfig"), "tatu": ("tatu", "TATUConfig")}[method]
    return sorted(f.name for f in fields(getattr(import_module(f"stitchkit.augment.{mod}"), cls)) if f.name != "seed")


def run(method: str, dataset_id: str, out_id: str | None = None, profile: str | Profile | None = None,
        seed: int = 0, force: bool = False, log=print, _locked: bool = False, **options: Any) -> dict[str, Any]:
    """Generate with ``method`` from ``dataset_id`` and save as ``out_id``; returns the run's summary.

    An existing ``out_id`` built at the same profile is kept (``force`` regenerates it)."""
    from stitchkit.data import registry

    if method not in GENERATORS:
        raise AugmentError(f"unknown augmentation method {method!r}; accepted: {', '.join(GENERATORS)}")
    prof = get_profile(profile)
    out_id = out_id or registry.augmented_id(dataset_id, method)
    registry.parse_id(dataset_id)
    try:
        recipe = registry.parse_id(out_id)
    except registry.DatasetError:
        recipe = None
    if recipe is None or recipe.kind != "augmented" or recipe.method != method or recipe.parent != dataset_id:
        raise AugmentError(f"output id {out_id!r} must name its parent and method, as "
                           f"{registry.augmented_id(dataset_id, method)!r} or "
                           f"{registry.augmented_id(dataset_id, method, 'mytag')!r}")
    if not _locked:
        with registry._build_lock(out_id):
            return run(method, dataset_id, out_id, prof, seed, force, log, _locked=True, **options)
    st = registry.status(out_id)
    if st["state"] == "built" and not force:
        if st["profile"] != prof.name:
            raise registry.DatasetError(f"{out_id} exists, built at profile {st['profile']!r}; use --force to "
                                        f"regenerate it at {prof.name!r}")
        log(f"{out_id}: already built at profile {prof.name}")
        return registry.read_metadata(out_id)["stitchkit"].get("augment", {})
    t0 = time.perf_counter()
    episodes = registry.load_episodes(dataset_id, prof, build_missing=True, log=log)
    generated, summary = GENERATORS[method](dataset_id, episodes, prof, seed, options, log)
    summary = {"method": method, "parent": dataset_id, "seed": seed, **summary,
               "total_seconds": round(time.perf_counter() - t0, 1)}
    save(out_id, generated, summary, prof)
    log(f"{out_id}: {len(generated)} generated episodes, {summary.get('accepted_transitions', '?')} generated "
        f"transitions, {summary['total_seconds']} s")
    return summary


def save(out_id: str, generated: list, summary: dict[str, Any], profile: str | Profile | None = None) -> None:
    """Write generated episodes as the augmented Minari dataset ``out_id`` (atomically), with the parent's
    environments and reference scores and the run's summary in its metadata. ``summary`` names ``method``,
    ``parent`` and ``seed``."""
    from stitchkit.data import registry

    prof = get_profile(profile)
    method, parent = summary["method"], summary["parent"]
    if not generated:
        hint = {"tatu": "lower the pessimism coefficient (--option pessimism=1)",
                "ser": "ask for more samples (--option samples=N)"}.get(
            method, "loosen the qualification threshold (delta) or the similarity threshold")
        raise AugmentError(f"{method} accepted no generated data from {parent} at profile {prof.name} "
                           f"({summary}); {hint}, or train the models longer (a bigger profile)")
    if _same_as_saved(out_id, generated, summary, prof.name):
        return  # rewriting identical data would only change its timings, and with them every cached run's key
    pmeta = registry.read_metadata(parent)
    kit = {"recipe": "augmented", "profile": prof.name, "seed": summary.get("seed", 0), "parent": parent,
           "augment": summary, "card": {"method": method, "content": "generated data only; provenance per episode"}}
    registry.write_dataset(out_id, generated, registry._env_spec(pmeta["env_spec"]),
                           registry._env_spec(pmeta.get("eval_env_spec")), pmeta.get("ref_min_score"),
                           pmeta.get("ref_max_score"), kit)


def _same_as_saved(out_id: str, generated: list, summary: dict[str, Any], profile: str) -> bool:
    """True when ``out_id`` is built at ``profile`` from the same config, with the same episodes (provenance,
    lengths and returns): a regenerated copy of what is saved (same seed, same code)."""
    import numpy as np

    from stitchkit.data import registry

    if registry.status(out_id).get("state") != "built":
        return False
    kit = registry.read_metadata(out_id)["stitchkit"]
    saved = kit.get("augment", {})
    if kit.get("profile") != profile or saved.get("config") != summary.get("config") or \
            kit.get("provenance") != [ep.provenance.to_json() for ep in generated]:
        return False
    old = registry.load_episodes(out_id, profile)
    return len(old) == len(generated) and all(
        len(a) == len(b) and np.allclose(a.rewards, b.rewards) and np.allclose(a.observations, b.observations)
        for a, b in zip(old, generated))


def oracle_errors(env: str, episodes: list):
    """The physics oracle's one-step error of every generated transition of an augmented dataset's episodes
    (bridges only for stitched episodes): the ground truth every method is judged by, whatever model it used."""
    import numpy as np

    from stitchkit.data.episodes import generated_transitions
    from stitchkit.oracle import PhysicsOracle

    if not episodes:
        return np.zeros(0)
    tr = generated_transitions(episodes)
    oracle = PhysicsOracle(env)
    try:
        return oracle.check(tr["observations"], tr["actions"], tr["next_observations"]).norm
    finally:
        oracle.close()


__all__ = ["run", "save", "oracle_errors", "METHODS", "AugmentError"]
