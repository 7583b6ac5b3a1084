"""The cell runner: jobs run on this process, on local worker processes or as Ray tasks; results come back to the
driver, which alone writes records.

Why one runner: the benchmark (``stitchkit bench``) and the campaign (``stitchkit campaign``) both run a grid of
cells, resumably, one record per cell. They differ in what a job is (a seed-batched group; a single-seed run or
a dataset build) and in their policy (the campaign's time budget and git commits), not in how a job reaches a core.
So both hand their jobs to :func:`drive` through one :class:`Executor`:

* ``InProcess``: the job runs here, one at a time (a notebook, a one-core run, tests that patch the process);
* ``LocalProcesses``: a pool of spawned worker processes, one torch thread each, so ``workers`` jobs fill
  ``workers`` cores without oversubscribing them;
* ``RayTasks``: each job is a Ray task asking ``cpus_per_task`` CPUs and ``gpus_per_task`` GPUs, on a local
  instance or the cluster at ``address``. A worker node that dies mid-job (killed, preempted, out of memory) has its
  task rerun by Ray (``retries`` times); since workers only return results, a rerun can never leave a half-written
  or doubled record.

**One record format, one resumption rule.** A cell's record is a JSON file ``{cell, spec, result, provenance,
checksum}``: ``spec`` is everything besides code and machine that the result depends on, ``provenance`` says where,
when and how it ran (never compared), and ``checksum`` covers cell, spec and result. A record is *current* when its
checksum holds and its spec equals what the caller asks for now (:func:`read_record`); a cell without a current
record is pending. Records are written by the driver only, atomically (:func:`write_record`).

A job's function must be a module-level function (it is pickled to the worker); its result is whatever that
function returns. ``snapshot`` (:func:`stitchkit.campaign.running.snapshot_code`): the workers import that copy of
the package first, so the checkout can be edited while a long run goes on.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

EXECUTORS = ("local", "ray")
#: environment variables a Ray worker inherits from the driver: where the data is, the profile, thread counts
FORWARDED_ENV = ("STITCHKIT_", "MINARI_", "MUJOCO_GL", "OMP_", "MKL_")


class RunnerError(ValueError):
    """A bad executor setting; the message names what was wrong and what is accepted."""


@dataclass(frozen=True)
class Job:
    """One unit of work: ``fn(*args)`` somewhere; ``key`` is how the driver knows it when it comes back."""

    key: Any
    fn: Callable[..., Any]
    args: tuple = ()
    label: str = field(default="", compare=False)  # what a Ray worker's process title shows: ray::<label>


def checksum(body: dict[str, Any]) -> str:
    """The checksum of a record's ``{cell, spec, result}``: a truncated or edited record fails it."""
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def make_record(cell: dict[str, Any], spec: dict[str, Any], result: dict[str, Any], provenance: dict[str, Any]) -> dict:
    """A record: the cell, its spec and result under a checksum, and where it ran beside them."""
    body = {"cell": cell, "spec": spec, "result": result}
    return {**body, "provenance": provenance, "checksum": checksum(body)}


