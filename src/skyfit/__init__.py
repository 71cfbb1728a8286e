"""skyfit: fit gamma-ray sky models to binned counts cubes with exact gradients (PyTensor).

The fit front end is :class:`skyfit.MapFit` (the classic ``gammapy.cube.MapFit`` API);
subpackages: ``maps``, ``irf``, ``models``, ``datasets``, ``forward``, ``fit``, ``bayes``.
Names exported here are imported on first use, so ``import skyfit`` stays light (no
PyTensor, PyMC or matplotlib).

Examples
--------
>>> import skyfit
>>> skyfit.MapFit.__name__
'MapFit'
"""

from __future__ import annotations

__all__ = ["CovarianceResult", "FitResult", "MapFit", "OptimizeResult"]

__version__ = "0.1.0"


def __getattr__(name: str):
    if name in __all__:
        from . import fit

        return getattr(fit, name)
    raise AttributeError(f"module 'skyfit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
