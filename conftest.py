"""pytest set-up for the whole run: the tests in ``tests/`` and the doctests in ``src/skyfit``.

The doctests (``--doctest-modules``) run the ``Examples`` sections of the docstrings; like
the tests they compile small graphs, which PyTensor's Python VM does in a fraction of the
time of the C backend.
"""

from __future__ import annotations

import importlib.util
import os

os.environ.setdefault("SKYFIT_PYTENSOR_MODE", "FAST_COMPILE")
os.environ.setdefault("MPLBACKEND", "Agg")

# Modules that import an optional dependency when imported: their doctests are collected
# only where it is installed (the tests prove the rest of the package works without it).
_OPTIONAL_IMPORTS = {"src/skyfit/forward/jax_ops.py": "jax"}

collect_ignore = [path for path, dep in _OPTIONAL_IMPORTS.items()
                  if importlib.util.find_spec(dep) is None]
