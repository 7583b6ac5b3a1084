"""The campaign: DiffStitch's Table 1 at a paper-scale budget on a CPU, one run at a time, records committed.

Why: a learner on hopper is still climbing at the 10k-50k updates a notebook can afford, and there no augmenter
beats the spread between seeds, so a notebook alone cannot say whether stitched data helps. The papers train for
1M updates on a GPU. A GPU is rarely lent here, so the budget comes from many hours of CPU time spread over many
sessions on machines that may be replaced by a fresh clone at any moment. The campaign therefore:

* runs **one (dataset, augmenter, learner, seed) cell at a time**, a single-seed :func:`stitchkit.train.run` of
  ~300k updates (well under two hours on one core), two cells side by side on a 2-core machine;
* writes each finished cell as a **small JSON record** under ``results/<campaign>/`` in the checkout (not in
  ``data/``): its curve, final and best score (kit and D4RL-normalised), the exact spec it ran with, the commit,
  machine and wall time, and a checksum; with ``commit=True`` each record is committed as it lands;
* on start, **skips every cell whose record is present, valid and current** (its spec equals what the campaign
  asks for now), so a fresh clone picks up the next unfinished cell, and a changed setting reruns only what it
  touches;
* builds each augmented dataset once per machine, with the campaign's generator sizes (``[sizes]`` over the
  base profile's), under its own id tag, and keeps one build record per (dataset, augmenter) so that rebuilds on
  other machines can be checked to give the same data (the dataset's content fingerprint).

The campaign file (``stitchkit/grids/campaign.toml``, ``campaign-smoke.toml`` for CI) is a benchmark grid
(:mod:`stitchkit.bench`) plus ``profile`` (the base: its datasets and the sizes not replaced), ``[train]`` (steps,
evaluation, the learners' widths), ``[sizes.<section>]`` (generator sizes) and ``[paper]`` (the published
numbers the table prints beside the kit's). ``make campaign`` runs it; notebooks 05, 08 and 09 read the records
with :func:`records`, and a missing record shows as "not yet computed".
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import platform
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import tomllib

from stitchkit.bench import BenchError, Cell, Grid, grid_from_raw, kit_file
from stitchkit.files import atomic_write_text
from stitchkit.paths import project_root
from stitchkit.profiles import Profile, get_profile, with_sizes
from stitchkit.stats import difference_ci, mean_ci, seeds_needed

CAMPAIGN_KEYS = {"profile", "augment_tag", "train", "sizes", "paper", "paper_setup", "closed"}
TRAIN_KEYS = {"steps", "eval_every", "eval_episodes", "hidden"}


@dataclass(frozen=True)
class Campaign:
    grid: Grid  # datasets x augmenters x algorithms x seeds, ratios, augmenter options
    profile_name: str  # the base profile: the datasets it reads and every size not replaced
    train: dict[str, Any]  # steps, eval_every, eval_episodes, hidden: the same for every learner
    sizes: dict[str, dict[str, Any]] = field(default_factory=dict)  # section -> generator sizes over the base's
    augment_tag: str = "campaign"  # augmented ids: <parent>-<method>-<tag>-v0, apart from the notebooks' own
    paper: dict[str, Any] = field(default_factory=dict)  # dataset -> algorithm -> augmenter -> [mean, std]
    paper_setup: dict[str, Any] = field(default_factory=dict)  # how the paper ran its table: data, steps, seeds, ...
    closed: str = ""  # why it runs no more (its data recipe was replaced): its records stay readable

    @property
    def name(self) -> str:
        return self.grid.name

    def profile(self) -> Profile:
        """The base profile with the campaign's sizes (same name: same datasets; models keyed by their sizes): a
        shared section, or one its augmenters or learners declare (their ``sizes``)."""
        from stitchkit import augment
        from stitchkit.train import learner

        tables = [t for a in self.grid.augmenters if a != "none" for t in augment.method(a).sizes]
        tables += [t for algo in self.grid.algorithms for t in learner(algo).sizes]
        return with_sizes(get_profile(self.profile_name), self.sizes, tables)

    def cells(self) -> list[Cell]:
        """Every cell, in the order they run: dataset, augmenter, learner, seed."""
        g = self.grid
        return [Cell(d, a, algo, s) for d in g.datasets for a in g.augmenters for algo in g.algorithms for s in g.seeds]

    def augmented_id(self, dataset: str, augmenter: str) -> str | None:
        from stitchkit.data import registry

        tag = self.augment_tag + ("" if self.grid.augment_seed == 0 else f"s{self.grid.augment_seed}")
        return None if augmenter == "none" else registry.augmented_id(dataset, augmenter, tag)

    def learner_options(self) -> dict[str, Any]:
        return {"hidden": tuple(self.train["hidden"])} if "hidden" in self.train else {}


def parse(text: str, source: str = "<campaign>") -> Campaign:
    """A campaign from TOML text: the grid keys are checked as :func:`stitchkit.bench.parse_grid` checks them,
    the campaign's own keys here (unknown ones, sizes and train keys are errors that list what is accepted)."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise BenchError(f"{source}: not valid TOML ({err})") from err
    own = {k: raw.pop(k) for k in list(raw) if k in CAMPAIGN_KEYS}
    grid = grid_from_raw(raw, source)
    train = dict(own.get("train", {}))
    if set(train) - TRAIN_KEYS:
        raise BenchError(
            f"{source}: unknown [train] key(s) {sorted(set(train) - TRAIN_KEYS)}; accepted: {sorted(TRAIN_KEYS)}"
        )
    for key in ("steps", "eval_every", "eval_episodes"):
        if not isinstance(train.get(key), int) or train[key] < 1:
            raise BenchError(f"{source}: [train] {key} must be a positive integer, got {train.get(key)!r}")
    campaign = Campaign(
        grid=grid,
        profile_name=str(own.get("profile", "lab")),
        train=train,
        sizes=own.get("sizes", {}),
        augment_tag=str(own.get("augment_tag", "campaign")),
        paper=own.get("paper", {}),
        paper_setup=own.get("paper_setup", {}),
        closed=str(own.get("closed", "")),
    )
    try:
        campaign.profile()  # unknown profile, size section or field: now, not after hours
    except ValueError as err:
        raise BenchError(f"{source}: {err}") from err
    return campaign


def load(path_or_name: str | Path = "campaign") -> Campaign:
    """A campaign file, or the name of one of the kit's (``campaign``, ``campaign-smoke``)."""
    path = kit_file(path_or_name, "campaign", "campaign*.toml")
    return parse(path.read_text(), str(path))


