"""``stitchkit bench``: a grid of (dataset, augmenter, algorithm, seed) cells, run resumably, one record per cell.

The grid is a small TOML file (``stitchkit/grids/{smoke,lab,full}.toml`` are the kit's)::

    name = "lab"
    datasets = ["stitchkit/hopper/medium-replay-v0", "stitchkit/pointmaze-medium/stitch-v0"]
    augmenters = ["none", "diffstitch", "astro"]      # "none" or any of stitchkit.plugins.STITCHING_METHODS
    algorithms = ["td3bc", "iql"]                     # any of stitchkit.plugins.LEARNERS
    seeds = [0, 1, 2]
    augment_seed = 0                                  # one augmented dataset per (dataset, augmenter), shared
    [ratios]                                          # original : augmented per augmenter ("default" for the rest)
    default = 4.0
    tatu = 2.3333333333333335
    [augment_options.diffstitch]                      # options for every dataset ...
    sampler = "strided"
    [augment_options.tatu."stitchkit/hopper/medium-replay-v0"]      # ... or for one (over the method's own
    horizon = 3                                                    #     per-dataset defaults)

How it runs, and why:

1. **Augmented datasets first**, once per (dataset, augmenter) with ``augment_seed``, through
   :func:`stitchkit.augment.run` (an existing one is reused), so every algorithm trains on the same data.
2. **Groups**: a (dataset, augmenter, algorithm) group trains all its seeds in one batched model
   (:func:`stitchkit.train.run`), then writes one record per seed. A group is the unit of work, run through
   :mod:`stitchkit.runner` (the campaign's runner too): here, on worker processes, or as Ray tasks (with a GPU
   fraction each).
3. **Records** are JSON files under ``data/results/<grid>/<profile>/``, one per cell, written to a temporary file and
   renamed into place, each with a checksum of its content. A rerun skips a group whose records are all present
   and valid; a missing, unreadable or checksum-failing record makes its group run again (training itself resumes
   from its checkpoints), so an interrupted job picks up where it stopped and nothing partial is ever averaged.

A record has the campaign's format (:func:`stitchkit.runner.make_record`): ``result`` is what the run computed
(scores, curves) and is the same whichever executor ran it; ``spec`` is the group's settings (:func:`group_spec`);
``provenance`` says how (executor, seconds, host), and is not compared.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import socket
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import tomllib

from stitchkit import runner
from stitchkit.paths import data_dir
from stitchkit.profiles import Profile, get_profile

GRIDS_DIR = Path(__file__).parent / "grids"


class BenchError(ValueError):
    """A bad grid, or a store that cannot be used; the message names what was wrong and what is accepted."""


# ------------------------------------------------------------------------------------------------- the grid
@dataclass(frozen=True)
class Grid:
    name: str
    datasets: tuple[str, ...]
    augmenters: tuple[str, ...]
    algorithms: tuple[str, ...]
    seeds: tuple[int, ...]
    augment_seed: int = 0
    ratios: dict[str, float] = field(default_factory=lambda: {"default": 4.0})
    augment_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    train_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    full_only: dict[str, str] = field(default_factory=dict)  # "dataset" or "dataset algorithm" -> why

    def ratio(self, augmenter: str) -> float:
        return float(self.ratios.get(augmenter, self.ratios.get("default", 4.0)))

    def options_for(self, augmenter: str, dataset: str) -> dict[str, Any]:
        """An augmenter's options for one dataset: the shared ones, updated by the dataset's own table."""
        opts = self.augment_options.get(augmenter, {})
        shared = {k: v for k, v in opts.items() if not isinstance(v, dict)}
        return {**shared, **opts.get(dataset, {})}

    def excluded(self, group: Group, profile: str | None = None) -> str | None:
        """Why a group of the product is not run: ``n/a`` (a goal-conditioned learner, or chains, on a dataset
        without goals) or, at any profile but ``full``, ``full only`` with the grid's reason (a row that shows
        nothing at small budgets). None when it runs."""
        from stitchkit.plugins import LEARNERS, STITCHING_METHODS

        needs_maze = group.augmenter in STITCHING_METHODS and _needs_maze(group.augmenter)
        if _maze(group.dataset) is False and (
            needs_maze or (group.algorithm in LEARNERS and _goal_conditioned(group.algorithm))
        ):
            return "n/a: needs a maze (goals, positions)"
        if profile is not None and profile != "full":
            reason = self.full_only.get(f"{group.dataset} {group.algorithm}") or self.full_only.get(group.dataset)
            if reason:
                return f"full only: {reason}"
        return None

    def groups(self, profile: str | None = None) -> list[Group]:
        """The groups that run at ``profile`` (every one but the n/a ones when no profile is given)."""
        product = itertools.product(self.datasets, self.augmenters, self.algorithms)
        return [g for g in (Group(*k) for k in product) if self.excluded(g, profile) is None]

    def cells(self, profile: str | None = None) -> list[Cell]:
        return [Cell(g.dataset, g.augmenter, g.algorithm, s) for g in self.groups(profile) for s in self.seeds]


def _maze(dataset: str) -> bool | None:
    from stitchkit.data import registry

    try:
        return "maze" in registry.dataset_keys(dataset)
    except ValueError:
        return None  # not a kit dataset id: nothing is excluded for it


def _learner(algorithm: str):
    from stitchkit.train import learner

    return learner(algorithm)


def _goal_conditioned(algorithm: str) -> bool:
    return _learner(algorithm).goal_conditioned


def _needs_maze(method: str) -> bool:
    from stitchkit.augment import method as declared

    return declared(method).needs_maze


@dataclass(frozen=True)
class Group:
    dataset: str
    augmenter: str
    algorithm: str


@dataclass(frozen=True)
class Cell:
    dataset: str
    augmenter: str
    algorithm: str
    seed: int

    def file_name(self) -> str:
        h = hashlib.sha1(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:10]
        return f"{self.algorithm}-{self.augmenter}-s{self.seed}-{h}.json"


_KEYS = {
    "name",
    "datasets",
    "augmenters",
    "algorithms",
    "seeds",
    "augment_seed",
    "ratios",
    "augment_options",
    "train_options",
    "full_only",
}


def parse_grid(text: str, source: str = "<grid>") -> Grid:
    """A grid from TOML text, every name checked: unknown keys, augmenters, algorithms and dataset ids are errors
    that list what is accepted."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise BenchError(f"{source}: not valid TOML ({err})") from err
    return grid_from_raw(raw, source)


