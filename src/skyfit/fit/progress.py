"""Progress bars for long fitting loops: shown on a terminal, silent otherwise or on request."""

from __future__ import annotations

import sys
from contextlib import contextmanager

__all__ = ["progress_bar"]


@contextmanager
def progress_bar(total: int, desc: str, show: bool | None = None):
    """Yield an ``update(n=1)`` callable backed by a tqdm bar.

    ``show=None`` shows the bar only when standard error is a terminal (not in logs, tests
    or notebooks' captured output); ``True`` / ``False`` force it on / off.

    Examples
    --------
    >>> with progress_bar(3, "demo", show=False) as update:
    ...     for _ in range(3):
    ...         update()
    """
    if show is None:
        show = bool(getattr(sys.stderr, "isatty", lambda: False)())
    if not show:
        yield lambda n=1: None
        return
    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc=desc, leave=False)
    try:
        yield bar.update
    finally:
        bar.close()
