"""The ``stitchkit`` command. Each sub-command that produces results takes ``--json`` and then prints one
JSON object on one line as its last line of output, so scripts and CI can read results without scraping."""

from __future__ import annotations

import argparse
import json
import platform
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from stitchkit import tasks
from stitchkit.cores import workers
from stitchkit.gl import GLBackendError
from stitchkit.options import parse_items
from stitchkit.plugins import LEARNERS, STITCHING_METHODS
from stitchkit.profiles import PROFILE_NAMES, PROFILES, ProfileError, get_profile

#: name -> (help text, function adding the sub-command's arguments and its ``func``)
COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None]]] = {}


def command(name: str, help: str):
    """Register ``add_arguments(parser)`` for a sub-command; the parser's ``func`` default runs it."""

    def register(add_arguments):
        COMMANDS[name] = (help, add_arguments)
        return add_arguments

    return register


def emit(result: dict[str, Any], as_json: bool, lines: list[str]) -> int:
    """Print the human-readable lines, then (with ``--json``) the result as the last line."""
    for line in lines:
        print(line)
    if as_json:
        print(json.dumps(result, sort_keys=True, default=str))
    return 0


@command("info", "the machine, versions, profile, device, paths and GL backend this kit would use")
def _info(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--check-gl", action="store_true", help="also open an offscreen renderer: a clear error if MuJoCo cannot render"
    )

    def run(args: argparse.Namespace) -> int:
        import os

        import torch

        if args.check_gl:  # before anything else: the one thing asked
            from stitchkit.gl import require_gl

            require_gl()

        import stitchkit
        from stitchkit.device import get_device
        from stitchkit.paths import data_dir, reports_dir

        result = {
            "stitchkit": stitchkit.__version__,
            "python": platform.python_version(),
            "torch": torch.__version__,
            "profile": args.profile.name,
            "device": str(get_device()),
            "data_dir": str(data_dir()),
            "reports_dir": str(reports_dir()),
            "minari_datasets_path": os.environ.get("MINARI_DATASETS_PATH"),
            "mujoco_gl": os.environ.get("MUJOCO_GL") + (" (renders)" if args.check_gl else ""),
            "cuda_available": torch.cuda.is_available(),
        }
        return emit(result, args.json, [f"{k:>22}: {v}" for k, v in result.items()])

    p.set_defaults(func=run)


def _all_sizes(prof) -> dict[str, Any]:
    """The profile's shared sections, then every section a method or learner declares (``SIZES`` in its module)."""
    from dataclasses import asdict

    from stitchkit.plugins import size_tables

    return prof.as_dict() | {section: asdict(sizes.of(prof)) for section, sizes in size_tables().items()}


@command("profiles", "the three profiles and every size they set")
def _profiles(p: argparse.ArgumentParser) -> None:
    def run(args: argparse.Namespace) -> int:
        lines, every = [], {n: _all_sizes(p) for n, p in PROFILES.items()}
        for prof in PROFILES.values():
            mark = "  <- current" if prof.name == args.profile.name else ""
            lines.append(f"{prof.name}: {prof.description}{mark}")
            for section, sizes in every[prof.name].items():
                if isinstance(sizes, dict):
                    lines.append(f"    {section}: " + ", ".join(f"{k}={v}" for k, v in sizes.items()))
        return emit({"current": args.profile.name, "profiles": every}, args.json, lines)

    p.set_defaults(func=run)