def read_record(path: Path, spec: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """The record at ``path`` if its checksum holds (and, given ``spec``, it was made under that spec), else None:
    missing, unreadable, truncated, edited or stale records all mean "run this cell"."""
    try:
        rec = json.loads(path.read_text())
        ok = rec["checksum"] == checksum({k: rec[k] for k in ("cell", "spec", "result")})
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return rec if ok and (spec is None or rec["spec"] == spec) else None


def write_record(path: Path, rec: dict[str, Any], indent: int | None = 1) -> Path:
    """Write a record atomically (a temporary file renamed into place): a kill leaves the old one or none."""
    from stitchkit.files import atomic_write_text

    atomic_write_text(path, json.dumps(rec, indent=indent, sort_keys=True) + "\n")
    return path


def one_thread(fn: Callable[..., Any], *args: Any) -> Any:
    """A worker's call: one torch thread, so that N workers fill N cores (torch would start one thread per core in
    each of them), and no progress bars (the driver's log says what started and finished)."""
    import torch

    from stitchkit.progress import quiet

    torch.set_num_threads(1)
    with quiet():
        return fn(*args)


def snapshot_setup(snapshot: Path) -> str:
    """What a spawned worker runs first (``exec``, before it imports any of the kit): the snapshot first on its
    path, the checkout as its project root and data folder."""
    from stitchkit.paths import data_dir, project_root

    return (
        "import os, sys\n"
        f"sys.path.insert(0, {str(snapshot)!r})\n"
        f"os.environ['STITCHKIT_ROOT'] = {str(project_root())!r}\n"
        f"os.environ['STITCHKIT_DATA'] = {str(data_dir())!r}\n"
    )


class Executor:
    """Where jobs run. ``slots``: how many run at once; :meth:`wait` returns at least one finished job as
    ``(job, result, error)`` (``error`` None when it succeeded)."""

    name = "executor"
    slots = 1

    def submit(self, job: Job) -> None:
        raise NotImplementedError

    def wait(self) -> list[tuple[Job, Any, BaseException | None]]:
        raise NotImplementedError

    def close(self) -> None:
        """Release the workers (an interrupted run's unfinished jobs are dropped: their cells stay pending)."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class InProcess(Executor):
    """Jobs run in this process when waited for, one at a time, with this process's torch threads."""

    name = "local"

    def __init__(self) -> None:
        self._queue: list[Job] = []

    def submit(self, job: Job) -> None:
        self._queue.append(job)

    def wait(self) -> list[tuple[Job, Any, BaseException | None]]:
        job = self._queue.pop(0)
        try:
            return [(job, job.fn(*job.args), None)]
        except Exception as err:  # the caller decides: record the failure and go on, or raise
            return [(job, None, err)]


class LocalProcesses(Executor):
    """``workers`` spawned processes (spawn, not fork: torch and MuJoCo state must not be copied mid-use)."""

    name = "local"

    def __init__(self, workers: int, snapshot: Path | None = None) -> None:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        if workers < 1:
            raise RunnerError(f"workers must be >= 1, got {workers}")
        setup = {"initializer": exec, "initargs": (snapshot_setup(snapshot),)} if snapshot else {}
        self.slots = workers
        self._pool = ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"), **setup)
        self._futures: dict[Any, Job] = {}

    def submit(self, job: Job) -> None:
        self._futures[self._pool.submit(one_thread, job.fn, *job.args)] = job

    def wait(self) -> list[tuple[Job, Any, BaseException | None]]:
        from concurrent.futures import FIRST_COMPLETED
        from concurrent.futures import wait as wait_futures

        done, _ = wait_futures(list(self._futures), return_when=FIRST_COMPLETED)
        out = []
        for fut in done:
            job = self._futures.pop(fut)
            err = fut.exception()
            out.append((job, None if err else fut.result(), err))
        return out

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class RayTasks(Executor):
    """Each job a Ray task. With ``address``, the cluster there (every node needs the kit installed and the data
    folder at the same path, e.g. a shared ``STITCHKIT_DATA``); without, a Ray instance started on this machine and
    stopped at :meth:`close`. ``workers``: jobs in flight at once (default: the cluster's CPUs over
    ``cpus_per_task``)."""

    name = "ray"

    def __init__(
        self,
        address: str | None = None,
        workers: int | None = None,
        cpus_per_task: float = 1.0,
        gpus_per_task: float = 0.0,
        retries: int = 3,
        snapshot: Path | None = None,
    ) -> None:
        try:
            import ray
        except ImportError as err:
            raise RunnerError(
                "the ray executor needs Ray: pip install 'stitchkit[scale]' (or pip install ray)"
            ) from err
        from stitchkit.paths import data_dir, project_root

        if cpus_per_task <= 0 or gpus_per_task < 0:
            raise RunnerError(f"cpus_per_task must be > 0 and gpus_per_task >= 0: got {cpus_per_task}, {gpus_per_task}")
        env = {k: v for k, v in os.environ.items() if k.startswith(FORWARDED_ENV)}
        env.setdefault("STITCHKIT_DATA", str(data_dir()))
        if snapshot is not None:  # the workers import the snapshot, and read and write the checkout's folders
            env.update(PYTHONPATH=str(snapshot), STITCHKIT_ROOT=str(project_root()))
        self._ray = ray
        self._started_here = not ray.is_initialized()
        if self._started_here:
            kw = (
                {"address": address}
                if address
                # "local": a new instance even where a cluster runs on this machine (ray.init() would join it)
                else {
                    "address": "local",
                    "num_cpus": os.cpu_count() or 1,
                    "include_dashboard": False,
                    "_node_ip_address": "127.0.0.1",
                }
            )
            ray.init(runtime_env={"env_vars": env}, log_to_driver=False, **kw)
        cpus = ray.cluster_resources().get("CPU", 1.0)
        self.slots = workers or max(1, int(cpus // cpus_per_task))
        # a task whose worker dies is rerun (``max_retries``); one that raises is not: the error is the answer
        self._task = ray.remote(one_thread)
        self._options = dict(
            num_cpus=cpus_per_task, num_gpus=gpus_per_task, max_retries=retries, retry_exceptions=False
        )
        self._refs: dict[Any, Job] = {}

    def submit(self, job: Job) -> None:
        name = {"name": job.label} if job.label else {}  # a busy worker's process title: ray::<label>
        self._refs[self._task.options(**self._options, **name).remote(job.fn, *job.args)] = job

    def wait(self) -> list[tuple[Job, Any, BaseException | None]]:
        done, _ = self._ray.wait(list(self._refs), num_returns=1)
        out = []
        for ref in done:
            job = self._refs.pop(ref)
            try:
                out.append((job, self._ray.get(ref), None))
            except Exception as err:  # the job's own error (Ray re-raises it as its cause's type), or a lost worker
                out.append((job, None, err))
        return out

    def close(self) -> None:
        for ref in self._refs:
            self._ray.cancel(ref, force=True)
        self._refs.clear()
        if self._started_here:
            self._ray.shutdown()


def executor(
    kind: str = "local",
    workers: int = 1,
    address: str | None = None,
    cpus_per_task: float = 1.0,
    gpus_per_task: float = 0.0,
    snapshot: Path | None = None,
    in_process: bool = False,
) -> Executor:
    """The executor ``kind`` names (``local`` or ``ray``). ``local`` with one worker and ``in_process`` runs here
    (what ``stitchkit bench`` does by default); with ``ray``, ``workers`` caps the jobs in flight (0: the cluster's
    CPUs decide)."""
    if kind not in EXECUTORS:
        raise RunnerError(f"unknown executor {kind!r}; accepted: {', '.join(EXECUTORS)}")
    if kind == "ray":
        return RayTasks(address, workers or None, cpus_per_task, gpus_per_task, snapshot=snapshot)
    if address is not None or gpus_per_task:
        raise RunnerError("--address and --gpus-per-task are the ray executor's; add --executor ray")
    if in_process and workers == 1 and snapshot is None:
        return InProcess()
    return LocalProcesses(workers, snapshot)


def drive(
    ex: Executor,
    next_job: Callable[[], Job | None],
    on_done: Callable[[Job, Any], None],
    on_failed: Callable[[Job, BaseException], None] | None = None,
) -> int:
    """Keep ``ex``'s slots busy with ``next_job()`` (None: nothing more to start now) and hand each finished job to
    ``on_done`` (here, in the driver: the only place records are written) or ``on_failed`` (default: raise).
    Returns the number of jobs finished. The caller's ``next_job`` is its scheduling policy: order, budget,
    which jobs wait for which."""
    in_flight = finished = 0
    while True:
        while in_flight < ex.slots and (job := next_job()) is not None:
            ex.submit(job)
            in_flight += 1
        if not in_flight:
            return finished
        for job, result, err in ex.wait():
            in_flight -= 1
            finished += 1
            if err is None:
                on_done(job, result)
            elif on_failed is None:
                raise err
            else:
                on_failed(job, err)
