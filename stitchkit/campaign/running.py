"""Running a campaign: build each augmented dataset, train each cell, write and commit its record, within a time
budget, on local worker processes or a Ray cluster (:mod:`stitchkit.runner`, the executor ``stitchkit bench``
uses too). Only this process, the driver, writes records: the workers return them."""

from __future__ import annotations

import contextlib
import hashlib
import json
import subprocess
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from stitchkit import runner
from stitchkit.augment import compact
from stitchkit.bench import BenchError, Cell
from stitchkit.campaign.readings import write_readme
from stitchkit.campaign.records import (
    DATA_FILE,
    MODELS_COMMIT_BYTES,
    Campaign,
    cell_name,
    commit_of,
    data_summary,
    machine,
    models_path,
    only_filter,
    pending,
    records,
    results_folder,
    short_id,
    spec,
    stage_path,
    write_build,
    write_data_summaries,
    write_record,
)
from stitchkit.files import atomic_write_bytes, atomic_write_text
from stitchkit.paths import project_root


# ------------------------------------------------------------------------------------------------- one unit of work
def stage_spec(c: Campaign, dataset: str, augmenter: str) -> dict[str, Any]:
    """What a compact build must have been made under to stand in for a build now: the augmenter's spec (id, seed,
    config, sizes: the records' own ``spec["augment"]``) and the parent data's fingerprint."""
    from stitchkit.data import registry

    out = {"augment": spec(c, Cell(dataset, augmenter, c.grid.algorithms[0], c.grid.seeds[0]))["augment"]}
    out["parent"] = registry.fingerprint(dataset) if registry.status(dataset)["state"] == "built" else None
    return json.loads(json.dumps(out))  # as a file stores it (tuples as lists)


def stage_matches(saved: dict[str, Any], wanted: dict[str, Any]) -> bool:
    return wanted["parent"] is not None and {k: saved.get(k) for k in wanted} == wanted


def models_folder(c: Campaign, dataset: str, augmenter: str) -> tuple[Path, str] | None:
    """The folder a build of ``augmenter`` on ``dataset`` trains its models in, and the finished models' file name
    (``Method.models_key``: the parent data's contents, the campaign's sizes, the seed); None for a method that
    declares none. The parent must be built (its fingerprint is part of the key)."""
    from stitchkit import augment

    m = augment.method(augmenter)
    config = m.config_for(dataset, c.grid.options_for(augmenter, dataset), c.grid.augment_seed)
    folder = m.models_dir(dataset, c.profile(), config)
    return None if folder is None else (folder, m.models_file)


def restore_models(c: Campaign, dataset: str, augmenter: str, committed: Path) -> bool:
    """Put committed trained models where this build looks for them, so that it loads them instead of training.

    Only into the very folder they were trained in (the key covers data, sizes and seed: any change trains anew),
    only when nothing is there yet, and only if the file is the one its ``.json`` names (SHA-256)."""
    meta = committed.with_suffix(".json")
    where = models_folder(c, dataset, augmenter)
    if where is None or not committed.exists() or not meta.exists():
        return False
    folder, name = where
    saved = json.loads(meta.read_text())
    if saved["key"] != folder.name or (folder / name).exists():
        return False
    data = committed.read_bytes()
    if hashlib.sha256(data).hexdigest() != saved["sha256"]:
        raise BenchError(f"{committed} does not match its {meta.name} (SHA-256): delete both to train the models anew")
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(folder / name, data)
    return True