# ------------------------------------------------------------------------------------------------- what a cell is
def spec(c: Campaign, cell: Cell) -> dict[str, Any]:
    """Everything the cell's result depends on besides code and machine, computable without any data: a record
    whose spec differs from this one is stale, and its cell runs again."""
    from stitchkit import augment
    from stitchkit.train import learner

    prof, spec = c.profile(), learner(cell.algorithm)
    options = spec.resolved(cell.dataset, prof, c.learner_options())
    batch = spec.budget(prof, options)[1]
    out = {
        **asdict(cell),
        "profile": prof.name,
        "learner_options": json.loads(json.dumps(options, default=list)),
        "steps": c.train["steps"],
        "batch_size": batch,
        "eval_every": c.train["eval_every"],
        "eval_episodes": c.train["eval_episodes"],
    }
    if cell.augmenter != "none":
        method = augment.method(cell.augmenter)
        config = augment.resolved_config(cell.augmenter, cell.dataset, c.grid.options_for(cell.augmenter, cell.dataset))
        out["ratio"] = c.grid.ratio(cell.augmenter)
        out["augment"] = {
            "id": c.augmented_id(cell.dataset, cell.augmenter),
            "seed": c.grid.augment_seed,
            "config": method.recorded(dataclasses.replace(config, seed=c.grid.augment_seed)),
            "sizes": {t.section: json.loads(json.dumps(asdict(t.of(prof)), default=list)) for t in method.sizes},
        }
    return out


def _short(dataset: str) -> str:
    """``stitchkit/hopper/medium-replay-v0`` -> ``hopper-medium-replay`` (a record's folder)."""
    return dataset.removeprefix("stitchkit/").removesuffix("-v0").replace("/", "-")


def results_folder(c: Campaign) -> Path:
    """Where the campaign's records live: ``results/<name>/`` in the checkout (committed, unlike ``data/``)."""
    return project_root() / "results" / c.name


def archive_folder(folder: Path) -> Path:
    """Where records of ``folder`` go when a settings change makes them stale: ``results/archive/<name>/<why>/``,
    each set with a README saying what differed. The notebooks never read it; the CPU hours it holds still count."""
    return folder.parent / "archive" / folder.name


def record_path(folder: Path, cell: Cell) -> Path:
    return folder / _short(cell.dataset) / cell.augmenter / f"{cell.algorithm}-s{cell.seed}.json"


def _checksum(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def read_record(path: Path) -> dict[str, Any] | None:
    """A record whose checksum holds, or None (missing, unreadable, truncated or edited)."""
    try:
        rec = json.loads(path.read_text())
        ok = rec["checksum"] == _checksum({k: rec[k] for k in ("cell", "spec", "result")})
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return rec if ok else None


def records(c: Campaign, folder: Path | None = None, current: bool = True) -> list[dict[str, Any]]:
    """The campaign's valid records (``current``: only those whose spec is what the campaign asks for now).
    Read-only, and never an error: a cell without a record is simply not in the list."""
    folder = folder or results_folder(c)
    out = []
    for cell in c.cells():
        rec = read_record(record_path(folder, cell))
        if rec is not None and (not current or rec["spec"] == spec(c, cell)):
            out.append(rec)
    return out


def pending(c: Campaign, folder: Path | None = None) -> list[Cell]:
    """Cells without a current record, in run order."""
    folder = folder or results_folder(c)
    done = {Cell(**r["cell"]) for r in records(c, folder)}
    return [cell for cell in c.cells() if cell not in done]


# ------------------------------------------------------------------------------------------------- where it ran
def commit_of(root: Path | None = None) -> dict[str, Any]:
    """The checkout's commit and whether the kit's code differed from it (uncommitted changes under stitchkit/);
    in a copy without git history, ``STITCHKIT_COMMIT`` if set."""
    root = root or project_root()
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True)
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "stitchkit"], cwd=root, capture_output=True, text=True, check=True
        )
        return {"commit": sha.stdout.strip(), "code_dirty": bool(dirty.stdout.strip())}
    except (OSError, subprocess.CalledProcessError):  # a copy without .git (a lent device): the caller may say
        return {"commit": os.environ.get("STITCHKIT_COMMIT"), "code_dirty": None}