def grid_from_raw(raw: dict[str, Any], source: str = "<grid>") -> Grid:
    """A grid from an already-parsed TOML table (a campaign file holds a grid plus keys of its own)."""
    from stitchkit import augment
    from stitchkit.data import registry
    from stitchkit.plugins import LEARNERS as ALGOS
    from stitchkit.plugins import STITCHING_METHODS

    unknown = set(raw) - _KEYS
    if unknown:
        raise BenchError(f"{source}: unknown key(s) {sorted(unknown)}; accepted: {sorted(_KEYS)}")
    missing = {"datasets", "augmenters", "algorithms", "seeds"} - set(raw)
    if missing:
        raise BenchError(f"{source}: missing key(s) {sorted(missing)}")
    accepted_aug = ("none", *STITCHING_METHODS)  # the table read now: a method registered later is accepted
    for a in raw["augmenters"]:
        if a not in accepted_aug:
            raise BenchError(f"{source}: unknown augmenter {a!r}; accepted: {', '.join(accepted_aug)}")
    for a in raw["algorithms"]:
        if a not in ALGOS:
            raise BenchError(f"{source}: unknown algorithm {a!r}; accepted: {', '.join(ALGOS)}")
    for d in raw["datasets"]:
        try:
            registry.parse_id(d) if d.startswith(registry.NAMESPACE + "/") else None
        except registry.DatasetError as err:
            raise BenchError(f"{source}: {err}") from err
    if not raw["seeds"] or not all(isinstance(s, int) for s in raw["seeds"]):
        raise BenchError(f"{source}: seeds must be a non-empty list of integers, got {raw['seeds']!r}")
    for table in ("augment_options", "ratios", "train_options"):
        bad = set(raw.get(table, {})) - set(accepted_aug) - set(ALGOS) - {"default"}
        if bad:
            raise BenchError(f"{source}: [{table}] names {sorted(bad)}, which is neither an augmenter nor an algorithm")
    for method, opts in raw.get("augment_options", {}).items():
        if method == "none" or method not in STITCHING_METHODS:
            continue
        shared = {k: v for k, v in opts.items() if not isinstance(v, dict)}
        for table in [shared] + [v for v in opts.values() if isinstance(v, dict)]:
            try:  # typed like --option: a grid's bad value fails here, not after hours of training
                augment.method(method).check(table)
            except ValueError as err:
                raise BenchError(f"{source}: [augment_options.{method}] {err}") from err
    return Grid(
        name=str(raw.get("name", Path(source).stem)),
        datasets=tuple(raw["datasets"]),
        augmenters=tuple(raw["augmenters"]),
        algorithms=tuple(raw["algorithms"]),
        seeds=tuple(raw["seeds"]),
        augment_seed=int(raw.get("augment_seed", 0)),
        ratios={"default": 4.0, **raw.get("ratios", {})},
        augment_options=raw.get("augment_options", {}),
        train_options=raw.get("train_options", {}),
        full_only={str(k): str(v) for k, v in raw.get("full_only", {}).items()},
    )