@command("report", "execute the notebooks at a profile and write HTML pages with reports/index.html")
def _report(p: argparse.ArgumentParser) -> None:
    p.add_argument("--notebook", action="append", type=Path, help="only this notebook (repeatable)")
    p.add_argument("--out", type=Path, help="output folder (default: reports/)")
    p.add_argument("--timeout", type=int, default=3600, help="seconds per cell")
    p.add_argument(
        "--workers",
        type=int,
        default=workers(),
        help=f"notebooks executed at once, each after the ones it needs (default here: {workers()}; 1: one at a "
        "time, the only build recorded as the course's timing)",
    )
    p.add_argument(
        "--check",
        action="store_true",
        help="build nothing: open the report's pages from disk in headless Chromium, network off, and check each "
        "(a figure, no traceback, math typeset, player buttons drawn)",
    )

    def run(args: argparse.Namespace) -> int:
        from stitchkit.paths import reports_dir
        from stitchkit.report import build_report

        if args.check:
            from stitchkit.report_check import check_pages

            pages = check_pages(args.out or reports_dir())
            lines = [
                f"{'ok' if not r['problems'] else 'BAD':>4}  {r['page']}: {r['figures']} figures, {r['math']} math, "
                f"{r['buttons']} player buttons  {'; '.join(r['problems'])}"
                for r in pages
            ]
            out = {"pages": pages, "ok": all(not r["problems"] for r in pages)}
            emit(out, args.json, lines)
            return 0 if out["ok"] else 1
        results = build_report(args.profile.name, args.notebook, args.out, args.timeout, args.workers)
        lines = [f"{'ok' if r.ok else 'FAILED':>6}  {r.seconds:7.1f} s  {r.page}  {r.error}" for r in results]
        out = {"profile": args.profile.name, "pages": [r.__dict__ for r in results], "ok": all(r.ok for r in results)}
        emit(out, args.json, lines)
        return 0 if out["ok"] else 1

    p.set_defaults(func=run)


@command("student", "write the student edition: the notebooks without their solution cells, ready to hand out")
def _student(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, help="output folder (default: student/)")

    def run(args: argparse.Namespace) -> int:
        from stitchkit.report import student_edition

        paths = student_edition(args.out)
        return emit({"notebooks": [str(q) for q in paths]}, args.json, [str(q) for q in paths])

    p.set_defaults(func=run)


DEFAULT_DATASETS = (  # what the course's notebooks read: `make lab` and `make report` build them first, two at a time
    "stitchkit/pointmaze-medium/stitch-v0",
    "stitchkit/pointmaze-medium/stitch-2k-v0",
    *(f"stitchkit/hopper/{name}-v0" for name in ("random", "medium", "medium-replay", "expert", "medium-expert")),
    "stitchkit/walker2d/medium-replay-v0",
)
COURSE_MODELS = ("stitchkit/hopper/medium-replay-v0", "stitchkit/pointmaze-medium/stitch-v0")  # models + data