def carry_models(c: Campaign, folder: Path, dataset: str, augmenter: str, log=print) -> list[Path]:
    """Copy a build's finished models (if trained, new, and under :data:`MODELS_COMMIT_BYTES`) beside the campaign's
    records, with their ``.json``; returns the files written, for the driver to commit. Called after each build and
    by ``stitchkit campaign carry`` while a long build is still generating."""
    from stitchkit.data import registry

    if registry.status(dataset)["state"] != "built":
        return []
    where = models_folder(c, dataset, augmenter)
    if where is None or not (where[0] / where[1]).exists():
        return []
    data = (where[0] / where[1]).read_bytes()
    committed = models_path(folder, dataset, augmenter)
    meta = {"key": where[0].name, "file": where[1], "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    if len(data) > MODELS_COMMIT_BYTES:
        log(f"  ({augmenter}'s models for {short_id(dataset)}, {len(data) / 2**20:.0f} MB, too large to commit)")
        return []
    if committed.with_suffix(".json").exists() and json.loads(committed.with_suffix(".json").read_text()) == meta:
        return []
    committed.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(committed, data)
    atomic_write_text(committed.with_suffix(".json"), json.dumps(meta, indent=1, sort_keys=True) + "\n")
    return [committed, committed.with_suffix(".json")]


def carry(c: Campaign, folder: Path, commit: bool = False, log=print) -> list[Path]:
    """``stitchkit campaign carry``: every finished set of trained models this campaign's builds have on this machine,
    copied beside its records (and committed with ``commit``). For a build longer than a session: run it once the
    models are trained and the build is generating, so that the next session starts from them."""
    from stitchkit.data import registry

    written = []
    for dataset in c.grid.datasets:
        if registry.status(dataset)["state"] != "built":
            continue
        for augmenter in c.grid.augmenters:
            if augmenter != "none":
                written += carry_models(c, folder, dataset, augmenter, log=log)
    if commit and written:
        git_commit(written, f"campaign {c.name}: trained models carried ({len(written) // 2})", project_root(), log)
    return written


STAGE_KEY = "_stage"  # a build's compact generated data, travelling from the worker to the driver, which writes it


def build(
    c: Campaign,
    dataset: str,
    augmenter: str,
    log=print,
    code: dict[str, Any] | None = None,
    stage: Path | None = None,
    models: Path | None = None,
) -> dict[str, Any]:
    """Build (or find) one augmented dataset with the campaign's sizes; returns its build record (``code``: the
    commit the runner started from, default the checkout's now).

    ``stage``: the campaign's committed compact copy of this build (:mod:`stitchkit.augment.compact`, for bridge
    methods). When it was made under the same augmenter spec from the same parent data, the dataset is rebuilt from
    it in seconds instead of generated for hours (the record says ``rebuilt_from``); otherwise the dataset is
    generated, and a bridge method's output comes back packed under :data:`STAGE_KEY` for the driver to write.
    ``models``: the campaign's committed trained models for this build (:func:`carry_models`); when they were
    trained for this very build (same data, sizes, seed), it loads them instead of training (``models_from``)."""
    from stitchkit import augment
    from stitchkit.augment import compact
    from stitchkit.data import registry

    out_id = c.augmented_id(dataset, augmenter)
    t0, cpu0, code = time.perf_counter(), time.process_time(), code or commit_of()
    prof = c.profile()
    wanted = stage_spec(c, dataset, augmenter)
    saved = compact.meta(stage) if stage is not None else None
    extra: dict[str, Any] = {}
    if saved is not None and stage_matches(saved, wanted) and registry.status(out_id)["state"] != "built":
        parent = registry.load_episodes(dataset, prof, log=lambda *_: None)
        eps = compact.read(stage, parent, registry.parse_id(dataset).env)
        augment.save(out_id, eps, saved["summary"], prof)
        summary, extra = saved["summary"], {"rebuilt_from": f"stages/{stage.name}"}
    else:
        if models is not None and registry.status(out_id)["state"] != "built":  # trained in an earlier session
            if registry.status(dataset)["state"] != "built":  # the models' key holds the parent's fingerprint
                registry.load_episodes(dataset, prof, build_missing=True, log=lambda *_: None)
            if restore_models(c, dataset, augmenter, models):
                extra["models_from"] = f"stages/{models.name}"
        summary = augment.run(
            augmenter,
            dataset,
            out_id,
            prof,
            seed=c.grid.augment_seed,
            log=log,
            **c.grid.options_for(augmenter, dataset),
        )
        eps = registry.load_episodes(out_id, prof, build_missing=False, log=lambda *_: None)
        if stage is not None and compact.compactable(eps):
            kept = registry.read_metadata(out_id)["stitchkit"]["augment"]  # rebuilt, it must carry the same summary
            extra[STAGE_KEY] = compact.pack(eps, {**wanted, "summary": kept})
    keep = ("accepted_transitions", "accepted", "generated", "iterations", "total_seconds", "train_seconds", "episodes")
    return {
        "id": out_id,
        "fingerprint": registry.fingerprint(out_id),
        "summary": {k: v for k, v in summary.items() if k in keep},
        "oracle": oracle_sample(registry.parse_id(dataset).env, eps),
        "actions": action_summary(eps, registry.load_episodes(dataset, prof, log=lambda *_: None)),
        "seconds": round(time.perf_counter() - t0, 1),
        # what the campaign's CPU hours count: a build sharing its core (a low-priority filler) waits, CPU time doesn't
        "cpu_seconds": round(time.process_time() - cpu0, 1),
        **code,
        "machine": machine(),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **extra,
    }


ORACLE_SAMPLE = 20_000  # generated transitions the physics oracle checks per build: seconds of MuJoCo, a tight median


def oracle_sample(env: str, episodes: list, n: int = ORACLE_SAMPLE, seed: int = 0) -> dict[str, Any]:
    """The physics oracle's one-step error (:mod:`stitchkit.oracle`) on a seeded sample of a build's generated
    transitions: median, 90th percentile and how many were checked. Why in the build record: a generator's size is
    chosen by what it costs, and this is what it buys, comparable across builds, sizes and methods without
    training a learner."""
    from stitchkit import augment

    total = sum(int(ep.provenance.generated_mask(len(ep)).sum()) for ep in episodes)
    if not total:
        return {"n": 0, "of": 0}
    result = augment.oracle_result(env, episodes, n=n, seed=seed)
    return {**{k: round(v, 5) if isinstance(v, float) else v for k, v in result.summary().items()}, "of": total}


def action_summary(episodes: list, parent: list) -> dict[str, Any]:
    """Mean |action| and mean reward per step of a build's generated transitions and of its parent data's. Why in
    the build record: TD3+BC's policy loss clones each batch's actions, so a generator whose motion is gentler than
    the behaviour's (smaller actions that still fit their state changes: ``benchmarks/generated_actions.py``) pulls
    the policy toward softer actions, which neither qualification nor the oracle's error reports; and the reward per
    step is what return guidance is meant to raise (a bridge method's rewards are its reward model's labels)."""
    from stitchkit.data.episodes import generated_transitions

    gen = generated_transitions(episodes)
    if not len(gen["actions"]):
        return {"n": 0}
    data, rewards = (np.concatenate([getattr(ep, k) for ep in parent]) for k in ("actions", "rewards"))
    return {
        "n": len(gen["actions"]),
        "mean_abs": round(float(np.abs(gen["actions"]).mean()), 4),
        "data_mean_abs": round(float(np.abs(data).mean()), 4),
        "reward": round(float(gen["rewards"].mean()), 4),
        "data_reward": round(float(rewards.mean()), 4),
    }


def run_job(c: Campaign, cells: list[Cell]) -> dict[str, Any]:
    """The :func:`stitchkit.train.run` keywords that train ``cells`` (one learner's seeds on one dataset)."""
    first = cells[0]
    return dict(
        algo_name=first.algorithm,
        dataset_id=first.dataset,
        seeds=[x.seed for x in cells],
        profile=c.profile(),
        augmented_id=c.augmented_id(first.dataset, first.augmenter),
        ratio=c.grid.ratio(first.augmenter),
        steps=c.train["steps"],
        eval_every=c.train["eval_every"],
        eval_episodes=c.train["eval_episodes"],
        progress=False,
        **c.learner_options(),
    )


def train_cell(c: Campaign, cell: Cell, code: dict[str, Any] | None = None) -> dict[str, Any]:
    """Train one cell (a single-seed :func:`stitchkit.train.run`, resumable from its checkpoints) and return its
    record, not yet written. ``code``: the commit the runner started from (its workers imported the kit then),
    default the checkout's now."""
    return train_cells(c, [cell], code)[0]


def train_cells(c: Campaign, cells: list[Cell], code: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Train cells that differ only in their seed as one seed-batched run (a GPU's way: 8 seeds cost about 1.4
    times one) and return one record per cell. Member s of a batched run follows the same algorithm as a
    single run with seed s, but a batched matmul may round differently, so a record names the seeds it was
    trained with; the CPU campaign trains one seed per run."""
    from stitchkit.data import registry
    from stitchkit.train import run

    first = cells[0]
    if any((x.dataset, x.augmenter, x.algorithm) != (first.dataset, first.augmenter, first.algorithm) for x in cells):
        raise BenchError(f"cells trained together must differ only in their seed: {cells}")
    t0, code = time.perf_counter(), code or commit_of()
    aug_id = c.augmented_id(first.dataset, first.augmenter)
    out = run(**run_job(c, cells))
    data = {
        "dataset": registry.fingerprint(first.dataset),
        **({"augmented": registry.fingerprint(aug_id)} if aug_id else {}),
    }
    wall, here = round(time.perf_counter() - t0, 1), machine()
    # a run found finished in the cache (its runner stopped before the record) took its training loop's time, not ours
    wall = max(wall, max((r.get("seconds") or 0.0 for r in out["curves"]), default=0.0))
    recs = []
    for cell in cells:
        rows = sorted((r for r in out["curves"] if r["seed"] == cell.seed), key=lambda r: r["step"])
        losses = tuple(sorted(k for k in rows[-1] if k.endswith("_loss")))  # one batch's, at each evaluation
        curve = {
            k: [r[k] for r in rows]
            for k in ("step", "score", "return") + (("d4rl_score",) if "d4rl_score" in rows[-1] else ()) + losses
        }
        result = {
            "curve": curve,
            "score_last": curve["score"][-1],
            "score_best": max(curve["score"]),
            "return_last": curve["return"][-1],
            **(
                {"d4rl_last": curve["d4rl_score"][-1], "d4rl_best": max(curve["d4rl_score"])}
                if "d4rl_score" in curve
                else {}
            ),
        }
        provenance = {
            **code,
            "data_fingerprints": data,
            "trained_with_seeds": [x.seed for x in cells],
            "wall_seconds": round(wall / len(cells), 1),  # the run's wall time, shared by its seeds
            "run_wall_seconds": wall,
            "train_seconds": rows[-1].get("seconds"),  # the training loop's clock (a resumed run: since its resume)
            "machine": here,
            "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "reproduce": f"stitchkit campaign run {c.name} --only {cell_name(cell)}",
        }
        recs.append(runner.make_record(asdict(cell), spec(c, cell), result, provenance))
    return recs


def estimate(c: Campaign, kind: str, args: tuple, folder: Path) -> float:
    """Seconds a job will take on this machine: a minute for a run the training cache holds finished, else the
    median of earlier records of its kind made here (same host and CPU), else a short probe of the learner's update
    (times the steps, plus 10% for evaluation), else an hour for a build (the campaign's sizes are chosen to build
    in about that)."""
    here = machine()
    if kind == "build":
        past = []
        for path in (folder / "builds").glob(f"{short_id(args[0])}-{args[1]}.json"):
            with contextlib.suppress(OSError, ValueError):
                past += [b["seconds"] for b in json.loads(path.read_text()) if b["machine"]["cpu"] == here["cpu"]]
        return float(np.median(past)) if past else 3600.0
    cell = args[0]
    from stitchkit.train import is_finished

    if is_finished(run_job(c, [cell])):  # trained to the end already (a runner stopped before its record): a minute
        return 60.0
    past = [
        r["provenance"].get("run_wall_seconds", r["provenance"]["wall_seconds"])
        for r in records(c, folder)
        if r["cell"]["algorithm"] == cell.algorithm and r["provenance"]["machine"]["cpu"] == here["cpu"]
    ]
    if past:
        return float(np.median(past))
    from stitchkit.bench import steps_per_second
    from stitchkit.device import get_device

    rate = steps_per_second(cell.algorithm, 1, get_device(), 1.0, 256, **c.learner_options())
    return 1.1 * c.train["steps"] / rate


def work(
    kind: str, c: Campaign, code: dict[str, Any], folder: Path, *args: Any
) -> dict[str, Any] | list[dict[str, Any]]:
    """One job, wherever it runs (a worker process, a Ray task, this process): a build's record, or the records of
    the cells trained together. It returns them; the driver writes them."""
    if kind == "build":
        return build(
            c, *args, log=lambda *_: None, code=code, stage=stage_path(folder, *args), models=models_path(folder, *args)
        )
    return train_cells(c, list(args), code=code)


# ------------------------------------------------------------------------------------------------- the runner
def snapshot_code() -> Path:
    """A copy of the package as it is now, under ``data/code/<digest>/``, and this process pinned to it: a runner
    lives for hours while the checkout is edited, and a module imported late (Python imports lazily) must be the
    code the run started with, the code its records name, never half of an edit. Returns the folder to put first
    on a worker's ``sys.path`` (:func:`stitchkit.runner.snapshot_setup`). For an entry point (the CLI): it
    re-points this process's ``stitchkit`` packages at the copy."""
    import hashlib
    import shutil
    import sys

    from stitchkit.paths import PACKAGE_DIR, data_dir

    files = sorted(p for p in PACKAGE_DIR.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    digest = hashlib.sha1()
    for p in files:
        digest.update(str(p.relative_to(PACKAGE_DIR)).encode() + b"\0" + p.read_bytes())
    folder = data_dir() / "code" / digest.hexdigest()[:12]
    target = folder / "stitchkit"
    if not target.exists():
        tmp = folder / "stitchkit.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(PACKAGE_DIR, tmp, ignore=shutil.ignore_patterns("__pycache__"))
        tmp.rename(target)
    for name, module in list(sys.modules.items()):  # this process: every later import reads the snapshot
        if (name == "stitchkit" or name.startswith("stitchkit.")) and hasattr(module, "__path__"):
            module.__path__[:] = [str(target.joinpath(*name.split(".")[1:]))]
    return folder


def git_commit(paths: list[Path], message: str, root: Path, log) -> None:
    """Commit just ``paths`` (other staged or unstaged work is left alone); retried if the index is locked."""
    rel = [str(p.relative_to(root)) for p in paths]
    for attempt in range(5):
        add = subprocess.run(["git", "add", "--", *rel], cwd=root, capture_output=True, text=True)
        done = (
            add.returncode == 0
            and subprocess.run(
                ["git", "commit", "-q", "-m", message, "--", *rel], cwd=root, capture_output=True, text=True
            ).returncode
            == 0
        )
        if done:
            return
        time.sleep(2 + 3 * attempt)
    log(f"  (could not commit {', '.join(rel)}: commit it by hand)")


def run(
    c: Campaign,
    folder: Path | None = None,
    workers: int = 2,
    hours: float | None = None,
    commit: bool = False,
    only: str | None = None,
    log=print,
    group_seeds: bool = False,
    snapshot: Path | None = None,
    executor: str = "local",
    address: str | None = None,
    cpus_per_task: float = 1.0,
    gpus_per_task: float = 0.0,
) -> dict[str, Any]:
    """Run the campaign's pending cells, ``workers`` at a time, writing each record as it finishes. ``snapshot``
    (:func:`snapshot_code`, which ``stitchkit campaign run`` takes first): the workers import that copy of the
    package, so the checkout can be edited while the campaign runs. ``executor``: ``local`` (worker processes
    here) or ``ray`` (Ray tasks on a local instance or the cluster at ``address``, each asking ``cpus_per_task``
    CPUs and ``gpus_per_task`` GPUs; ``workers`` then caps the jobs in flight, 0 for the cluster's CPUs): the
    records are the same, only their provenance says where they ran.

    Scheduling: cells run in order (dataset, augmenter, learner, seed). When the first waiting cell's augmented
    data is missing, it is built (one build at a time) while the other worker trains cells whose data is ready;
    a later augmenter's data is built only when nothing is ready to train, so a session does not spend a core on
    data for cells it will not reach (``data/`` does not outlive a session; records do). With ``hours``, a job
    starts only if its estimate (:func:`estimate`) ends within that many hours, so a session ends with whole
    records and no half-done run. ``commit``: each record (and the progress page) is committed as it lands.
    ``group_seeds``: a job trains every waiting seed of a (dataset, augmenter, learner) together, as one
    seed-batched run (:func:`train_cells`: a GPU's way)."""
    from stitchkit.data import registry

    if c.closed:
        raise BenchError(f"campaign {c.name} is closed: {c.closed}")
    folder = folder or results_folder(c)
    root = project_root()
    code = commit_of(root)  # a record names this commit (and with ``snapshot``, the workers import a copy of it)
    wanted = only_filter(c, only)
    todo = [cell for cell in pending(c, folder) if wanted(cell)]
    n_all = len(c.cells())
    log(f"campaign {c.name}: {n_all - len(pending(c, folder))} of {n_all} runs done, {len(todo)} to run now")
    if not todo:
        write_readme(c, folder)
        return {"runs": 0, "builds": 0, "failed": {}, "folder": str(folder)}
    prof = c.profile()
    summaries = {}
    for d in dict.fromkeys(cell.dataset for cell in todo):  # parents first, here: two workers never race to build one
        summaries[d] = data_summary(d, registry.load_episodes(d, prof, build_missing=True, log=log))
    write_data_summaries(folder, summaries)
    ready = {(d, a) for d, a in {(x.dataset, x.augmenter) for x in todo} if a == "none"}
    ready |= {
        (x.dataset, x.augmenter)
        for x in todo
        if x.augmenter != "none" and registry.status(c.augmented_id(x.dataset, x.augmenter))["state"] == "built"
    }
    deadline = None if hours is None else time.time() + 3600 * hours
    started_builds: set[tuple[str, str]] = set()
    failed: dict[tuple[str, str], str] = {}
    in_flight: dict[tuple[str, tuple], None] = {}  # jobs submitted and not back: (kind, args)
    counts = {"runs": 0, "builds": 0}
    estimates: dict[tuple, float] = {}  # per build, per learner; cleared as records land

    def fits(kind: str, args: tuple) -> bool:
        """With ``hours``: whether the job's estimated time still ends before the deadline."""
        if deadline is None:
            return True
        key = (kind, args) if kind == "build" else (kind, args[0].algorithm)
        if key not in estimates:
            estimates[key] = estimate(c, kind, args, folder)
        return time.time() + estimates[key] < deadline

    def choose() -> tuple[str, tuple] | None:
        still = set(pending(c, folder))
        landed = [x for x in todo if x not in still]  # written by another runner since this one started
        for x in landed:
            todo.remove(x)
            log(f"  skipping {cell_name(x)}: its record landed while this runner waited")
        busy = {x for kind, args in in_flight if kind == "train" for x in args}
        building = any(kind == "build" for kind, _ in in_flight)
        waiting = [x for x in todo if x not in busy]
        if not waiting:
            return None
        first = (waiting[0].dataset, waiting[0].augmenter)
        if first not in ready and first not in started_builds and not building:
            return ("build", first) if fits("build", first) else None
        trainable = [x for x in waiting if (x.dataset, x.augmenter) in ready and fits("train", (x,))]
        if trainable:
            x = trainable[0]
            if not group_seeds:
                return "train", (x,)
            group = (x.dataset, x.augmenter, x.algorithm)
            return "train", tuple(y for y in waiting if (y.dataset, y.augmenter, y.algorithm) == group)
        later = [k for k in dict.fromkeys((x.dataset, x.augmenter) for x in waiting) if k not in ready]
        later = [k for k in later if k not in started_builds and k not in failed]
        if later and not building and fits("build", later[0]):
            return "build", later[0]
        return None

    def next_job() -> runner.Job | None:
        job = choose()
        if job is None:
            return None
        kind, args = job
        if kind == "build":
            started_builds.add(args)
            log(f"  building {c.augmented_id(*args)}")
        else:
            for x in args:
                todo.remove(x)
            x = args[0]
            log(f"  training {short_id(x.dataset)}/{x.augmenter}/{x.algorithm} seed(s) {[y.seed for y in args]}")
        in_flight[job] = None
        what = f"{short_id(args[0])}/{args[1]}" if kind == "build" else ",".join(cell_name(x) for x in args)
        return runner.Job(job, work, (kind, c, code, folder, *args), label=f"{kind}:{what}")

    def done(job: runner.Job, result: Any) -> None:
        kind, args = job.key
        del in_flight[job.key]
        estimates.clear()
        if kind == "build":
            ready.add(args)
            counts["builds"] += 1
            packed = result.pop(STAGE_KEY, None)
            paths = [write_build(folder, *args, result), *carry_models(c, folder, *args, log=log)]
            if packed is not None:  # the generated data, compactly: no later session generates it again
                stage = compact.write(stage_path(folder, *args, sum(v.nbytes for v in packed.values())), packed)
                if stage.is_relative_to(folder):
                    paths.append(stage)
                else:
                    log(f"  (its compact data, {stage.stat().st_size / 2**20:.0f} MB, kept uncommitted in {stage})")
            what = f"build {result['id']}"
            log(f"  built {result['id']}: {result['summary']} in {result['seconds']} s")
        else:
            counts["runs"] += len(result)
            paths = [write_record(folder, rec) for rec in result]
            names = [rec["provenance"]["reproduce"].split("--only ")[1] for rec in result]
            what = ", ".join(names)
            for name, rec in zip(names, result):
                r = rec["result"]
                log(
                    f"  done {name}: score {r['score_last']:.1f} (best {r['score_best']:.1f}) in "
                    f"{rec['provenance']['run_wall_seconds']:.0f} s"
                )
        paths += [write_readme(c, folder), folder / DATA_FILE]
        if commit:
            git_commit(paths, f"campaign {c.name}: {what}", root, log)

    def failed_job(job: runner.Job, err: BaseException) -> None:  # a build that accepts nothing, a run that fails
        kind, args = job.key
        del in_flight[job.key]
        estimates.clear()
        if kind == "build":
            failed[args] = str(err).strip().splitlines()[-1]  # a Ray error carries the worker's traceback
            todo[:] = [x for x in todo if (x.dataset, x.augmenter) != args]
        log(f"  FAILED {kind} {args}: {failed.get(args) or err}")

    with runner.executor(executor, workers, address, cpus_per_task, gpus_per_task, snapshot) as ex:
        runner.drive(ex, next_job, done, failed_job)
    return {**counts, "failed": failed, "folder": str(folder)}
