"""A campaign's file, cells and stored records: what a cell is (:func:`spec`), where its record lives and when it
is current, the builds' histories, and the data summaries written beside the records. No running, no reading."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import platform
import socket
import subprocess
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import tomllib

from stitchkit import runner
from stitchkit.bench import BenchError, Cell, Grid, grid_from_raw, kit_file
from stitchkit.files import atomic_write_text
from stitchkit.paths import data_dir, project_root
from stitchkit.profiles import SHARED_SECTIONS, Profile, SizeTable, get_profile, with_sizes

CAMPAIGN_KEYS = {"profile", "augment_tag", "train", "sizes", "paper", "paper_setup", "closed"}
# a campaign may extend another (``extends = "campaign-d4rl"``): a second arm at the same sizes names only what differs
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
        tables = size_tables(self.grid.augmenters, self.grid.algorithms)
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
    raw = _toml(text, source)
    if "extends" in raw:
        base = kit_file(raw.pop("extends"), "campaign", "campaign*.toml")
        raw = _merged(_toml(base.read_text(), str(base)), raw)
        # the base's sizes for methods this campaign does not run are the base's business, not an error here
        owned = {t.section for t in size_tables(raw.get("augmenters", []), raw.get("algorithms", []))}
        raw["sizes"] = {k: v for k, v in raw.get("sizes", {}).items() if k in owned or k in SHARED_SECTIONS}
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


def size_tables(augmenters: list[str], algorithms: list[str]) -> list[SizeTable]:
    """The size declarations of a campaign's methods and learners: the sections its ``[sizes]`` may replace."""
    from stitchkit import augment
    from stitchkit.train import learner

    tables = [t for a in augmenters if a != "none" for t in augment.method(a).sizes]
    return tables + [t for algo in algorithms for t in learner(algo).sizes]