@command("data", "offline datasets: list, build, info, defaults, train-policy, record-replay")
def _data(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=("list", "build", "info", "defaults", "train-policy", "record-replay"))
    p.add_argument("target", nargs="?", help="dataset id (build, info) or env (train-policy, record-replay)")
    p.add_argument("--force", action="store_true", help="build: replace an existing dataset")
    p.add_argument("--seed", type=non_negative_int, default=0)
    p.add_argument(
        "--workers",
        type=positive_int,
        default=workers(),
        help=f"defaults: datasets built at a time, one core each (default here: {workers()}, cores capped by memory)",
    )
    p.add_argument(
        "--steps", type=positive_int, default=None, help="train-policy (1M), record-replay (D4RL's size): env steps"
    )
    p.add_argument("--algo", choices=("tqc", "sac"), default="tqc", help="train-policy: TQC (sb3-contrib) or SAC")
    p.add_argument("--checkpoint-every", type=positive_int, default=10_000, help="train-policy: steps per checkpoint")
    p.add_argument(
        "--publish",
        action="store_true",
        help="train-policy: copy the run's actors to data/policies/; record-replay: publish the stop nearest D4RL's",
    )
    p.add_argument(
        "--status", action="store_true", help="train-policy: where the run stands (from its manifest; trains nothing)"
    )
    p.add_argument(
        "--schedule",
        choices=("rlkit", "interleaved"),
        default="rlkit",
        help="record-replay: D4RL's rlkit loop (1,000 updates, then 1,000 steps, paths cut at the loop's end) or SB3's",
    )

    def run(args: argparse.Namespace) -> int:
        from stitchkit.data import registry

        prof = args.profile
        if args.action in ("build", "info", "train-policy", "record-replay") and not args.target:
            needs = "dataset id" if args.action in ("build", "info") else "env"
            raise ValueError(f"`stitchkit data {args.action}` needs a {needs}")
        if args.action == "list":
            rows = registry.list_datasets()
            lines = [f"{r['state']:>8} {r.get('profile') or '':>6}  {r['id']}" for r in rows]
            return emit({"datasets": rows}, args.json, lines)
        if args.action == "build":
            if registry.parse_id(args.target).kind == "augmented":  # generated data: the augmentation layer builds it
                from stitchkit import augment

                recipe = registry.parse_id(args.target)
                if recipe.tag:
                    raise ValueError(
                        f"{args.target} is a tagged variant; write it with `stitchkit augment "
                        f"{recipe.method} --dataset {recipe.parent} --out {args.target}` and its options"
                    )
                augment.run(recipe.method, recipe.parent, args.target, prof, seed=args.seed, force=args.force)
                return emit({"id": args.target, "profile": prof.name}, args.json, [])
            path = registry.build(args.target, prof, seed=args.seed, force=args.force)
            return emit({"id": args.target, "path": str(path), "profile": prof.name}, args.json, [])
        if args.action == "info":
            result = registry.info(args.target, prof)
            lines = [f"{k:>22}: {v}" for k, v in result.items() if k != "card"]
            lines += [f"{'card':>22}: {json.dumps(result['card'])}"]
            return emit(result, args.json, lines)
        if args.action == "defaults":
            from stitchkit.data.policies import list_checkpoints

            def has_policies(ds: str) -> bool:  # an env without committed behaviour policies is skipped
                recipe = registry.parse_id(ds)
                try:
                    return recipe.kind != "locomotion" or bool(list_checkpoints(recipe.env))
                except FileNotFoundError:
                    return False

            wanted = [ds for ds in DEFAULT_DATASETS if has_policies(ds)]
            skipped = [ds for ds in DEFAULT_DATASETS if ds not in wanted]
            for ds in skipped:
                print(f"skipped {ds}: no committed behaviour policies for its env")
            built = registry.build_many(wanted, prof, seed=args.seed, workers=args.workers)
            from stitchkit import augment

            models = [ds for ds in COURSE_MODELS if ds in wanted]
            augment.prepare_models(models, prof, seed=args.seed, workers=args.workers)
            return emit({"built": built, "models": models, "skipped": skipped, "profile": prof.name}, args.json, [])
        if args.action == "record-replay":
            from stitchkit.data import replay

            if args.status:
                st = replay.run_status(args.target, args.seed, args.schedule)
                return emit(st, args.json, [f"{k:>12}: {v}" for k, v in st.items()])
            if args.publish:
                card = replay.publish_nearest(args.target, args.seed, args.schedule)
                lines = [f"{k:>12}: {card[k]}" for k in ("stop", "rule", "stats", "d4rl", "misses")]
                return emit(card, args.json, lines)
            steps = args.steps or replay.D4RL_MEDIUM_REPLAY[args.target]["transitions"]
            path = replay.record(args.target, steps, args.seed, schedule=args.schedule)
            return emit({"env": args.target, "recording": str(path)}, args.json, [])
        from stitchkit.data.policies import publish_policies, run_status, train_policy

        if args.status:
            st = run_status(args.target, args.algo, args.seed)
            lines = [f"{k:>12}: {v}" for k, v in st.items()]
            return emit(st, args.json, lines)
        if args.publish:
            ckpts = publish_policies(args.target, args.algo, seed=args.seed)
        else:
            steps = args.steps or 1_000_000
            ckpts = train_policy(args.target, steps, args.algo, args.seed, args.checkpoint_every)
        return emit({"env": args.target, "checkpoints": [(c.step, c.mean_return) for c in ckpts]}, args.json, [])

    p.set_defaults(func=run)


