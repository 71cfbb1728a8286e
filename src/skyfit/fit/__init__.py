"""Maximum-likelihood fitting: :class:`MapFit` (the classic ``gammapy.cube.MapFit`` API).

Backends: iminuit (MIGRAD, HESSE, MINOS, ``mncontour``) and scipy (trust-region with the
exact Hessian), both on the compiled PyTensor likelihood. This package imports no
sampler or plotting library.

Examples
--------
>>> from skyfit.fit import MapFit
>>> sorted(m for m in ("confidence", "covariance", "optimize", "run") if hasattr(MapFit, m))
['confidence', 'covariance', 'optimize', 'run']
"""

from .covariance import laplace_covariance
from .mapfit import MapFit
from .problem import FitProblem
from .result import CovarianceResult, FitResult, OptimizeResult, ParameterRow

__all__ = ["CovarianceResult", "FitProblem", "FitResult", "MapFit", "OptimizeResult",
           "ParameterRow", "laplace_covariance"]