def _toml(text: str, source: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise BenchError(f"{source}: not valid TOML ({err})") from err


def _merged(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` on top of ``base``: tables merge key by key, every other value is replaced."""
    out = dict(base)
    for k, v in over.items():
        out[k] = _merged(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


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


def short_id(dataset: str) -> str:
    """``stitchkit/hopper/medium-replay-v0`` -> ``hopper-medium-replay`` (a record's folder)."""
    return dataset.removeprefix("stitchkit/").removesuffix("-v0").replace("/", "-")


def cell_name(cell: Cell) -> str:
    """``hopper-medium-replay/none/td3bc-s0``: a record's path under the campaign's folder, and ``--only``'s unit."""
    return f"{short_id(cell.dataset)}/{cell.augmenter}/{cell.algorithm}-s{cell.seed}"


def results_folder(c: Campaign) -> Path:
    """Where the campaign's records live: ``results/<name>/`` in the checkout (committed, unlike ``data/``)."""
    return project_root() / "results" / c.name


def archive_folder(folder: Path) -> Path:
    """Where records of ``folder`` go when a settings change makes them stale: ``results/archive/<name>/<why>/``,
    each set with a README saying what differed. The notebooks never read it; the CPU hours it holds still count."""
    return folder.parent / "archive" / folder.name


def record_path(folder: Path, cell: Cell) -> Path:
    return folder / f"{cell_name(cell)}.json"


def read_record(path: Path) -> dict[str, Any] | None:
    """A record whose checksum holds, or None (missing, unreadable, truncated or edited)."""
    return runner.read_record(path)


def records(c: Campaign, folder: Path | None = None, current: bool = True) -> list[dict[str, Any]]:
    """The campaign's valid records (``current``: only those whose spec is what the campaign asks for now).
    Read-only, and never an error: a cell without a record is simply not in the list."""
    folder = folder or results_folder(c)
    out = []
    for cell in c.cells():
        rec = runner.read_record(record_path(folder, cell), spec(c, cell) if current else None)
        if rec is not None:
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


def machine_text() -> str:
    """The machine in one line, CPU model first: the same 2-core course runs about 1.7x faster on one lent CPU than
    on another (results/course_time), so a wall time without its CPU cannot be compared."""
    m = machine()
    return f"{m['cpu']}, {m['cores']} cores, {platform.machine()}, Python {m['python']}"


def write_record(folder: Path, rec: dict[str, Any]) -> Path:
    return runner.write_record(record_path(folder, Cell(**rec["cell"])), rec)


# The repository's limit for a tracked file (its guard rail: generated data and checkpoints are built, not
# committed). A stage or a models file over it stays in data/.
REPO_FILE_BYTES = 2 * 2**20
STAGE_COMMIT_BYTES = REPO_FILE_BYTES  # a paper-volume build's bridges (about 45 MB for hopper) stay in data/


def stage_path(folder: Path, dataset: str, augmenter: str, nbytes: int | None = None) -> Path:
    """Where a build's compact generated data (:mod:`stitchkit.augment.compact`) lives: beside its history in
    ``folder/stages/``, committed, when it is small (a lab-sized build's); in ``data/stages/<campaign>/`` when
    it is over :data:`STAGE_COMMIT_BYTES` (twice hopper's 370k transitions take about 45 MB), which outlives a
    rebuilt dataset but not a lost ``data/``. ``nbytes``: where a stage of that size is written; without it, where
    one is read (the committed one first)."""
    name = f"{short_id(dataset)}-{augmenter}.npz"
    committed, local = folder / "stages" / name, data_dir() / "stages" / folder.name / name
    if nbytes is not None:
        return committed if nbytes <= STAGE_COMMIT_BYTES else local
    return committed if committed.exists() or not local.exists() else local


# DiffStitch's models at campaign-d4rl's sizes (a 1M-parameter U-Net, its EMA and 4 small models) take 13 MB, so
# they stay in data/.
MODELS_COMMIT_BYTES = REPO_FILE_BYTES


def models_path(folder: Path, dataset: str, augmenter: str) -> Path:
    """Where a build's trained models are committed (``folder/stages/<dataset>-<augmenter>-models.pt``, with a
    ``.json`` beside it naming the models folder they belong in and their SHA-256): a build longer than a session
    keeps them, so the next session only generates."""
    return folder / "stages" / f"{short_id(dataset)}-{augmenter}-models.pt"


def write_build(folder: Path, dataset: str, augmenter: str, rec: dict[str, Any]) -> Path:
    """Append a build to its (dataset, augmenter) history: each machine rebuilds, and the fingerprints show
    whether the rebuilds gave the same data."""
    path = folder / "builds" / f"{short_id(dataset)}-{augmenter}.json"
    try:
        history = json.loads(path.read_text())
    except (OSError, ValueError):
        history = []
    atomic_write_text(path, json.dumps(history + [rec], indent=1, sort_keys=True) + "\n")
    return path


def matches(c: Campaign, only: str) -> bool:
    """Whether an ``--only`` selection names any cell of this campaign."""
    try:
        only_filter(c, only)
        return True
    except BenchError:
        return False


def only_filter(c: Campaign, only: str | None) -> Callable[[Cell], bool]:
    """``--only`` patterns, comma-separated, each matching a record path's start: ``hopper-medium-replay``,
    ``hopper-medium-replay/diffstitch``, ``hopper-medium-replay/none/td3bc-s0``."""
    if not only:
        return lambda cell: True
    pats = [p.strip().strip("/") for p in only.split(",") if p.strip()]
    names = {cell_name(x) for x in c.cells()}
    for p in pats:
        if not any(n == p or n.startswith(p + "/") or n.startswith(p + "-s") for n in names):
            raise BenchError(f"--only {p!r} matches no cell of {c.name}; cells look like {sorted(names)[0]}")
    return lambda cell: any(
        (n := cell_name(cell)) == p or n.startswith(p + "/") or n.startswith(p + "-s") for p in pats
    )


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