@command("augment", "generate stitched data from a dataset and save it as an augmented Minari dataset")
def _augment(p: argparse.ArgumentParser) -> None:
    p.add_argument("method", choices=tuple(STITCHING_METHODS))
    p.add_argument("--dataset", required=True, help="parent dataset id, e.g. stitchkit/hopper/medium-replay-v0")
    p.add_argument("--out", help="output id (default: <parent>-<method>-v0; <parent>-<method>-<tag>-v0 for variants)")
    p.add_argument("--seed", type=non_negative_int, default=0)
    p.add_argument("--force", action="store_true", help="regenerate an existing output")
    p.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a method option, e.g. sampler=strided, delta=1.0, qualification=false (repeatable; an "
        "unknown key is an error that lists the accepted ones)",
    )
    p.add_argument(
        "--dry-run", action="store_true", help="check the options and ids, print the settled config; generate nothing"
    )

    def run(args: argparse.Namespace) -> int:
        from stitchkit import augment

        options = augment.method(args.method).check(parse_items(args.option))  # typed, before any work
        summary = augment.run(
            args.method,
            args.dataset,
            args.out,
            args.profile,
            seed=args.seed,
            force=args.force,
            dry_run=args.dry_run,
            **options,
        )
        if args.dry_run:
            return emit(summary, args.json, [f"{k:>20}: {v}" for k, v in summary["config"].items()])
        lines = [f"{k:>28}: {v}" for k, v in summary.items() if k != "config" and not isinstance(v, (list, dict))]
        return emit(summary, args.json, lines)

    p.set_defaults(func=run)


def number(cast: type, zero_ok: bool, what: str) -> Callable[[str], Any]:
    """An argparse type for a finite number > 0 (or >= 0): one line naming the value when it is not."""

    def parse(text: str):
        try:
            value = cast(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if not (value >= 0 if zero_ok else value > 0) or value == float("inf"):
            raise argparse.ArgumentTypeError(f"must be {what}, got {text}")
        return value

    return parse


CONFIRM_HOURS = 1.0  # smoke and lab promise minutes: a run estimated past this asks for --yes
positive_int = number(int, False, "a positive integer")
non_negative_int = number(int, True, "an integer >= 0")
positive_float = number(float, False, "a positive number")
non_negative_float = number(float, True, "a number >= 0")


@command("train", "train an offline RL learner (" + ", ".join(LEARNERS) + "); all seeds in one batched model")
def _train(p: argparse.ArgumentParser) -> None:
    p.add_argument("algo", choices=tuple(LEARNERS), metavar="LEARNER", help=" | ".join(LEARNERS))
    p.add_argument("--dataset", required=True, help="dataset id, e.g. stitchkit/hopper/medium-v0")
    p.add_argument("--augmented", help="an augmented dataset id to mix in")
    p.add_argument("--ratio", type=positive_float, default=1.0, help="original : augmented (default 1)")
    p.add_argument("--seeds", type=positive_int, default=1, help="number of seeds, trained together")
    p.add_argument(
        "--top-fraction",
        type=positive_float,
        help="train on this fraction of the dataset's episodes with the highest returns (0.1 with bc: 10%%-BC)",
    )
    p.add_argument("--no-resume", action="store_true", help="start over instead of resuming a checkpoint")
    p.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a learner setting, e.g. guide=awr, terms=+l_ode, expectile=0.9 (repeatable)",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="check everything, make one update on a copy of the model, print the estimate; train nothing",
    )
    p.add_argument(
        "--yes", action="store_true", help=f"start a run estimated past {CONFIRM_HOURS:g} h at the smoke or lab profile"
    )

    def run(args: argparse.Namespace) -> int:
        from stitchkit.train import learner
        from stitchkit.train import run as train_run

        options = learner(args.algo).check(parse_items(args.option))  # typed, before any work
        out = train_run(
            args.algo,
            args.dataset,
            args.seeds,
            args.profile,
            args.augmented,
            args.ratio,
            resume=not args.no_resume,
            top_fraction=args.top_fraction,
            max_hours=None if args.yes or args.profile.name == "full" else CONFIRM_HOURS,
            dry_run=args.dry_run,
            **options,
        )
        if args.dry_run:
            lines = [
                f"{args.algo} on {args.dataset}: {len(out['seeds'])} seed(s), {out['parameters']:,} parameters, "
                f"{out['steps']:,} updates at {out['seconds_per_update']:.3g} s each: about "
                f"{out['estimate_hours']:.2g} h here (profile {out['profile']}, evaluations not counted)"
            ]
            return emit(out, args.json, lines)
        s, r = out["score"], out["return"]
        lines = [
            f"{args.algo} on {args.dataset} ({len(out['seeds'])} seeds, {out['steps']} steps, profile "
            f"{out['profile']})",
            f"  score  last {s['last_mean']:.1f} ± {s['last_std']:.1f}   best {s['best_mean']:.1f} ± "
            f"{s['best_std']:.1f}",
            f"  return last {r['last_mean']:.1f} ± {r['last_std']:.1f}   best {r['best_mean']:.1f} ± "
            f"{r['best_std']:.1f}",
        ]
        return emit({k: v for k, v in out.items() if k != "curves"}, args.json, lines)

    p.set_defaults(func=run)