def kit_file(path_or_name: str | Path, what: str = "grid", pattern: str = "*.toml") -> Path:
    """A TOML path, or the name of one of the kit's files in ``stitchkit/grids/`` (an error lists them)."""
    path = Path(path_or_name)
    if not path.exists() and (GRIDS_DIR / f"{path_or_name}.toml").exists():
        path = GRIDS_DIR / f"{path_or_name}.toml"
    if not path.exists():
        kit = sorted(p.stem for p in GRIDS_DIR.glob(pattern))
        raise BenchError(f"no {what} file {str(path_or_name)!r}; give a TOML path or one of the kit's: {kit}")
    return path


def load_grid(path_or_name: str | Path) -> Grid:
    """A grid file, or the name of one of the kit's grids (``smoke``, ``lab``, ``full``)."""
    path = kit_file(path_or_name)
    return parse_grid(path.read_text(), str(path))


# ------------------------------------------------------------------------------------------------- the store
def results_dir(grid: Grid, profile: str | Profile | None = None) -> Path:
    return data_dir() / "results" / grid.name / get_profile(profile).name


def record_path(folder: Path, cell: Cell) -> Path:
    return folder / cell.file_name()


def write_record(folder: Path, cell: Cell, spec: dict[str, Any], result: dict[str, Any], provenance: dict) -> Path:
    """One cell's record (:func:`stitchkit.runner.make_record`: the campaign's format), atomically."""
    return runner.write_record(
        record_path(folder, cell), runner.make_record(asdict(cell), spec, result, provenance), None
    )


def read_record(path: Path) -> dict[str, Any] | None:
    """A valid record, or None when the file is missing, unreadable, truncated or fails its checksum."""
    return runner.read_record(path)


def group_spec(grid: Grid, group: Group) -> dict[str, Any]:
    """Everything besides the cell that decides a group's result: a record made under another spec (the grid's
    ratio or options changed since) is stale and is redone, never reused."""
    return {
        "ratio": grid.ratio(group.augmenter),
        "seeds": list(grid.seeds),
        "augment_seed": grid.augment_seed,
        "augment_options": grid.options_for(group.augmenter, group.dataset) if group.augmenter != "none" else {},
        "train_options": grid.train_options.get(group.algorithm, {}),
    }


def _current(grid: Grid, folder: Path, cell: Cell) -> dict[str, Any] | None:
    """The cell's record if it is current: its checksum holds and it was made under the grid's spec now."""
    return runner.read_record(
        record_path(folder, cell), group_spec(grid, Group(cell.dataset, cell.augmenter, cell.algorithm))
    )


def load_records(grid: Grid, profile: str | Profile | None = None) -> list[dict[str, Any]]:
    """Every valid, current record of the grid's cells (cells without one are left out)."""
    folder = results_dir(grid, profile)
    name = get_profile(profile).name
    return [rec for cell in grid.cells(name) if (rec := _current(grid, folder, cell)) is not None]


def pending_groups(grid: Grid, profile: str | Profile | None = None) -> list[Group]:
    """Groups with at least one seed whose record is missing, invalid or stale."""
    folder = results_dir(grid, profile)
    return [
        g
        for g in grid.groups(get_profile(profile).name)
        if any(_current(grid, folder, Cell(g.dataset, g.augmenter, g.algorithm, s)) is None for s in grid.seeds)
    ]


# ------------------------------------------------------------------------------------------------- one unit of work
def augmented_id(grid: Grid, dataset: str, augmenter: str) -> str | None:
    from stitchkit.data import registry

    if augmenter == "none":
        return None
    return registry.augmented_id(dataset, augmenter, None if grid.augment_seed == 0 else f"s{grid.augment_seed}")