def machine() -> dict[str, Any]:
    """What a wall time means: host, CPU model and cores, torch and Python versions, torch threads, device."""
    import torch

    from stitchkit.device import get_device

    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError, StopIteration):
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        )
    return {
        "host": socket.gethostname(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "device": str(get_device()),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "threads": torch.get_num_threads(),
    }


# ------------------------------------------------------------------------------------------------- one unit of work
def build(c: Campaign, dataset: str, augmenter: str, log=print, code: dict[str, Any] | None = None) -> dict[str, Any]:
    """Build (or find) one augmented dataset with the campaign's sizes; returns its build record (``code``: the
    commit the runner started from, default the checkout's now)."""
    from stitchkit import augment
    from stitchkit.data import registry

    out_id = c.augmented_id(dataset, augmenter)
    t0, cpu0, code = time.perf_counter(), time.process_time(), code or commit_of()
    summary = augment.run(
        augmenter,
        dataset,
        out_id,
        c.profile(),
        seed=c.grid.augment_seed,
        log=log,
        **c.grid.options_for(augmenter, dataset),
    )
    keep = ("accepted_transitions", "accepted", "generated", "iterations", "total_seconds", "train_seconds", "episodes")
    return {
        "id": out_id,
        "fingerprint": registry.fingerprint(out_id),
        "summary": {k: v for k, v in summary.items() if k in keep},
        "seconds": round(time.perf_counter() - t0, 1),
        # what the campaign's CPU hours count: a build sharing its core (a low-priority filler) waits, CPU time doesn't
        "cpu_seconds": round(time.process_time() - cpu0, 1),
        **code,
        "machine": machine(),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
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
            "train_seconds": rows[-1].get("seconds"),  # the training loop's clock (a resumed run: since its resume)
        }
        body = {"cell": asdict(cell), "spec": spec(c, cell), "result": result}
        recs.append(
            {
                **body,
                "provenance": {
                    **code,
                    "data_fingerprints": data,
                    "trained_with_seeds": [x.seed for x in cells],
                    "wall_seconds": round(wall / len(cells), 1),  # the run's wall time, shared by its seeds
                    "run_wall_seconds": wall,
                    "machine": here,
                    "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    "reproduce": f"stitchkit campaign run {c.name} --only {_short(cell.dataset)}/{cell.augmenter}/"
                    f"{cell.algorithm}-s{cell.seed}",
                },
                "checksum": _checksum(body),
            }
        )
    return recs


def write_record(folder: Path, rec: dict[str, Any]) -> Path:
    path = record_path(folder, Cell(**rec["cell"]))
    atomic_write_text(path, json.dumps(rec, indent=1, sort_keys=True) + "\n")
    return path


def _write_build(folder: Path, dataset: str, augmenter: str, rec: dict[str, Any]) -> Path:
    """Append a build to its (dataset, augmenter) history: each machine rebuilds, and the fingerprints show
    whether the rebuilds gave the same data."""
    path = folder / "builds" / f"{_short(dataset)}-{augmenter}.json"
    try:
        history = json.loads(path.read_text())
    except (OSError, ValueError):
        history = []
    atomic_write_text(path, json.dumps(history + [rec], indent=1, sort_keys=True) + "\n")
    return path


def estimate(c: Campaign, kind: str, args: tuple, folder: Path) -> float:
    """Seconds a job will take on this machine: a minute for a run the training cache holds finished, else the
    median of earlier records of its kind made here (same host and CPU), else a short probe of the learner's update
    (times the steps, plus 10% for evaluation), else an hour for a build (the campaign's sizes are chosen to build
    in about that)."""
    here = machine()
    if kind == "build":
        past = []
        for path in (folder / "builds").glob(f"{_short(args[0])}-{args[1]}.json"):
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


def _worker(kind: str, c: Campaign, code: dict[str, Any], *args: Any) -> tuple[str, tuple, dict[str, Any]]:
    """A worker process's job: one torch thread, so two workers fill two cores without oversubscribing."""
    import torch

    from stitchkit.progress import quiet

    torch.set_num_threads(1)
    with quiet():  # no bars: the runner's log says what started and finished
        if kind == "build":
            return kind, args, build(c, *args, log=lambda *_: None, code=code)
        return kind, args, train_cells(c, list(args), code=code)


# ------------------------------------------------------------------------------------------------- the runner
def snapshot_code() -> Path:
    """A copy of the package as it is now, under ``data/code/<digest>/``, and this process pinned to it: a runner
    lives for hours while the checkout is edited, and a module imported late (Python imports lazily) must be the
    code the run started with, the code its records name, never half of an edit. Returns the folder to put first
    on a worker's ``sys.path`` (:func:`_worker_setup`). For an entry point (the CLI): it re-points this process's
    ``stitchkit`` packages at the copy."""
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


def _worker_setup(snapshot: Path) -> str:
    """What a spawned worker runs first (``exec``, before it imports any of the kit): the snapshot first on its
    path, the checkout as its project root and data folder."""
    from stitchkit.paths import data_dir, project_root

    return (
        "import os, sys\n"
        f"sys.path.insert(0, {str(snapshot)!r})\n"
        f"os.environ['STITCHKIT_ROOT'] = {str(project_root())!r}\n"
        f"os.environ['STITCHKIT_DATA'] = {str(data_dir())!r}\n"
    )


def _git_commit(paths: list[Path], message: str, root: Path, log) -> None:
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


def matches(c: Campaign, only: str) -> bool:
    """Whether an ``--only`` selection names any cell of this campaign."""
    try:
        _parse_only(c, only)
        return True
    except BenchError:
        return False


def _parse_only(c: Campaign, only: str | None) -> Callable[[Cell], bool]:
    """``--only`` patterns, comma-separated, each matching a record path's start: ``hopper-medium-replay``,
    ``hopper-medium-replay/diffstitch``, ``hopper-medium-replay/none/td3bc-s0``."""
    if not only:
        return lambda cell: True
    pats = [p.strip().strip("/") for p in only.split(",") if p.strip()]
    names = {f"{_short(x.dataset)}/{x.augmenter}/{x.algorithm}-s{x.seed}" for x in c.cells()}
    for p in pats:
        if not any(n == p or n.startswith(p + "/") or n.startswith(p + "-s") for n in names):
            raise BenchError(f"--only {p!r} matches no cell of {c.name}; cells look like {sorted(names)[0]}")
    return lambda cell: any(
        (n := f"{_short(cell.dataset)}/{cell.augmenter}/{cell.algorithm}-s{cell.seed}") == p
        or n.startswith(p + "/")
        or n.startswith(p + "-s")
        for p in pats
    )


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
) -> dict[str, Any]:
    """Run the campaign's pending cells, ``workers`` at a time, writing each record as it finishes. ``snapshot``
    (:func:`snapshot_code`, which ``stitchkit campaign run`` takes first): the workers import that copy of the
    package, so the checkout can be edited while the campaign runs.

    Scheduling: cells run in order (dataset, augmenter, learner, seed). When the first waiting cell's augmented
    data is missing, it is built (one build at a time) while the other worker trains cells whose data is ready;
    a later augmenter's data is built only when nothing is ready to train, so a session does not spend a core on
    data for cells it will not reach (``data/`` does not outlive a session; records do). With ``hours``, a job
    starts only if its estimate (:func:`estimate`) ends within that many hours, so a session ends with whole
    records and no half-done run. ``commit``: each record (and the progress page) is committed as it lands.
    ``group_seeds``: a job trains every waiting seed of a (dataset, augmenter, learner) together, as one
    seed-batched run (:func:`train_cells`: a GPU's way)."""
    import multiprocessing as mp
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    from stitchkit.data import registry

    if c.closed:
        raise BenchError(f"campaign {c.name} is closed: {c.closed}")
    folder = folder or results_folder(c)
    root = project_root()
    code = commit_of(root)  # a record names this commit (and with ``snapshot``, the workers import a copy of it)
    wanted = _parse_only(c, only)
    todo = [cell for cell in pending(c, folder) if wanted(cell)]
    n_all = len(c.cells())
    log(f"campaign {c.name}: {n_all - len(pending(c, folder))} of {n_all} runs done, {len(todo)} to run now")
    if not todo:
        write_readme(c, folder)
        return {"runs": 0, "builds": 0, "folder": str(folder)}
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
    in_flight: dict[Any, tuple[str, tuple]] = {}
    n_runs = n_builds = 0

    estimates: dict[tuple, float] = {}  # per build, per learner; cleared as records land

    def fits(kind: str, args: tuple) -> bool:
        """With ``hours``: whether the job's estimated time still ends before the deadline."""
        if deadline is None:
            return True
        key = (kind, args) if kind == "build" else (kind, args[0].algorithm)
        if key not in estimates:
            estimates[key] = estimate(c, kind, args, folder)
        return time.time() + estimates[key] < deadline

    def next_job() -> tuple[str, tuple] | None:
        busy = {x for kind, args in in_flight.values() if kind == "train" for x in args}
        building = any(kind == "build" for kind, _ in in_flight.values())
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

    ctx = mp.get_context("spawn")
    setup = {"initializer": exec, "initargs": (_worker_setup(snapshot),)} if snapshot else {}
    with ProcessPoolExecutor(workers, mp_context=ctx, **setup) as pool:
        while True:
            while len(in_flight) < workers:
                job = next_job()
                if job is None:
                    break
                kind, args = job
                if kind == "build":
                    started_builds.add(args)
                    log(f"  building {c.augmented_id(*args)}")
                else:
                    for x in args:
                        todo.remove(x)
                    x = args[0]
                    log(f"  training {_short(x.dataset)}/{x.augmenter}/{x.algorithm} seed(s) {[y.seed for y in args]}")
                in_flight[pool.submit(_worker, kind, c, code, *args)] = job
            if not in_flight:
                break
            done, _ = wait(list(in_flight), return_when=FIRST_COMPLETED)
            estimates.clear()
            for fut in done:
                kind, args = in_flight.pop(fut)
                try:
                    _, _, result = fut.result()
                except Exception as err:  # a build that accepts nothing, or a run that fails: say so, go on
                    if kind == "build":
                        failed[args] = str(err)
                        todo[:] = [x for x in todo if (x.dataset, x.augmenter) != args]
                    log(f"  FAILED {kind} {args}: {err}")
                    continue
                if kind == "build":
                    ready.add(args)
                    n_builds += 1
                    paths = [_write_build(folder, *args, result)]
                    what = f"build {result['id']}"
                    log(f"  built {result['id']}: {result['summary']} in {result['seconds']} s")
                else:
                    n_runs += len(result)
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
                    _git_commit(paths, f"campaign {c.name}: {what}", root, log)
    return {"runs": n_runs, "builds": n_builds, "failed": failed, "folder": str(folder)}