def _executor_options(p: argparse.ArgumentParser, what: str) -> None:
    """Where jobs run (:mod:`stitchkit.runner`): the same options for the benchmark and the campaign."""
    p.add_argument(
        "--executor",
        choices=("local", "ray"),
        default="local",
        help=f"local: {what} on this machine's cores (default); ray: {what} as Ray tasks",
    )
    p.add_argument("--address", help="ray: a running cluster, e.g. 10.0.0.1:6379 (default: start a local instance)")
    p.add_argument("--cpus-per-task", type=positive_float, default=1.0, help="ray: CPUs each task asks for")
    p.add_argument("--gpus-per-task", type=non_negative_float, default=0.0, help="ray: GPU fraction each task asks for")


@command("bench", "run a benchmark grid (datasets x augmenters x algorithms x seeds), resumably, and print its table")
def _bench(p: argparse.ArgumentParser) -> None:
    p.add_argument("grid", help="a grid TOML file, or smoke | lab | full (the kit's grids in stitchkit/grids/)")
    p.add_argument(
        "--processes", type=positive_int, default=1, help="local: groups trained at a time (2 on a 2-core laptop)"
    )
    _executor_options(p, "groups")
    p.add_argument("--status", action="store_true", help="only say which groups are done and which are pending")

    def run(args: argparse.Namespace) -> int:
        from stitchkit import bench

        grid = bench.load_grid(args.grid)
        if args.status:
            todo = bench.pending_groups(grid, args.profile)
            n_groups = len(grid.groups(args.profile.name))
            out = {
                "grid": grid.name,
                "profile": args.profile.name,
                "groups": n_groups,
                "pending": [f"{g.algorithm} {g.dataset} {g.augmenter}" for g in todo],
                "folder": str(bench.results_dir(grid, args.profile)),
            }
            return emit(
                out,
                args.json,
                [f"{grid.name} at {args.profile.name}: {len(todo)} of {n_groups} groups pending"]
                + [f"  {x}" for x in out["pending"]],
            )
        summary = bench.run(
            grid,
            args.profile,
            args.executor,
            args.address,
            args.gpus_per_task,
            cpus_per_task=args.cpus_per_task,
            processes=args.processes,
        )
        records = bench.load_records(grid, args.profile)
        summary["table"] = bench.table(grid, records, profile=args.profile)
        return emit(
            summary,
            args.json,
            [
                summary["table"],
                f"{summary['groups_run']} groups run in {summary['seconds']} s; records in {summary['folder']}",
            ],
        )

    p.set_defaults(func=run)