def build_augmented(grid: Grid, dataset: str, augmenter: str, profile: Profile, log=print) -> dict[str, Any]:
    """Build (or find) one augmented dataset; returns {"id", "ok", "reason"}."""
    from stitchkit import augment
    from stitchkit.data import registry

    out = augmented_id(grid, dataset, augmenter)
    options = grid.options_for(augmenter, dataset)
    if registry.status(out)["state"] == "built":  # reused: it must have been made with the config the grid asks for
        config = registry.read_metadata(out)["stitchkit"].get("augment", {}).get("config", {})
        wanted = asdict(augment.resolved_config(augmenter, dataset, options, grid.augment_seed))
        differ = {k: (config.get(k), v) for k, v in wanted.items() if k in config and config[k] != v and v is not None}
        if differ:
            raise BenchError(
                f"{out} exists but was built with "
                + ", ".join(f"{k}={a!r}" for k, (a, _) in differ.items())
                + "; the grid asks for "
                + ", ".join(f"{k}={b!r}" for k, (_, b) in differ.items())
                + f". Rebuild it (stitchkit augment {augmenter} --dataset {dataset} --force "
                + " ".join(f"--option {k}={b}" for k, (_, b) in differ.items())
                + "), or give the grid another augment_seed"
            )
    try:
        augment.run(augmenter, dataset, out, profile, seed=grid.augment_seed, log=log, **options)
        return {"id": out, "ok": True, "reason": ""}
    except augment.AugmentError as err:  # nothing accepted: the cells are recorded as skipped, with the reason
        return {"id": out, "ok": False, "reason": str(err)}


def run_group(
    grid: Grid, group: Group, profile: Profile, augmented: dict[str, Any] | None = None
) -> tuple[list[dict], dict[str, Any]]:
    """Train one group's seeds together; returns one ``result`` per seed (in ``grid.seeds`` order) and where the
    training ran (its run folder and the seconds its training took, which a cached run reports from its log).

    A group that cannot run for a reason of the data (no augmented data was accepted; Decision Transformer given
    transitions) gives ``status: "skipped"`` results with the reason; any other error propagates."""
    from stitchkit.train import NotTrajectoriesError
    from stitchkit.train import run as train_run

    base = {"profile": profile.name}
    if augmented is not None and not augmented["ok"]:
        return [{**base, "status": "skipped", "reason": augmented["reason"]} for _ in grid.seeds], {}
    aug_id = augmented["id"] if augmented else None
    try:
        out = train_run(**{**group_job(grid, group, profile), "augmented_id": aug_id, "progress": False})
    except NotTrajectoriesError as err:
        return [{**base, "status": "skipped", "reason": str(err)} for _ in grid.seeds], {}
    rows = out["curves"]
    train_info = {"run_dir": out["run_dir"], "train_seconds": max((r.get("seconds", 0.0) for r in rows), default=0.0)}
    results = []
    for i, seed in enumerate(grid.seeds):
        results.append(
            {
                **base,
                "status": "done",
                "augmented_id": aug_id,
                "steps": out["steps"],
                "score_last": out["score"]["last"][i],
                "score_best": out["score"]["best"][i],
                "return_last": out["return"]["last"][i],
                **({"d4rl_last": out["d4rl_score"]["last"][i]} if "d4rl_score" in out else {}),
                "curve": [[r["step"], r["score"]] for r in rows if r["seed"] == seed],
            }
        )
    return results, train_info


# ------------------------------------------------------------------------------------------------- running it
def _provenance(executor: str, seconds: float) -> dict[str, Any]:
    import stitchkit
    from stitchkit.device import get_device

    return {
        "executor": executor,
        "seconds": round(seconds, 1),
        "host": socket.gethostname(),
        "device": str(get_device()),
        "version": stitchkit.__version__,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }


def _silent(*_: Any) -> None:
    """A worker's log: the driver says what came back (a module-level function: it travels to the worker)."""


def group_task(grid: Grid, group: Group, profile: Profile, augmented: dict | None, executor: str):
    """One job (:mod:`stitchkit.runner`): train a group, return its results and where they were made."""
    t0 = time.perf_counter()
    results, info = run_group(grid, group, profile, augmented)
    return results, {**_provenance(executor, time.perf_counter() - t0), **info}


