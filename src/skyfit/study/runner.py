"""Run a study: serially in this process, or chunk by chunk on a Dask cluster.

A *study* (see :class:`Study`) is a small, hashable, picklable description of many
independent fits: ``tasks()`` lists them (replication indices, file indices), ``setup()``
builds what they share (a compiled :class:`~skyfit.fit.MapFit`), ``run(state, task)`` does
one and returns a row. Each row is a pure function of ``(study, task)``: replications are
seeded by their index, and every fit starts from the same values. So the result does not
depend on how tasks are chunked, on which worker they run, or whether Dask re-ran a task
whose worker was lost: the table is the same as :func:`run_serial`'s (floats to their last
bits, which numpy's SIMD reductions may round differently in another process).
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Hashable, Iterable, Sequence
from typing import Any, Protocol, runtime_checkable

from astropy.table import Table

from ..fit.progress import progress_bar
from ._dask import import_distributed, n_workers_of, open_client
from .cache import borrow_state
from .table import rows_to_table

__all__ = ["Study", "run_serial", "run_study"]

MAX_CHUNK = 20  # tasks per Dask task by default: seconds of work, fine load balance


@runtime_checkable
class Study(Protocol):
    """What :func:`run_study` and :func:`run_serial` need from a study.

    Any hashable, picklable object with these three methods works (the built-in ones are
    frozen dataclasses). The object is the key of the per-process cache of ``setup()``
    results, so two equal studies share one compiled fit.

    Examples
    --------
    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class Squares:
    ...     n: int
    ...     def tasks(self):
    ...         return range(self.n)
    ...     def setup(self):
    ...         return 2  # built once per process, e.g. a compiled MapFit
    ...     def run(self, state, task):
    ...         return {"task": task, "value": task**state}
    >>> isinstance(Squares(3), Study)
    True
    >>> run_serial(Squares(3))["value"].tolist()
    [0, 1, 4]
    """

    def tasks(self) -> Iterable[Hashable]:
        """The tasks of the study, in table order."""

    def setup(self) -> Any:
        """State shared by the tasks of one process (built once, cached)."""

    def run(self, state: Any, task: Hashable) -> dict:
        """One task: a row (column name -> scalar)."""


def run_chunk(study, tasks: Sequence) -> tuple[list[dict], dict]:
    """Run ``tasks`` of ``study`` with this process's cached state (the Dask task).

    Returns the rows and timings: ``setup_s`` (building the state; 0 when it was
    cached), ``busy_s`` (wall time of the whole chunk, setup included) and ``cpu_s`` (CPU
    time of this thread over the chunk).

    Examples
    --------
    >>> from skyfit.study import CoverageStudy, SyntheticSource
    >>> study = CoverageStudy(n=2, source=SyntheticSource(npix=(8, 8), background_rate=2.0))
    >>> rows, timing = run_chunk(study, [1])
    >>> rows[0]["replication"], bool(rows[0]["success"]), sorted(timing)
    (1, True, ['busy_s', 'cpu_s', 'setup_s'])
    """
    t0, c0 = time.perf_counter(), time.thread_time()
    with borrow_state(study) as (state, setup_s):
        rows = [study.run(state, task) for task in tasks]
    return rows, {"setup_s": setup_s, "busy_s": time.perf_counter() - t0,
                  "cpu_s": time.thread_time() - c0}


def _meta(study, n: int, wall: float, timings: list[dict], **extra) -> dict:
    setup = [t["setup_s"] for t in timings]
    return {"study": repr(study), "n_tasks": n, "wall_s": wall, "setup_s": sum(setup),
            "n_setups": sum(s > 0 for s in setup),
            "busy_s": sum(t["busy_s"] for t in timings),
            "cpu_s": sum(t["cpu_s"] for t in timings), **extra}


def run_serial(study, tasks: Iterable | None = None, *, progress: bool | None = None) -> Table:
    """Run ``study`` in this process, one task after the other; no Dask needed.

    Parameters
    ----------
    study : Study
    tasks : iterable, optional
        A subset of ``study.tasks()`` (default: all).
    progress : bool, optional
        Progress bar: None shows it on a terminal only.

    Returns
    -------
    astropy.table.Table
        One row per task, in task order; ``meta`` holds ``n_tasks``, ``wall_s``,
        ``setup_s`` (compilation included), ``n_setups``, ``busy_s`` and ``cpu_s`` (see
        :func:`run_chunk`).

    Examples
    --------
    >>> from skyfit.study import CoverageStudy, SyntheticSource
    >>> source = SyntheticSource(npix=(8, 8), background_rate=2.0)
    >>> table = run_serial(CoverageStudy(n=3, source=source))
    >>> table["replication"].tolist(), table.meta["n_tasks"]
    ([0, 1, 2], 3)
    """
    tasks = list(study.tasks() if tasks is None else tasks)
    rows, timings = [], []
    t0 = time.perf_counter()
    with progress_bar(len(tasks), type(study).__name__, show=progress) as update:
        for task in tasks:
            chunk_rows, timing = run_chunk(study, [task])
            rows += chunk_rows
            timings.append(timing)
            update()
    return rows_to_table(rows, _meta(study, len(tasks), time.perf_counter() - t0, timings,
                                     n_workers=0))


def default_chunk(n_tasks: int, n_workers: int) -> int:
    """Tasks per Dask task: about 8 chunks per worker, at most :data:`MAX_CHUNK` tasks each.

    Small chunks balance the load and lose little when a worker dies; the per-chunk cost
    is small because the compiled fit is cached per worker, not rebuilt per chunk.

    Examples
    --------
    >>> default_chunk(1000, 2), default_chunk(10, 2), default_chunk(0, 4)
    (20, 1, 1)
    """
    return max(1, min(MAX_CHUNK, math.ceil(n_tasks / (8 * max(1, n_workers)))))


def run_study(study, tasks: Iterable | None = None, *, client=None, address: str | None = None,
              n_workers: int | None = None, chunk: int | None = None, retries: int = 2,
              progress: bool | None = None, cluster_options: dict | None = None) -> Table:
    """Run ``study`` on a Dask cluster and gather the rows into one table.

    Chunks of tasks are submitted as Dask tasks; each worker process builds the study's
    state (its compiled fit) once and reuses it for every chunk it runs. A worker lost
    mid-study has its chunks re-run by Dask elsewhere (up to the scheduler's
    ``distributed.scheduler.allowed-failures`` times, default 3); a chunk that raises is
    retried ``retries`` times. The rows do not depend on either (see the module notes).

    Parameters
    ----------
    study : Study
    tasks : iterable, optional
        A subset of ``study.tasks()`` (default: all).
    client : distributed.Client, optional
        Run on this client's cluster (left open).
    address : str, optional
        Connect to the scheduler at this address (``"tcp://host:8786"``).
    n_workers : int, optional
        Without ``client`` or ``address``: start a local cluster of this many
        single-threaded worker processes (default: one per usable core), closed at the end.
    chunk : int, optional
        Tasks per Dask task (default :func:`default_chunk`).
    retries : int
        Re-runs of a chunk that raised before the study fails.
    progress : bool, optional
        Progress bar over completed chunks: None shows it on a terminal only.
    cluster_options : dict, optional
        More keyword arguments of ``distributed.LocalCluster``.

    Returns
    -------
    astropy.table.Table
        One row per task, in task order (as :func:`run_serial`); ``meta`` holds
        ``wall_s`` (submission to the last row, cluster start excluded), ``n_workers``,
        ``n_chunks`` and, summed over chunks, ``setup_s``, ``n_setups``, ``busy_s`` and
        ``cpu_s`` (``cpu_s / wall_s``: the cores the study actually got).

    Raises
    ------
    ImportError
        When dask.distributed is not installed (``pip install skyfit[scale]``).

    Examples
    --------
    >>> from distributed import Client
    >>> from skyfit.study import CoverageStudy, SyntheticSource
    >>> study = CoverageStudy(n=4, source=SyntheticSource(npix=(8, 8), background_rate=2.0))
    >>> with Client(processes=False, n_workers=1, threads_per_worker=1,
    ...             dashboard_address=":0") as client:
    ...     table = run_study(study, client=client, chunk=2)
    >>> len(table), table.meta["n_chunks"]
    (4, 2)
    """
    distributed = import_distributed()
    tasks = list(study.tasks() if tasks is None else tasks)
    with open_client(client, address, n_workers, cluster_options) as client:
        workers = n_workers_of(client)
        size = chunk or default_chunk(len(tasks), workers)
        if size < 1:
            raise ValueError(f"chunk must be >= 1, got {chunk}")
        chunks = [tasks[i:i + size] for i in range(0, len(tasks), size)]
        prefix = f"{type(study).__name__.lower()}-{uuid.uuid4().hex[:8]}"
        t0 = time.perf_counter()
        futures = [client.submit(run_chunk, study, part, key=f"{prefix}-{i}",
                                 retries=retries, pure=False)
                   for i, part in enumerate(chunks)]
        index = {f.key: i for i, f in enumerate(futures)}
        results: list = [None] * len(chunks)
        try:
            with progress_bar(len(tasks), type(study).__name__, show=progress) as update:
                for future, out in distributed.as_completed(futures, with_results=True):
                    i = index[future.key]
                    results[i] = out
                    update(len(chunks[i]))
        finally:
            client.cancel([f for f in futures if not f.done()])
        wall = time.perf_counter() - t0
    rows = [row for part_rows, _ in results for row in part_rows]
    return rows_to_table(rows, _meta(study, len(tasks), wall, [t for _, t in results],
                                     n_workers=workers, n_chunks=len(chunks)))