# ------------------------------------------------------------------------------------------------- reading it
TAIL = 4  # evaluations averaged by the "_tail" metrics: the last 75k of 300k updates at one per 25k
METRICS = {
    "d4rl_last": "D4RL-normalised score at the last evaluation",
    "d4rl_best": "D4RL-normalised score at the best evaluation",
    "d4rl_tail": f"D4RL-normalised score averaged over the last {TAIL} evaluations",
    "score_last": "kit score at the last evaluation",
    "score_best": "kit score at the best evaluation",
    "score_tail": f"kit score averaged over the last {TAIL} evaluations",
}


def metric_value(result: dict[str, Any], metric: str) -> float | None:
    """One run's ``metric`` (a key of :data:`METRICS`), or None where the record lacks it.

    Why "_tail": the papers (and CORL) report the last evaluation, but one 10-episode evaluation of IQL on hopper
    swings by 60 points between neighbouring evaluations, so one run's last value is mostly noise. The mean of
    the last :data:`TAIL` evaluations is computed from the stored curve (no record changes) and shown beside the
    papers' "last" convention, never instead of it."""
    if metric not in METRICS:
        raise BenchError(f"unknown campaign metric {metric!r}; accepted: {', '.join(METRICS)}")
    if not metric.endswith("_tail"):
        return result.get(metric)
    values = result["curve"].get("d4rl_score" if metric.startswith("d4rl") else "score")
    return None if not values else float(np.mean(values[-TAIL:]))


TD_LOSSES = ("critic_loss", "q_loss", "v_loss", "value_loss")  # TD3+BC and CQL; IQL; POR and TELS; GCIVL
DIVERGED = 100.0  # a TD loss this many times its early median: hopper's healthy runs stay within 10x


def diverged(result: dict[str, Any]) -> bool | None:
    """Whether a run's value function diverged: its temporal-difference loss (the first of :data:`TD_LOSSES` in
    the curve) is non-finite, or more than :data:`DIVERGED` times its median over the run's first quarter of
    evaluations, at any later evaluation. None where the record holds no loss curve (records before losses
    were kept).

    Why a flag: a diverged critic drives its policy to near-zero return (walker2d TD3+BC, seed 0: the critic's
    loss went from about 40 to 6e9 between 125k and 300k updates), so that run's score says the learner was
    unstable on this data, not that the data taught it less. The table counts such runs beside each cell;
    their scores stay in the means (the papers report every seed)."""
    td = td_loss(result)
    if td is None:
        return None
    _, loss, early = td
    return bool(not np.isfinite(loss).all() or (loss > DIVERGED * max(early, 1e-8)).any())