def run(
    grid: Grid,
    profile: str | Profile | None = None,
    executor: str = "local",
    address: str | None = None,
    gpus_per_task: float = 0.0,
    cpus_per_task: float = 1.0,
    log=print,
    on_group: Callable[[Group, list[dict]], None] | None = None,
    processes: int = 1,
) -> dict[str, Any]:
    """Run every pending group of ``grid`` and write its records; returns counts and the wall time.

    Jobs go through :mod:`stitchkit.runner`, as the campaign's do: ``executor="local"`` trains the groups here,
    ``processes`` at a time (one: in this process; more: worker processes, a group's batched update using about one
    CPU core each, so 2 fills a 2-core laptop); ``executor="ray"`` runs the augmented-data builds, then the groups,
    as Ray tasks on a local instance or on the cluster at ``address`` (workers must see the same ``STITCHKIT_DATA``
    folder), each asking ``cpus_per_task`` CPUs and ``gpus_per_task`` GPUs. Builds run first: a group waits for its
    data. Only this process writes records."""
    prof = get_profile(profile)
    if executor not in runner.EXECUTORS:
        raise BenchError(f"unknown executor {executor!r}; accepted: {', '.join(runner.EXECUTORS)}")
    if processes < 1:
        raise BenchError(f"processes must be >= 1, got {processes}")
    folder = results_dir(grid, prof)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "grid.json").write_text(json.dumps(asdict(grid), indent=1, sort_keys=True))
    todo = pending_groups(grid, prof)
    t0 = time.perf_counter()
    n = len(grid.groups(prof.name))
    log(f"bench {grid.name} at {prof.name}: {n - len(todo)} of {n} groups done, {len(todo)} to run ({executor})")
    if not todo:
        return {"groups_run": 0, "cells": len(grid.cells(prof.name)), "seconds": 0.0, "folder": str(folder)}
    builds = [k for k in dict.fromkeys((g.dataset, g.augmenter) for g in todo) if k[1] != "none"]
    built: dict[tuple[str, str], dict[str, Any]] = {}
    groups = list(todo)
    quiet = executor == "ray" or processes > 1  # a worker's build logs nothing; the driver says what came back

    def next_job() -> runner.Job | None:
        if builds:
            d, a = builds.pop(0)
            return runner.Job(
                ("build", d, a), build_augmented, (grid, d, a, prof, _silent if quiet else log), f"build:{a}"
            )
        ready = [g for g in groups if g.augmenter == "none" or (g.dataset, g.augmenter) in built]
        if not ready:
            return None
        g = ready[0]
        groups.remove(g)
        args = (grid, g, prof, built.get((g.dataset, g.augmenter)), executor)
        return runner.Job(("group", g), group_task, args, f"group:{g.algorithm}/{g.augmenter}")

    def done(job: runner.Job, out: Any) -> None:
        if job.key[0] == "build":
            built[job.key[1:]] = out
            log(f"  {job.key[2]} on {job.key[1]}: " + ("ready" if out["ok"] else "nothing accepted"))
            return
        group, (results, provenance) = job.key[1], out
        spec = group_spec(grid, group)
        for seed, res in zip(grid.seeds, results):
            write_record(folder, Cell(group.dataset, group.augmenter, group.algorithm, seed), spec, res, provenance)
        log(
            f"  {group.algorithm} on {group.dataset} + {group.augmenter}: "
            + ", ".join(f"{r['score_last']:.1f}" if r["status"] == "done" else "skipped" for r in results)
            + f" ({provenance['seconds']} s)"
        )
        if on_group:
            on_group(group, results)

    workers = min(processes, len(todo)) if executor == "local" else 0
    with runner.executor(executor, workers, address, cpus_per_task, gpus_per_task, in_process=True) as ex:
        runner.drive(ex, next_job, done)
    return {
        "groups_run": len(todo),
        "cells": len(grid.cells(prof.name)),
        "seconds": round(time.perf_counter() - t0, 1),
        "folder": str(folder),
    }


# ------------------------------------------------------------------------------------------------- tables
def scores(records: Iterable[dict], metric: str = "score_last") -> dict[tuple[str, str, str], list[float]]:
    """{(dataset, augmenter, algorithm): [score per seed]} over done records."""
    out: dict[tuple[str, str, str], list[float]] = {}
    for r in records:
        if r["result"]["status"] == "done":
            c = r["cell"]
            out.setdefault((c["dataset"], c["augmenter"], c["algorithm"]), []).append(r["result"][metric])
    return out