@command(
    "campaign",
    "the long runs (parity, DiffStitch's Table 1, TELS) at a longer CPU budget, one single-seed run at a time, "
    "records under results/<campaign>/",
)
def _campaign(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "action",
        choices=("run", "status", "carry"),
        help="run: the next pending cells; status: progress and table; carry: copy the trained models of builds "
        "still generating beside the records (a build longer than a session resumes from them)",
    )
    p.add_argument(
        "campaigns",
        nargs="*",
        default=["parity", "campaign-d4rl", "campaign-guidance"],
        help="campaign TOMLs or names, run in order (default: parity, campaign-d4rl, campaign-guidance; CI's: "
        "campaign-smoke)",
    )
    p.add_argument(
        "--workers",
        type=positive_int,
        help=f"cells (or builds) at a time, one core each (default here: {workers()}, cores capped by memory; "
        "with --executor ray: the cluster's CPUs over --cpus-per-task)",
    )
    p.add_argument("--hours", type=non_negative_float, help="start no job that would end after this many hours")
    p.add_argument("--commit", action="store_true", help="git-commit each record as it lands")
    p.add_argument("--only", help="cells whose record path starts so, comma-separated: hopper-medium-replay/none")
    p.add_argument("--folder", type=Path, help="where the records go (one campaign; default: results/<campaign>/)")
    p.add_argument(
        "--group-seeds", action="store_true", help="train a learner's waiting seeds as one batched run (a GPU's way)"
    )
    _executor_options(p, "cells and builds")

    def run(args: argparse.Namespace) -> int:
        import time

        from stitchkit.campaign import readings, records, running
        from stitchkit.paths import use_profile_data

        found = [records.load(name) for name in args.campaigns]  # every file checked before any work
        if args.action == "carry":
            lines = []
            for c in found:
                use_profile_data(c.profile_name)
                written = running.carry(c, args.folder or records.results_folder(c), args.commit)
                lines.append(f"{c.name}: {len(written) // 2} set(s) of trained models carried")
            return emit({"carried": lines}, args.json, lines)
        if args.action == "run":
            for c in found:
                if c.closed:
                    print(f"{c.name}: closed, skipped ({c.closed})")
            found = [c for c in found if not c.closed]
            profiles = sorted({c.profile_name for c in found})
            if len(profiles) > 1:
                raise ValueError(
                    f"campaigns {', '.join(c.name for c in found)} read data of profiles {profiles}; "
                    "run one profile's campaigns per command (each profile's data lives in its own folder)"
                )
            if profiles:
                use_profile_data(profiles[0])
        patterns = [p.strip() for p in (args.only or "").split(",") if p.strip()]
        for pat in patterns:
            if not any(records.matches(c, pat) for c in found):
                raise ValueError(f"--only {pat!r} matches no cell of {', '.join(c.name for c in found)}")
        deadline = None if args.hours is None else time.time() + 3600 * args.hours
        results, lines = {}, []
        snapshot = running.snapshot_code() if args.action == "run" else None  # edits to the checkout can't reach it
        for c in found:
            folder = args.folder or records.results_folder(c)
            only = ",".join(p for p in patterns if records.matches(c, p)) or None
            if args.action == "run" and (not patterns or only):
                left = None if deadline is None else max(0.0, (deadline - time.time()) / 3600)
                out = running.run(
                    c,
                    folder,
                    args.workers or (0 if args.executor == "ray" else workers()),
                    left,
                    args.commit,
                    only,
                    group_seeds=args.group_seeds,
                    snapshot=snapshot,
                    executor=args.executor,
                    address=args.address,
                    cpus_per_task=args.cpus_per_task,
                    gpus_per_task=args.gpus_per_task,
                )
                out["failed"] = {" + ".join(k): why for k, why in out.get("failed", {}).items()}  # JSON keys
            else:
                out = {"pending": len(records.pending(c, folder))}
            out.update(readings.progress(c, folder))
            results[c.name] = out
            lines += [
                f"{c.name}: {out['done']} of {out['planned']} runs done; CPU hours {out['train_cpu_hours']} training "
                f"+ {out['build_cpu_hours']} builds"
                + (f" + {out['archived_cpu_hours']} archived" if out["archived_cpu_hours"] else "")
                + f"; records in {folder}",
                readings.table(c, records.records(c, folder), "d4rl_last"),
            ]
        return emit(results, args.json, lines)

    p.set_defaults(func=run)


