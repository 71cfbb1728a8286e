"""Dask access for :mod:`skyfit.study`: the optional import and the client to run on.

Dask is an optional dependency (``pip install skyfit[scale]``); it is imported here, only
when a study is run on a cluster, never by ``import skyfit`` or ``import skyfit.fit``.
"""

from __future__ import annotations

import os
from contextlib import contextmanager

INSTALL_HINT = "pip install skyfit[scale]"


def import_distributed():
    """The ``distributed`` module, or an ImportError that says how to install it.

    Examples
    --------
    >>> import_distributed().__name__
    'distributed'
    """
    try:
        import distributed
    except ImportError as exc:
        raise ImportError("running a study on a Dask cluster needs dask.distributed: "
                          f"{INSTALL_HINT} (or run it serially with "
                          "skyfit.study.run_serial)") from exc
    return distributed


def default_workers() -> int:
    """Worker processes of a default local cluster: one per usable core."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


@contextmanager
def open_client(client=None, address: str | None = None, n_workers: int | None = None,
                cluster_options: dict | None = None):
    """Yield a ``distributed.Client``: ``client`` as given, else one connected to
    ``address``, else a new local cluster of ``n_workers`` single-threaded processes.

    A client or cluster made here is closed on exit; a given ``client`` is left open.
    """
    if (client is not None or address is not None) and cluster_options:
        raise ValueError("cluster_options apply to a new local cluster, not to a given "
                         "client or scheduler address")
    if client is not None:
        if address is not None or n_workers is not None:
            raise ValueError("give a client, or an address / n_workers, not both")
        yield client
        return
    distributed = import_distributed()
    if address is not None:
        if n_workers is not None:
            raise ValueError("n_workers applies to a local cluster; with address= the "
                             "scheduler's workers are used")
        with distributed.Client(address) as client:
            yield client
        return
    options = {"n_workers": n_workers or default_workers(), "threads_per_worker": 1,
               "processes": True, "dashboard_address": ":0"}
    options.update(cluster_options or {})
    with distributed.LocalCluster(**options) as cluster, distributed.Client(cluster) as client:
        yield client


def n_workers_of(client) -> int:
    """Number of workers the scheduler knows (at least 1)."""
    return max(1, len(client.scheduler_info().get("workers", {})))