def table(grid: Grid, records: list[dict], metric: str = "score_last", profile: str | Profile | None = None) -> str:
    """A paper-shaped Markdown table, mean ± std over seeds, the best of each row in bold and the second best
    underlined (by mean). Several augmenters: DiffStitch's Table 1 - a row per (dataset, algorithm), a column per
    augmenter. One augmenter: TELS's small-data table - a row per dataset, a column per algorithm."""
    sc = scores(records, metric)
    if len(grid.augmenters) > 1:
        head, keys = (
            ["dataset", "algorithm", *grid.augmenters],
            [
                ([d.removeprefix("stitchkit/"), algo], [(d, a, algo) for a in grid.augmenters])
                for d in grid.datasets
                for algo in grid.algorithms
            ],
        )
    else:
        aug = grid.augmenters[0]
        head, keys = (
            ["dataset", *grid.algorithms],
            [([d.removeprefix("stitchkit/")], [(d, aug, algo) for algo in grid.algorithms]) for d in grid.datasets],
        )
    name = get_profile(profile).name if profile is not None else None
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    notes: dict[str, str] = {}
    for labels, cells in keys:
        why = [grid.excluded(Group(*k), name) for k in cells]
        if all(why) and len(set(why)) == 1:  # the whole row is n/a (or full only): one mark, one note
            if why[0].startswith("n/a"):
                continue
            notes.setdefault(why[0], f"[{len(notes) + 1}]")
            rows.append("| " + " | ".join(labels + [f"full only {notes[why[0]]}"] * len(cells)) + " |")
            continue
        marked = _marked([None if w else sc.get(k) for k, w in zip(cells, why)])
        rows.append("| " + " | ".join(labels + [("n/a" if w else m) for m, w in zip(marked, why)]) + " |")
    rows += [f"\n{mark} {why}" for why, mark in notes.items()]
    return "\n".join(rows)


def _marked(values: list[list[float] | None]) -> list[str]:
    """'mean ± std' per cell ('-' when empty), best in bold and second underlined."""
    import numpy as np

    from stitchkit.stats import rank_marks

    means = [float(np.mean(v)) if v else float("nan") for v in values]
    out = []
    for v, m, mark in zip(values, means, rank_marks(means)):
        text = f"{m:.1f} ± {float(np.std(v)):.1f}" if v else "-"
        out.append(f"**{text}**" if mark == "best" else f"<u>{text}</u>" if mark == "second" else text)
    return out


def estimate_seconds(grid: Grid, profile: str | Profile | None = None, probe_seconds: float = 1.0) -> dict[str, float]:
    """A time estimate for the pending groups' training, before starting: each algorithm's batched update speed
    is probed for ``probe_seconds`` on synthetic data of the first dataset's sizes, times the profile's steps, for
    every pending group whose run is not already in the training cache (an earlier notebook's runs load at once).
    Augmentation and evaluation come on top (printed separately by the notebook)."""
    from stitchkit.device import get_device
    from stitchkit.train import is_finished, learner

    prof = get_profile(profile)
    dev = get_device()
    total = dict.fromkeys(grid.algorithms, 0.0)
    todo = [g for g in pending_groups(grid, prof) if not is_finished(group_job(grid, g, prof))]
    for a in grid.algorithms:
        steps, batch = learner(a).budget(prof, learner(a).user_options(prof, grid.train_options.get(a, {})))
        rate = steps_per_second(a, len(grid.seeds), dev, probe_seconds, batch)
        total[a] = steps / rate * sum(g.algorithm == a for g in todo)
    return total


