"""The scipy backend: second-order minimisation with the exact gradient and its Hessian.

Default ``trust-constr``: a trust-region Newton method that takes the Hessian (central
differences of the compiled gradient) and respects bounds. Other
:func:`scipy.optimize.minimize` methods can be chosen; those without bound support are
refused when a free parameter has a bound.
"""

from __future__ import annotations

import warnings

import numpy as np

from .problem import BackendOutput, FitProblem

__all__ = ["HESSIAN_METHODS", "optimize"]

HESSIAN_METHODS = ("trust-constr", "trust-exact", "trust-krylov", "trust-ncg", "newton-cg",
                   "dogleg")
BOUNDED_METHODS = ("trust-constr", "l-bfgs-b", "tnc", "slsqp", "powell", "nelder-mead",
                   "cobyqa")


def optimize(problem: FitProblem, x0=None, *, method: str = "trust-constr", fixed=None,
             options: dict | None = None, **kwargs) -> BackendOutput:
    """Minimise ``problem`` with :func:`scipy.optimize.minimize` from internal ``x0``.

    Parameters
    ----------
    problem : FitProblem
    x0 : array, optional
        Start in internal coordinates (default 0).
    method : str
        A :func:`scipy.optimize.minimize` method (default ``"trust-constr"``).
    fixed : array of bool, optional
        Parameters held at ``x0`` (the minimisation runs over the others).
    options : dict, optional
        Passed to scipy; defaults for ``trust-constr``: ``gtol=1e-6, xtol=1e-10,
        maxiter=1000``.
    **kwargs
        Other :func:`scipy.optimize.minimize` arguments (``tol``, ``callback``).

    Returns
    -------
    BackendOutput
        With scipy's :class:`~scipy.optimize.OptimizeResult` as ``result``.

    Examples
    --------
    >>> class Gauss:  # a stand-in for Likelihood: stat = sum(((theta - mu) / sigma)**2)
    ...     mu, sigma = np.array([1.0, 2.0]), np.array([0.5, 0.2])
    ...     def value(self, t):
    ...         return float((((t - self.mu) / self.sigma) ** 2).sum())
    ...     def value_and_grad(self, t):
    ...         return self.value(t), 2 * (t - self.mu) / self.sigma**2
    ...     def hessian(self, t):
    ...         return np.diag(2 / self.sigma**2)
    >>> problem = FitProblem(Gauss(), np.zeros(2), np.ones(2), (-np.inf, np.inf))
    >>> out = optimize(problem)
    >>> out.x.round(6).tolist(), out.success, out.method
    ([1.0, 2.0], True, 'trust-constr')
    >>> optimize(problem, fixed=[False, True]).x.round(6).tolist()  # 2nd held at 0
    [1.0, 0.0]
    """
    from scipy.optimize import Bounds, minimize

    x0 = np.zeros(problem.n) if x0 is None else np.asarray(x0, float)
    fixed = np.zeros(problem.n, bool) if fixed is None else np.asarray(fixed, bool)
    fun, hess = problem.reduced(fixed, x0)
    lo, hi = (b[~fixed] for b in problem.bounds())
    bounded = bool(np.any(np.isfinite(lo)) or np.any(np.isfinite(hi)))
    name = method.lower()
    if bounded and name not in BOUNDED_METHODS:
        raise ValueError(f"scipy method {method!r} does not support bounds, and free "
                         f"parameters have bounds; use one of {BOUNDED_METHODS}")
    if name == "trust-constr":
        options = {"gtol": 1e-6, "xtol": 1e-10, "maxiter": 1000, **(options or {})}
    y0 = np.clip(x0[~fixed], lo, hi)
    extra = {"hess": hess} if name in HESSIAN_METHODS else {}
    if bounded:
        extra["bounds"] = Bounds(lo, hi, keep_feasible=True)
    with warnings.catch_warnings():
        # trust-constr warns when a barrier subproblem is solved with a singular Jacobian
        warnings.filterwarnings("ignore", message="delta_grad == 0.0", category=UserWarning)
        res = minimize(fun, y0, jac=True, method=method, options=options, **extra, **kwargs)
    x = x0.copy()
    x[~fixed] = res.x
    return BackendOutput(x, float(res.fun), bool(res.success), str(res.message), name, res)