@command("parity", "the kit's medium-replay data and classic learners beside D4RL's and CORL's published numbers")
def _parity(p: argparse.ArgumentParser) -> None:
    p.add_argument("--write", action="store_true", help="also write results/parity/data.json and records.json")

    def run(args: argparse.Namespace) -> int:
        from stitchkit import parity

        data, rows = parity.data_rows(), parity.learner_rows(parity.runs())
        if args.write:
            parity.write()
        lines = [parity.data_table(data), ""]
        lines += [
            f"{env}: misses {'; '.join(r['misses']) or 'none'} (stop {r['stop']:,}: {r['rule']})"
            for env, r in data.items()
        ]
        lines += ["", parity.learner_table(rows)]
        return emit({"data": data, "rows": rows}, args.json, lines)

    p.set_defaults(func=run)


class Parser(argparse.ArgumentParser):
    """Errors on one line (what was wrong and what is accepted), without the usage block."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="stitchkit",
        description="Trajectory stitching for offline RL: datasets, models, benchmarks.",
        epilog=f"Profiles: {', '.join(PROFILE_NAMES)} (default from STITCHKIT_PROFILE, else lab).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands", parser_class=Parser)
    for name, (help_text, add_arguments) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--profile", choices=PROFILE_NAMES, help="sizes to use (default: STITCHKIT_PROFILE or lab)")
        p.add_argument("--json", action="store_true", help="end with one line of JSON holding the result")
        add_arguments(p)
    return parser


def option_help(command: str, name: str) -> str:
    """``stitchkit train LEARNER --help`` / ``stitchkit augment METHOD --help``: that learner's or method's options,
    generated from its declaration (types, ranges, defaults, per-profile sizes, the config's field comments)."""
    from stitchkit import options as opts

    if command == "train":
        from stitchkit.train import learner

        spec = learner(name)
        sized = {p: spec.profile_options(PROFILES[p]) for p in PROFILE_NAMES} if spec.profile_options else {}
        table = opts.help_table(name, spec.fields(), opts.defaults_of(spec.build), sized=sized)
        return table + _sizes_help(spec.sizes)
    from stitchkit.augment import method

    m = method(name)
    return opts.help_table(name, m.fields(), opts.defaults_of(m.config), opts.field_notes(m.config)) + _sizes_help(
        m.sizes
    )


def _sizes_help(tables) -> str:
    """The sizes a declaration carries per profile (not options: a profile or a campaign's ``[sizes.<section>]``
    sets them), one line per field: smoke / lab / full."""
    from dataclasses import fields

    lines = []
    for t in tables:
        lines.append(f"\nsizes [{t.section}] per profile, smoke / lab / full (a campaign's [sizes.{t.section}] sets):")
        for f in fields(t.kind):
            lines.append(f"  {f.name:<22} " + " / ".join(str(getattr(getattr(t, p), f.name)) for p in PROFILE_NAMES))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if tasks.wants(argv):  # `stitchkit setup|lab|test|data`: what make does, without make
        return tasks.main(argv)
    parser = build_parser()
    named = len(argv) >= 2 and argv[0] in ("train", "augment") and argv[1] in {**LEARNERS, **STITCHING_METHODS}
    if named and {"-h", "--help"} & set(argv):  # the generic help, then what this learner or method accepts
        try:
            parser.parse_args(argv)
        except SystemExit:
            print("\n" + option_help(argv[0], argv[1]))
            raise
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        args.profile = get_profile(args.profile)
        return args.func(args)
    except (ProfileError, ValueError, FileNotFoundError, KeyError, GLBackendError, FloatingPointError) as err:
        msg = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f"stitchkit: error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