def group_job(grid: Grid, group: Group, profile: Profile) -> dict[str, Any]:
    """The :func:`stitchkit.train.run` arguments of a group: what :func:`run_group` trains and the estimate checks."""
    return dict(
        algo_name=group.algorithm,
        dataset_id=group.dataset,
        seeds=list(grid.seeds),
        profile=profile,
        augmented_id=augmented_id(grid, group.dataset, group.augmenter),
        ratio=grid.ratio(group.augmenter),
        **grid.train_options.get(group.algorithm, {}),
    )


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Torch's intra-op threads set to ``n`` inside the block, restored after."""
    import torch

    before, _ = torch.get_num_threads(), torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def estimate_runs(jobs: list[dict[str, Any]], processes: int = 2, probe_seconds: float = 0.5) -> float:
    """Wall seconds that :func:`stitchkit.train.run_many` will take for ``jobs`` on this machine, said before
    starting: each learner's batched update is probed here for ``probe_seconds`` (the rate this machine gives, not
    a number from elsewhere), times its steps, plus 10% for sampling and evaluation; the jobs spread over
    ``processes`` workers. Runs already in the training cache (:func:`stitchkit.train.is_finished`) cost nothing.
    The probe runs at one thread, as each worker does: probed at the kernel's threads on a busy machine, a 0.5 s
    probe read ten times slower than the runs it predicts."""
    from stitchkit.device import get_device
    from stitchkit.train import is_finished, learner, seed_list

    dev, rates, each = get_device(), {}, []
    for job in (j for j in jobs if not is_finished(j)):  # cached runs load at once
        spec = learner(job["algo_name"])
        prof = get_profile(job.get("profile"))
        known = {"algo_name", "dataset_id", "seeds", "profile", "augmented_id", "ratio", "resume", "progress"}
        budget = {"build_missing", "steps", "top_fraction", "eval_every", "eval_episodes"}
        options = {k: v for k, v in job.items() if k not in known | budget}
        sized = spec.user_options(prof, options)  # the profile's widths and the job's own, as the run builds them
        steps, batch = spec.budget(prof, sized)
        steps = job.get("steps") or steps
        seeds = len(seed_list(job.get("seeds", 1)))
        key = (spec.name, seeds, batch, repr(sorted(sized.items())))
        if key not in rates:
            with torch_threads(1):
                rates[key] = steps_per_second(spec.name, seeds, dev, probe_seconds, batch, **sized)
        each.append(1.1 * steps / rates[key])
    return max(sum(each) / max(1, min(processes, len(each))), max(each, default=0.0))


def fake_batch(algo: str, seeds: int, batch: int, device, obs_dim: int = 11, act_dim: int = 3, window: int = 20):
    """A synthetic (S, B, ...) batch of hopper's sizes, for timing updates (DT: K-step windows; goal-conditioned
    learners: with goals)."""
    import torch

    g = torch.Generator().manual_seed(0)
    S, B, K = seeds, batch, window
    if _learner(algo).sequence:  # trajectory windows (Decision Transformer)
        b = {
            "returns_to_go": torch.rand(S, B, K, generator=g),
            "observations": torch.randn(S, B, K + 1, obs_dim, generator=g),
            "actions": torch.rand(S, B, K, act_dim, generator=g) * 2 - 1,
            "timesteps": torch.randint(0, 900, (S, B, K)),
            "mask": torch.ones(S, B, K),
        }
    else:
        b = {
            "observations": torch.randn(S, B, obs_dim, generator=g),
            "actions": torch.rand(S, B, act_dim, generator=g) * 2 - 1,
            "rewards": torch.randn(S, B, generator=g),
            "next_observations": torch.randn(S, B, obs_dim, generator=g),
            "terminals": torch.zeros(S, B),
        }
        from stitchkit.train import learner

        if learner(algo).goal_conditioned:  # goals are states; hindsight rewards 0 or -1
            at_goal = (torch.rand(S, B, generator=g) < 0.2).float()
            b |= {
                "actor_goals": torch.randn(S, B, obs_dim, generator=g),
                "value_goals": torch.randn(S, B, obs_dim, generator=g),
                "rewards": at_goal - 1,
                "masks": 1 - at_goal,
            }
    return {k: v.to(device) for k, v in b.items()}


def steps_per_second(algo: str, seeds: int, device, seconds: float, batch: int, **options: Any) -> float:
    """Batched update steps per second of ``algo`` with ``seeds`` members (synthetic data, after 3 warm-up steps);
    ``options``: the learner's sized options (a network's width)."""
    import torch

    from stitchkit.train import make_algo

    model = make_algo(algo, 11, 3, list(range(seeds)), 1_000_000, **options).to(device)
    b = fake_batch(algo, seeds, batch, device)
    for i in range(3):
        model.update(b, i)
    if device.type == "cuda":
        torch.cuda.synchronize()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        model.update(b, n)
        n += 1
    if device.type == "cuda":
        torch.cuda.synchronize()
    return n / (time.perf_counter() - t0)


__all__ = [
    "BenchError",
    "Cell",
    "Grid",
    "Group",
    "estimate_seconds",
    "grid_from_raw",
    "kit_file",
    "load_grid",
    "load_records",
    "parse_grid",
    "pending_groups",
    "read_record",
    "results_dir",
    "run",
    "table",
    "write_record",
]