def td_loss(result: dict[str, Any]) -> tuple[str, np.ndarray, float] | None:
    """(its name, the TD loss per evaluation, its median over the first quarter), or None without a loss curve."""
    curve = result.get("curve", {})
    key = next((k for k in TD_LOSSES if k in curve), None)
    if key is None:
        return None
    loss = np.asarray(curve[key], float)
    return key, loss, float(np.median(loss[: max(1, len(loss) // 4)]))


def divergence_notes(recs: list[dict[str, Any]]) -> str:
    """A Markdown line per diverged run (its TD loss early and at its peak), then how many records hold no loss
    curve to check."""
    lines, unknown = [], 0
    for r in recs:
        flag, c = diverged(r["result"]), r["cell"]
        if flag is None:
            unknown += 1
        elif flag:
            cv = r["result"]["curve"]
            key, loss, early = td_loss(r["result"])
            peak = int(np.nanargmax(np.where(np.isfinite(loss), loss, np.inf)))
            lines.append(
                f"- `{_short(c['dataset'])}/{c['augmenter']}/{c['algorithm']}-s{c['seed']}`: {key} {early:.3g} "
                f"early, {loss[peak]:.3g} at {cv['step'][peak]:,} updates; last D4RL score "
                f"{r['result'].get('d4rl_last', float('nan')):.1f}"
            )
    if not lines:
        lines.append("- none" + (" of the records with a loss curve" if unknown else ""))
    if unknown:
        lines.append(f"- {unknown} record(s) keep no loss curve (written before losses were recorded)")
    return "\n".join(lines)


DATA_FILE = "data.json"  # beside the records: what each dataset's own episodes score (:func:`data_summary`)
TOP = 0.1  # the best tenth of the episodes: what "10%-BC" (Decision Transformer's paper) imitates


def data_summary(dataset_id: str, episodes: list) -> dict[str, Any]:
    """What imitation alone could reach on ``dataset_id``: its episodes' returns, D4RL-normalised (best, mean of
    the best tenth, mean), with the dataset's fingerprint so a rebuilt dataset shows as a different one.

    Why: the kit's data is not D4RL's (its own behaviour policies, a third of the transitions), so a learner's
    score is read against this data's ceiling, not only against the paper's number on other data. A learner
    scoring above the best tenth's mean does better than copying the data's best episodes."""
    from stitchkit.data import registry
    from stitchkit.data.d4rl import D4RL_REFERENCE, d4rl_score
    from stitchkit.data.episodes import returns, total_steps
    from stitchkit.data.subsample import best_episodes

    env = registry.parse_id(dataset_id).env
    if env not in D4RL_REFERENCE:
        raise BenchError(f"{dataset_id}: D4RL scores exist for {', '.join(D4RL_REFERENCE)} data only")
    score = d4rl_score(env, returns(episodes))
    return {
        "fingerprint": registry.fingerprint(dataset_id),
        "episodes": len(episodes),
        "transitions": total_steps(episodes),
        "median_length": float(np.median([len(ep) for ep in episodes])),
        "d4rl_best": round(float(score.max()), 2),
        # the very episodes `train.run(top_fraction=TOP)` (10%-BC) trains on
        "d4rl_top": round(float(d4rl_score(env, returns(best_episodes(episodes, TOP))).mean()), 2),
        "d4rl_mean": round(float(score.mean()), 2),
    }


def write_data_summaries(folder: Path, summaries: dict[str, dict[str, Any]]) -> Path:
    """Merge ``summaries`` ({dataset id: :func:`data_summary`}) into ``folder/data.json`` (committed with the
    records, so the notebooks show the data's ceiling without building the data)."""
    path = folder / DATA_FILE
    atomic_write_text(path, json.dumps({**data_summaries(folder), **summaries}, indent=1, sort_keys=True) + "\n")
    return path


def data_summaries(folder: Path) -> dict[str, dict[str, Any]]:
    """``folder/data.json`` ({dataset id: :func:`data_summary`}); empty where the runner has written none."""
    try:
        return json.loads((folder / DATA_FILE).read_text())
    except (OSError, ValueError):
        return {}


def data_table(c: Campaign, folder: Path | None = None) -> str:
    """The data's own episodes beside the campaign's datasets (``data.json``); a dataset the runner has not
    loaded yet shows as "not yet computed"."""
    known = data_summaries(folder or results_folder(c))
    rows = [
        "| dataset | episodes | transitions | median episode length | best episode | best tenth's mean | mean |",
        "|---|---|---|---|---|---|---|",
    ]
    for d in c.grid.datasets:
        s = known.get(d)
        if s is None:
            rows.append(f"| {_short(d)} | " + " | ".join(["not yet computed"] * 6) + " |")
            continue
        rows.append(
            f"| {_short(d)} | {s['episodes']:,} | {s['transitions']:,} | {s['median_length']:g} | "
            f"{s['d4rl_best']:.1f} | {s['d4rl_top']:.1f} | {s['d4rl_mean']:.1f} |"
        )
    return "\n".join(rows)


def past_the_data(
    c: Campaign, recs: list[dict[str, Any]], metric: str = "d4rl_tail", folder: Path | None = None
) -> str:
    """Per arm, how many seeds end above the data's best tenth (what 10%-BC copies) and above its best episode,
    with each seed's value: a markdown table on the D4RL scale (``data.json``).

    Why: a stitching method's promise is a learner that climbs past the best the data holds, and a mean over 3
    seeds hides how: two seeds far above the data's best episode and one stuck below its best tenth average to a
    middling score with a wide interval. Counting seeds says which happened."""
    if not metric.startswith("d4rl"):
        raise BenchError(f"past_the_data reads the D4RL scale (the data's summary is D4RL-normalised), not {metric!r}")
    known = data_summaries(folder or results_folder(c))
    sc = scores(recs, metric)
    augs = c.grid.augmenters
    rows = ["| dataset | learner | " + " | ".join(augs) + " |", "|---|---|" + "---|" * len(augs)]
    for d in c.grid.datasets:
        data = known.get(d)
        for algo in c.grid.algorithms:
            cells = []
            for a in augs:
                v = sc.get((d, algo, a), [])
                if not v or data is None:
                    cells.append("not yet computed")
                    continue
                top = sum(x > data["d4rl_top"] for x in v)
                best = sum(x > data["d4rl_best"] for x in v)
                seeds = ", ".join(f"{x:.1f}" for x in v)
                cells.append(f"{best}/{len(v)} past the best episode, {top}/{len(v)} past the best tenth<br>({seeds})")
            rows.append(f"| {_short(d)} | {algo} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def scores(recs: list[dict[str, Any]], metric: str = "score_last") -> dict[tuple[str, str, str], list[float]]:
    """{(dataset, algorithm, augmenter): [metric per seed]} (``metric``: a key of :data:`METRICS`)."""
    out: dict[tuple[str, str, str], list[float]] = {}
    for r in recs:
        c, v = r["cell"], metric_value(r["result"], metric)
        if v is not None:
            out.setdefault((c["dataset"], c["algorithm"], c["augmenter"]), []).append(v)
    return out


def table(
    c: Campaign, recs: list[dict[str, Any]], metric: str = "d4rl_last", augmenters: tuple[str, ...] | None = None
) -> str:
    """DiffStitch's Table 1 shape in Markdown: a row per (dataset, learner), a column per augmenter (all, or
    ``augmenters``), each cell "mean [95% CI] (n)" over seeds (with how many of them diverged, :func:`diverged`),
    the paper's "mean ± std" beside it for the D4RL-normalised metrics; a cell without records reads "not yet
    computed"."""
    sc = scores(recs, metric)
    broke: dict[tuple[str, str, str], int] = {}
    for r in recs:
        if diverged(r["result"]):
            key = (r["cell"]["dataset"], r["cell"]["algorithm"], r["cell"]["augmenter"])
            broke[key] = broke.get(key, 0) + 1
    augs = augmenters or c.grid.augmenters
    head = ["dataset", "learner"] + list(augs)
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for d in c.grid.datasets:
        for algo in c.grid.algorithms:
            cells = []
            for a in augs:
                v = sc.get((d, algo, a))
                text = "not yet computed"
                if v:
                    m, lo, hi = mean_ci(v)
                    bad = broke.get((d, algo, a), 0)
                    text = (
                        f"{m:.1f}"
                        + (f" [{lo:.1f}, {hi:.1f}]" if len(v) > 1 else "")
                        + f" (n={len(v)}"
                        + (f", {bad} diverged" if bad else "")
                        + ")"
                    )
                paper = _paper(c, d, algo, a)
                if paper is not None and metric.startswith("d4rl"):
                    text += f"<br>paper {paper[0]:.1f}" + (f" ± {paper[1]:.1f}" if paper[1] is not None else "")
                cells.append(text)
            rows.append("| " + " | ".join([_short(d), algo] + cells) + " |")
    return "\n".join(rows)


def _paper(c: Campaign, dataset: str, algorithm: str, augmenter: str) -> tuple[float, float | None] | None:
    """The published (mean, std) of a cell, from the campaign file's ``[paper]`` (a number: the mean alone)."""
    v = c.paper.get(dataset, {}).get(algorithm, {}).get(augmenter)
    if v is None:
        return None
    return (float(v), None) if isinstance(v, int | float) else (float(v[0]), float(v[1]))


SETUP_ROWS = {  # [paper_setup] key -> the row's name in :func:`versus_paper`
    "data": "data",
    "steps": "learner updates",
    "seeds": "seeds per cell",
    "learners": "learners",
    "evaluation": "reported score",
}


def _value(v: Any) -> str:
    """A setting as the campaign-vs-paper table prints it."""
    if isinstance(v, bool) or v is None:
        return str(v)
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, list | tuple):
        return " x ".join(map(str, v)) if all(isinstance(x, int) for x in v) else ", ".join(map(str, v))
    return str(v)


def _data_cell(c: Campaign, folder: Path) -> str:
    """The campaign's datasets as the runner measured them (``data.json``): size and D4RL-normalised returns."""
    known, out = data_summaries(folder), []
    for d in c.grid.datasets:
        s = known.get(d)
        out.append(
            f"{_short(d)}: "
            + (
                f"{s['transitions']:,} transitions, {s['episodes']:,} episodes, mean {s['d4rl_mean']:.1f}, "
                f"best {s['d4rl_best']:.1f}"
                if s
                else "not yet loaded by the runner"
            )
        )
    return f"the kit's `{c.profile_name}` build<br>" + "<br>".join(out)


def _generated(c: Campaign, augmenter: str, folder: Path) -> str:
    """What the builds generated (``builds/``), per dataset, and its size against the original data's."""
    known, out = data_summaries(folder), []
    for d in c.grid.datasets:
        try:
            build = json.loads((folder / "builds" / f"{_short(d)}-{augmenter}.json").read_text())[-1]
        except (OSError, ValueError, IndexError):
            out.append(f"{_short(d)}: not yet built")
            continue
        n, orig = build["summary"].get("accepted_transitions"), known.get(d, {}).get("transitions")
        share = f" ({n / orig:.2f} x the data)" if n and orig else ""
        out.append(f"{_short(d)}: {n:,}{share} in {build['seconds'] / 3600:.1f} h" if n else f"{_short(d)}: -")
    return "<br>".join(out)


def versus_paper(c: Campaign, folder: Path | None = None) -> str:
    """Every setting in which the campaign differs from the paper it is read against, as a markdown table printed
    from the campaign file, the methods' declarations (``Method.paper``) and the build records: data, learner
    updates, seeds, each generator's sizes, steps, sampler, guidance and generated volume, the batch ratio and the
    qualification threshold.

    Why: a campaign's "not shown" is a statement about *these* settings; a reader who sees only the paper's numbers
    beside the kit's would take it for a statement about the method."""
    from stitchkit import augment

    folder = folder or results_folder(c)
    setup, prof = c.paper_setup, c.profile()
    first = c.cells()[0]
    sp = spec(c, first)
    ours = {
        "data": _data_cell(c, folder),
        "steps": _value(c.train["steps"]),
        "seeds": _value(len(c.grid.seeds)),
        "learners": f"{', '.join(c.grid.algorithms)}: {_value(list(c.train.get('hidden', [])))} networks, "
        f"batch {sp['batch_size']}",
        "evaluation": f"last evaluation (every {c.train['eval_every']:,} updates, {c.train['eval_episodes']} episodes)",
    }
    rows = ["| setting | this campaign | the paper |", "|---|---|---|"]
    rows += [f"| {name} | {ours[key]} | {_value(setup.get(key, '-'))} |" for key, name in SETUP_ROWS.items()]
    for a in (a for a in c.grid.augmenters if a != "none"):
        m = augment.method(a)
        sizes: dict[str, Any] = {}
        for t in reversed(m.sizes):  # its own table last: its own value wins a shared name
            sizes |= asdict(t.of(prof))
        configs = [augment.resolved_config(a, d, c.grid.options_for(a, d)) for d in c.grid.datasets]
        for key, theirs in m.paper.items():
            if key == "volume":
                continue
            if key == "ratio":
                mine = f"{c.grid.ratio(a):.3g} original : 1 generated"
            elif all(getattr(cf, key, None) is not None for cf in configs):  # an option (per dataset)
                mine = ", ".join(sorted({_value(getattr(cf, key)) for cf in configs}))
            else:  # a size (an option left to the sizes reads as its size)
                mine = _value(sizes.get(key, "-"))
            rows.append(f"| {a}: {key} | {mine} | {_value(theirs)} |")
        rows.append(f"| {a}: generated transitions | {_generated(c, a, folder)} | {m.paper.get('volume', '-')} |")
    return "\n".join(rows)


def why_not_refuted(
    c: Campaign, recs: list[dict[str, Any]], folder: Path | None = None, metric: str = "d4rl_tail"
) -> str:
    """Why a null result of this campaign does not refute the paper: a bulleted list built from the same facts as
    :func:`versus_paper` (budgets against the paper's) and from the records (seeds the paper's difference would
    need at the measured spread, curves still rising at the last evaluation). Each line is a measured or declared
    fact; none is a guess about the outcome."""
    from stitchkit import augment

    folder = folder or results_folder(c)
    setup, prof, out = c.paper_setup, c.profile(), []
    steps = setup.get("steps")
    if isinstance(steps, int) and steps > c.train["steps"]:
        out.append(
            f"- **Learner budget**: {c.train['steps']:,} updates per run, {c.train['steps'] / steps:.0%} of the "
            f"paper's {steps:,}."
        )
    curves = [r["result"]["curve"] for r in recs]
    tails = [cv.get("d4rl_score", cv.get("score", [])) for cv in curves]
    tails = [t for t in tails if len(t) > TAIL]
    if tails:
        up = sum(t[-1] > np.mean(t[-TAIL - 1 : -1]) for t in tails)
        out.append(
            f"- **Still climbing?** In {up} of {len(tails)} runs the last evaluation is above the mean of the "
            f"{TAIL} before it."
        )
    for a in (a for a in c.grid.augmenters if a != "none"):
        m, sizes = augment.method(a), {}
        for t in reversed(m.sizes):
            sizes |= asdict(t.of(prof))
        short = [
            f"{k} {sizes[k]:,} of {v:,}"
            for k, v in m.paper.items()
            if k in sizes
            and isinstance(v, int)
            and not isinstance(v, bool)
            and isinstance(sizes[k], int)
            and sizes[k] < v
        ]
        if short:
            out.append(f"- **{a}, smaller than released**: " + "; ".join(short) + ".")
        if "return_guidance" in m.paper:
            used = {augment.resolved_config(a, d, c.grid.options_for(a, d)).return_guidance for d in c.grid.datasets}
            if used != {m.paper["return_guidance"]}:
                out.append(
                    f"- **{a}, return guidance**: w = {', '.join(f'{w:g}' for w in sorted(used))} here, "
                    f"{m.paper['return_guidance']:g} released (bridges pushed toward a high return)."
                )
    sc = scores(recs, metric)
    for d in c.grid.datasets:
        for algo in c.grid.algorithms:
            for a in (a for a in c.grid.augmenters if a != "none"):
                x, y = sc.get((d, algo, a), []), sc.get((d, algo, "none"), [])
                effect = _paper_diff(c, d, (algo, a), (algo, "none"))
                if len(x) >= 2 and len(y) >= 2 and effect:
                    need = seeds_needed(x, y, effect)
                    if need > len(c.grid.seeds):
                        out.append(
                            f"- **Seeds, {algo} + {a} on {_short(d)}**: the paper's {effect:+.1f} would need {need} "
                            f"seeds per arm at the spread measured here; the campaign has {len(c.grid.seeds)}."
                        )
    data = setup.get("data")
    if data:
        out.append(f"- **Data**: the paper's is {data}; the campaign's is the kit's own (table above).")
    return "\n".join(out) if out else "- no difference declared between this campaign and the paper"


def banner(c: Campaign, recs: list[dict[str, Any]]) -> str:
    """The label every notebook puts over the campaign's numbers: what they are and how to reproduce them."""
    machines = sorted({r["provenance"]["machine"]["device"] for r in recs}) or ["-"]
    if c.closed:  # its data recipe was replaced: the numbers are history, said before they are read
        return (
            f"**Closed campaign, precomputed** at {c.train['steps']:,} updates per run on {', '.join(machines)} "
            f"(records in `results/{c.name}/`; {len(recs)} of {len(c.cells())} runs done). **It {c.closed}.**"
        )
    return (
        f"**Precomputed** at {c.train['steps']:,} updates per run, one seed per run, on {', '.join(machines)} "
        f"(records in `results/{c.name}/`; `make campaign` reproduces and continues them): "
        f"**{len(recs)} of {len(c.cells())} runs done**."
    )


def overview(c: Campaign, recs: list[dict[str, Any]], augmenters: tuple[str, ...] | None = None) -> str:
    """What notebooks show first: the banner, then the D4RL-normalised Table-1 grid at the last evaluation (the
    papers' convention) and the same grid averaged over the last evaluations (less noise per run)."""
    return (
        banner(c, recs)
        + "\n\nD4RL-normalised score at the last evaluation (the papers' convention): mean [95% t-interval] "
        "(seeds), the paper's mean ± std below it.\n\n"
        + table(c, recs, "d4rl_last", augmenters)
        + f"\n\nThe same, averaged over each run's last {TAIL} evaluations (one evaluation is 10 episodes and "
        "swings by tens of points; the average is the steadier reading):\n\n" + table(c, recs, "d4rl_tail", augmenters)
    )


def compare(label: str, x: list[float], y: list[float], names: tuple[str, str], paper_diff: float | None) -> str:
    """One honest line: x against y, each with its 95% interval, the difference with its 95% Welch interval beside
    the paper's, and the verdict from the difference's interval: it excludes 0 (the direction shows at this many
    seeds) or spans 0 (it cannot be told from seed spread). Intervals that do not even overlap are said so. Then
    the paper's own difference against the same interval: inside it, the kit's result is consistent with the paper's
    effect size; outside it, the effect here is smaller (or larger) than the paper's at this many seeds, which an
    interval spanning 0 alone would not say."""
    if len(x) < 2 or len(y) < 2:
        return f"- **{label}**: not yet computed ({len(x)} seed(s) of {names[0]}, {len(y)} of {names[1]})."
    (mx, lx, hx), (my, ly, hy) = mean_ci(x), mean_ci(y)
    diff, dl, dh = difference_ci(x, y)
    text = (
        f"- **{label}**: {names[0]} {mx:.1f} [{lx:.1f}, {hx:.1f}] vs {names[1]} {my:.1f} [{ly:.1f}, {hy:.1f}], "
        f"difference {diff:+.1f} [{dl:+.1f}, {dh:+.1f}]"
        + (f" (paper {paper_diff:+.1f})" if paper_diff is not None else "")
        + "; "
    )
    same = paper_diff is None or (diff > 0) == (paper_diff > 0)
    if dl > 0 or dh < 0:
        apart = " (the two intervals are apart)" if lx > hy or ly > hx else ""
        text += f"the difference's interval excludes 0{apart}: " + (
            "the paper's direction holds here." if same else "the opposite of the paper's direction."
        )
    else:
        text += (
            f"the difference's interval spans 0: at {min(len(x), len(y))} seeds this cannot be told from seed spread"
            + (" (the sign agrees with the paper's)." if same else " (the sign is the paper's opposite).")
        )
    if paper_diff is None:
        return text
    if dl <= paper_diff <= dh:
        return text + f" The paper's {paper_diff:+.1f} lies inside the interval: consistent with its effect size."
    side = "smaller" if paper_diff > dh else "larger"
    outside = f" The paper's {paper_diff:+.1f} lies outside the interval: the effect here is {side}"
    return text + outside + " than the paper's."


def _paper_diff(c: Campaign, d: str, a: tuple[str, str], b: tuple[str, str]) -> float | None:
    pa, pb = _paper(c, d, *a), _paper(c, d, *b)
    return None if pa is None or pb is None else pa[0] - pb[0]


def reading(c: Campaign, recs: list[dict[str, Any]], augmenter: str, metric: str = "d4rl_last") -> str:
    """A line per (dataset, learner), generated from the records: ``augmenter`` against the original data
    (:func:`compare`)."""
    sc = scores(recs, metric)
    return "\n".join(
        compare(
            f"{algo} on {_short(d)}",
            sc.get((d, algo, augmenter), []),
            sc.get((d, algo, "none"), []),
            (augmenter, "original"),
            _paper_diff(c, d, (algo, augmenter), (algo, "none")),
        )
        for d in c.grid.datasets
        for algo in c.grid.algorithms
    )


def seeds_table(
    c: Campaign, recs: list[dict[str, Any]], metric: str = "d4rl_tail", augmenters: tuple[str, ...] | None = None
) -> str:
    """Markdown: per (dataset, learner, augmenter), the two arms' spreads over seeds and the seeds per arm the
    paper's difference would need to show at that spread (:func:`stitchkit.stats.seeds_needed`): whether the
    campaign's 3 seeds could have shown the paper's lift at all, or the learner's seed spread hides it."""
    sc = scores(recs, metric)
    rows = [
        "| dataset | learner | augmenter | sd (augmented, original) | paper's difference | seeds per arm to show it |",
        "|---|---|---|---|---|---|",
    ]
    for d in c.grid.datasets:
        for algo in c.grid.algorithms:
            for a in augmenters or tuple(x for x in c.grid.augmenters if x != "none"):
                x, y = sc.get((d, algo, a), []), sc.get((d, algo, "none"), [])
                effect = _paper_diff(c, d, (algo, a), (algo, "none"))
                if len(x) < 2 or len(y) < 2 or not effect:
                    continue
                sds = f"{np.std(x, ddof=1):.1f}, {np.std(y, ddof=1):.1f}"
                rows.append(f"| {_short(d)} | {algo} | {a} | {sds} | {effect:+.1f} | {seeds_needed(x, y, effect)} |")
    return "\n".join(rows) if len(rows) > 2 else "not yet computed: no cell has 2 seeds of both arms"


def reading_learners(
    c: Campaign, recs: list[dict[str, Any]], learner: str, augmenter: str = "none", metric: str = "d4rl_last"
) -> str:
    """A line per (dataset, other learner): ``learner`` against each other learner of the campaign on the same
    data (TELS's small-data row: TELS against POR and TD3+BC)."""
    sc = scores(recs, metric)
    return "\n".join(
        compare(
            f"{learner} vs {other} on {_short(d)}",
            sc.get((d, learner, augmenter), []),
            sc.get((d, other, augmenter), []),
            (learner, other),
            _paper_diff(c, d, (learner, augmenter), (other, augmenter)),
        )
        for d in c.grid.datasets
        for other in c.grid.algorithms
        if other != learner
    )


def progress(c: Campaign, folder: Path | None = None) -> dict[str, Any]:
    """Runs done out of planned (per dataset), and the CPU hours spent: training (records), builds, and runs archived
    after a settings change made them stale (:func:`archive_folder`)."""
    folder = folder or results_folder(c)
    recs = records(c, folder)
    per = {_short(d): [0, 0] for d in c.grid.datasets}
    for cell in c.cells():
        per[_short(cell.dataset)][1] += 1
    for r in recs:
        per[_short(r["cell"]["dataset"])][0] += 1
    train_h = sum(r["provenance"]["wall_seconds"] for r in recs) / 3600
    archived_h = 0.0
    for path in sorted(archive_folder(folder).glob("*/*/*/*.json")):
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            archived_h += json.loads(path.read_text())["provenance"]["wall_seconds"] / 3600
    build_h = 0.0
    for path in sorted((folder / "builds").glob("*.json")):
        try:
            build_h += sum(b.get("cpu_seconds", b["seconds"]) for b in json.loads(path.read_text())) / 3600
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return {
        "done": len(recs),
        "planned": len(c.cells()),
        "per_dataset": per,
        "train_cpu_hours": round(train_h, 2),
        "build_cpu_hours": round(build_h, 2),
        "archived_cpu_hours": round(archived_h, 2),  # runs made stale by a settings change (archive_folder)
    }


def write_readme(c: Campaign, folder: Path | None = None) -> Path:
    """``results/<name>/README.md``: progress, CPU hours and the table so far (regenerated after each record)."""
    folder = folder or results_folder(c)
    p, recs = progress(c, folder), records(c, folder)
    sizes = "; ".join(f"{s}: " + ", ".join(f"{k}={v}" for k, v in vals.items()) for s, vals in c.sizes.items())
    text = "\n".join(
        [
            f"# Campaign `{c.name}`: records (generated by `stitchkit campaign`, do not edit)",
            "",
            f"**{p['done']} of {p['planned']} runs done** ("
            + ", ".join(f"{d}: {a} of {b}" for d, (a, b) in p["per_dataset"].items())
            + f"). CPU hours: {p['train_cpu_hours']:.1f} training + {p['build_cpu_hours']:.1f} augmented-data builds"
            + (
                f" + {p['archived_cpu_hours']:.1f} in runs archived after a settings change "
                f"(`results/archive/{folder.name}/`)."
                if p["archived_cpu_hours"]
                else "."
            ),
            "",
            f"Each run: one seed, {c.train['steps']:,} updates, evaluated every {c.train['eval_every']:,} on "
            f"{c.train['eval_episodes']} episodes; networks "
            + ("-".join(map(str, c.train["hidden"])) if "hidden" in c.train else "at the profile's widths")
            + ", "
            f"profile `{c.profile_name}` data; generator sizes over `{c.profile_name}`: {sizes or 'none'}.",
            "`make campaign` runs the next pending cells; a record is `<dataset>/<augmenter>/<learner>-s<seed>.json`.",
            "",
            "## D4RL-normalised score at the last evaluation: mean [95% t-interval] (seeds)",
            "",
            table(c, recs, "d4rl_last"),
            "",
            f"## D4RL-normalised score averaged over each run's last {TAIL} evaluations: mean [95% t-interval] (seeds)",
            "",
            table(c, recs, "d4rl_tail"),
            "",
            "## Kit score (normalised by the kit's own random and expert policies) at the last evaluation",
            "",
            table(c, recs, "score_last"),
            "",
            f"## Runs whose value function diverged (TD loss over {DIVERGED:g}x its early median; kept in the means)",
            "",
            divergence_notes(recs),
            "",
            f"## The data's own episodes, D4RL-normalised: what imitating them could reach (best tenth: {TOP:.0%})",
            "",
            data_table(c, folder),
            "",
        ]
    )
    path = folder / "README.md"
    atomic_write_text(path, text)
    return path


def curves(recs: list[dict[str, Any]], metric: str = "d4rl_score") -> dict[tuple[str, str, str], tuple]:
    """{(dataset, algorithm, augmenter): (steps, (seeds, evaluations) array)} for plotting seed bands; seeds whose
    curves have different evaluation steps are cut to the common prefix."""
    out: dict[tuple[str, str, str], list] = {}
    for r in recs:
        c, cv = r["cell"], r["result"]["curve"]
        if metric in cv:
            out.setdefault((c["dataset"], c["algorithm"], c["augmenter"]), []).append((cv["step"], cv[metric]))
    result = {}
    for k, runs in out.items():
        n = min(len(s) for s, _ in runs)
        result[k] = (np.asarray(runs[0][0][:n]), np.asarray([v[:n] for _, v in runs], float))
    return result


def plot_curves(
    c: Campaign,
    recs: list[dict[str, Any]],
    dataset: str,
    metric: str = "d4rl_score",
    augmenters: tuple[str, ...] | None = None,
    axes=None,
    folder: Path | None = None,
):
    """Learning curves of one dataset, a panel per learner, a line per augmenter (the seeds' mean) with a band over
    its seeds (min to max) and each seed as a thin line; an arm without records is listed as not yet computed in
    the panel. On the D4RL scale, dotted lines mark the data's own best episode and best tenth's mean
    (:func:`data_summary`): a curve above them does better than copying the data."""
    import matplotlib.pyplot as plt

    cv = curves(recs, metric)
    ceiling = data_summaries(folder or results_folder(c)).get(dataset) if metric == "d4rl_score" else None
    if axes is None:
        _, axes = plt.subplots(1, len(c.grid.algorithms), figsize=(5 * len(c.grid.algorithms), 3.4), squeeze=False)
        axes = axes[0]
    for ax, algo in zip(axes, c.grid.algorithms):
        missing = []
        for a in augmenters or c.grid.augmenters:
            if (dataset, algo, a) not in cv:
                missing.append(a)
                continue
            steps, v = cv[(dataset, algo, a)]
            line = ax.plot(steps, v.mean(0), label=f"{a} (n={len(v)})")[0]
            ax.fill_between(steps, v.min(0), v.max(0), color=line.get_color(), alpha=0.2)
            for seed_curve in v:  # each seed thin: a band over seeds that split in two looks like one wide arm
                ax.plot(steps, seed_curve, color=line.get_color(), lw=0.6, alpha=0.5)
        if ceiling is not None:
            ax.axhline(ceiling["d4rl_best"], color="0.3", ls=":", lw=1, label="data's best episode")
            ax.axhline(ceiling["d4rl_top"], color="0.6", ls=":", lw=1, label=f"data's best {TOP:.0%} (mean)")
        if missing:
            ax.text(0.02, 0.97, "not yet computed: " + ", ".join(missing), transform=ax.transAxes, va="top", fontsize=8)
        ax.set(title=f"{algo} on {_short(dataset)}", xlabel="updates", ylabel=metric.replace("_", " "))
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8, loc="lower right")
    return axes


__all__ = [
    "DIVERGED",
    "METRICS",
    "TAIL",
    "TD_LOSSES",
    "Campaign",
    "archive_folder",
    "banner",
    "compare",
    "curves",
    "data_summaries",
    "data_summary",
    "data_table",
    "difference_ci",
    "diverged",
    "divergence_notes",
    "load",
    "mean_ci",
    "metric_value",
    "overview",
    "parse",
    "past_the_data",
    "pending",
    "plot_curves",
    "progress",
    "reading",
    "reading_learners",
    "records",
    "results_folder",
    "run",
    "spec",
    "table",
    "td_loss",
    "train_cell",
    "write_readme",
]
