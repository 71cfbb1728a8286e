"""Per-process cache of study states: the compiled fit is built once per worker.

A study's :meth:`~skyfit.study.Study.setup` compiles a likelihood (seconds); each task
borrows a state from this cache instead. States are kept per study (the study object is
the key, so it must be hashable) in a small pool: a thread that finds none idle builds
its own, so several threads of one worker never share a fit.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from contextlib import contextmanager

__all__ = ["borrow_state", "clear_states"]

MAX_STUDIES = 2  # studies whose states a process keeps

_lock = threading.Lock()
_pools: OrderedDict = OrderedDict()  # study -> list of idle states


@contextmanager
def borrow_state(study):
    """Yield ``(state, setup_seconds)`` for ``study``; the state is returned to the pool.

    ``setup_seconds`` is the time :meth:`setup` took when the state was built by this
    call, else 0.

    Examples
    --------
    >>> class Counter:
    ...     calls = 0
    ...     def setup(self):
    ...         Counter.calls += 1
    ...         return "state"
    >>> study = Counter()
    >>> for _ in range(3):
    ...     with borrow_state(study) as (state, _):
    ...         pass
    >>> state, Counter.calls
    ('state', 1)
    >>> clear_states()
    """
    with _lock:
        pool = _pools.pop(study, [])
        _pools[study] = pool  # most recently used last
        state = pool.pop() if pool else None
        while len(_pools) > MAX_STUDIES:
            _pools.popitem(last=False)
    setup_s = 0.0
    if state is None:
        t0 = time.perf_counter()
        state = study.setup()
        setup_s = time.perf_counter() - t0
    try:
        yield state, setup_s
    finally:
        with _lock:
            if study in _pools:
                _pools[study].append(state)


def clear_states() -> None:
    """Drop every cached state of this process.

    Examples
    --------
    >>> clear_states()
    """
    with _lock:
        _pools.clear()
