"""The iminuit backend: MIGRAD, HESSE, MINOS, profiles and ``mncontour`` with exact gradients.

Everything runs on a :class:`~skyfit.fit.problem.FitProblem` in its scaled internal
coordinates; iminuit is fed the compiled gradient (``grad=``). The statistic is the Cash
statistic, ``-2 ln L``, hence ``errordef = 1``. (iminuit 2.33 also accepts a Hessian
callable, but MIGRAD then failed with bounded parameters in our trials; the exact-gradient
Hessian is used by the Newton polish and the Laplace covariance instead.)

MIGRAD's seed needs the second derivatives' diagonal (``G2``). Without a ``g2`` callable
MINUIT differentiates the statistic numerically for it (``2 n`` evaluations and more: 86
of the 104 statistic calls of MIGRAD on the 43-parameter Galactic-centre fit). A fit's
start scales come from that same diagonal (:func:`~skyfit.fit.problem.curvature_scale`,
forward differences of the exact gradient): where it is positive for every parameter
(``FitProblem.seed_curvature``), :func:`make_minuit` hands it to MINUIT as ``g2``, the
start's value standing for the seed's (MINUIT asks for ``g2`` with every gradient; it
uses it for its seed and, where negative, to search along those directions first:
hence only when all are positive). Galactic centre: fit and covariance in 115 instead of
202 evaluations. Elsewhere (MINOS, profiles, contours) MINUIT differentiates as before.
"""

from __future__ import annotations

import numpy as np

from .problem import BackendOutput, FitProblem

__all__ = ["contour", "hesse", "make_minuit", "minimize_fixed", "minos", "optimize"]

ERRORDEF = 1.0


def make_minuit(problem: FitProblem, x0=None, *, names: list[str] | None = None,
                fixed=None, strategy: int = 1, tol: float | None = None,
                print_level: int = 0):
    """A :class:`iminuit.Minuit` on ``problem`` (internal coordinates, limits set).

    Parameters
    ----------
    problem : FitProblem
    x0 : array, optional
        Start in internal coordinates (default 0, the problem's start).
    names : list of str, optional
        Parameter names shown by iminuit (default ``x0, x1, ...``).
    fixed : array of bool, optional
        Parameters held at ``x0``.
    strategy, tol, print_level
        As :class:`iminuit.Minuit`.

    Examples
    --------
    >>> class Gauss:  # a stand-in for Likelihood: stat = sum(((theta - mu) / sigma)**2)
    ...     mu, sigma = np.array([1.0, 2.0]), np.array([0.5, 0.2])
    ...     def value(self, t):
    ...         return float((((t - self.mu) / self.sigma) ** 2).sum())
    ...     def value_and_grad(self, t):
    ...         return self.value(t), 2 * (t - self.mu) / self.sigma**2
    >>> problem = FitProblem(Gauss(), np.zeros(2), np.ones(2), (-np.inf, np.inf))
    >>> m = make_minuit(problem, names=["a", "b"])
    >>> m.errordef, m.parameters
    (1.0, ('a', 'b'))
    >>> m.migrad().values.to_dict()  # doctest: +ELLIPSIS
    {'a': 1.0..., 'b': 2.0...}
    """
    from iminuit import Minuit

    x0 = np.zeros(problem.n) if x0 is None else np.asarray(x0, float)
    seed = problem.seed_curvature
    g2 = None if seed is None else (lambda x: seed)  # the start's (see the module notes)
    m = Minuit(problem.fcn, x0, grad=problem.grad, g2=g2, name=names)
    m.errordef = ERRORDEF
    lo, hi = problem.bounds()
    m.limits = [(float(a), float(b)) for a, b in zip(lo, hi, strict=True)]
    m.errors = np.ones(problem.n)  # internal coordinates: ~1 sigma
    m.strategy = strategy
    m.print_level = print_level
    if tol is not None:
        m.tol = tol
    if fixed is not None:
        for i, f in enumerate(np.asarray(fixed, bool)):
            m.fixed[i] = bool(f)
    return m


def _message(m) -> str:
    fmin = m.fmin
    if fmin is None:
        return "MIGRAD did not run"
    if fmin.is_valid:
        return "Optimization terminated successfully."
    reasons = [text for flag, text in (
        (fmin.has_reached_call_limit, "call limit reached"),
        (fmin.is_above_max_edm, f"EDM {fmin.edm:.3g} above goal {fmin.edm_goal:.3g}"),
        (fmin.hesse_failed, "HESSE failed"),
        (not fmin.has_covariance, "no covariance"),
        (fmin.has_parameters_at_limit, "parameters at limit"),
    ) if flag]
    return "Optimization failed: " + (", ".join(reasons) or "invalid minimum")


def optimize(problem: FitProblem, x0=None, *, names=None, ncall: int | None = None,
             tol: float | None = None, strategy: int = 0, iterate: int = 5,
             simplex: bool = False, print_level: int = 0) -> BackendOutput:
    """MIGRAD (optionally preceded by SIMPLEX) from ``x0``.

    ``ncall``: call limit (iminuit's default when None); ``tol``: EDM goal factor
    (iminuit's default 0.1: EDM < 2e-4); ``strategy``: default 0, since the Newton polish
    and the Laplace covariance replace MIGRAD's own Hessian estimates; ``iterate``: MIGRAD
    calls until valid, each restarted from the last point with the same strategy
    (iminuit's own ``iterate`` switches to strategy 2, whose numerical second derivatives
    cost ~n^2 evaluations: over 10 minutes for the 43-parameter Galactic-centre fit).

    Examples
    --------
    >>> class Gauss:  # a stand-in for Likelihood: stat = sum(((theta - mu) / sigma)**2)
    ...     mu, sigma = np.array([1.0, 2.0]), np.array([0.5, 0.2])
    ...     def value(self, t):
    ...         return float((((t - self.mu) / self.sigma) ** 2).sum())
    ...     def value_and_grad(self, t):
    ...         return self.value(t), 2 * (t - self.mu) / self.sigma**2
    >>> problem = FitProblem(Gauss(), np.zeros(2), np.ones(2), (-np.inf, np.inf))
    >>> out = optimize(problem)
    >>> out.x.round(6).tolist(), out.success, out.method
    ([1.0, 2.0], True, 'migrad')
    """
    m = make_minuit(problem, x0, names=names, strategy=strategy, tol=tol,
                    print_level=print_level)
    if simplex:
        m.simplex(ncall=ncall)
    for _ in range(max(int(iterate), 1)):
        m.migrad(ncall=ncall, iterate=1)
        if m.valid or m.fmin.has_reached_call_limit:
            break
    return BackendOutput(np.array(m.values), float(m.fval), bool(m.valid), _message(m),
                         "migrad", m)


def hesse(problem: FitProblem, x, *, names=None, ncall: int | None = None):
    """MINUIT HESSE at ``x``: ``(covariance in internal coordinates or None, Minuit)``.

    HESSE differentiates the statistic numerically (independent of the Laplace Hessian).

    Examples
    --------
    With ``errordef = 1`` the covariance of this stand-in is ``diag(sigma**2)``:

    >>> class Gauss:  # a stand-in for Likelihood: stat = sum(((theta - mu) / sigma)**2)
    ...     mu, sigma = np.array([1.0, 2.0]), np.array([0.5, 0.2])
    ...     def value(self, t):
    ...         return float((((t - self.mu) / self.sigma) ** 2).sum())
    ...     def value_and_grad(self, t):
    ...         return self.value(t), 2 * (t - self.mu) / self.sigma**2
    >>> problem = FitProblem(Gauss(), np.zeros(2), np.ones(2), (-np.inf, np.inf))
    >>> cov, m = hesse(problem, np.array([1.0, 2.0]))
    >>> np.sqrt(np.diag(cov)).round(6).tolist()
    [0.5, 0.2]
    """
    m = make_minuit(problem, x, names=names)
    m.hesse(ncall=ncall)
    cov = None if m.covariance is None else np.array(m.covariance)
    return cov, m


def _cl(sigma: float, ndof: int) -> float:
    """iminuit's ``cl`` for a rise of the statistic by ``sigma**2`` (classic convention)."""
    if not sigma > 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    from scipy.stats import chi2  # here: scipy.stats takes ~0.5 s to import

    cl = float(chi2.cdf(sigma**2, ndof))
    if ndof == 1 and sigma >= 1:
        return float(sigma)  # iminuit reads cl >= 1 as a number of sigma
    if not cl < 1:
        raise ValueError(f"sigma={sigma} is too large for a {ndof}-parameter contour")
    return cl


def minos(problem: FitProblem, x, index: int, *, sigma: float = 1.0, names=None,
          ncall: int | None = None, strategy: int = 1) -> dict:
    """MINOS interval of parameter ``index`` where the profiled statistic rises by
    ``sigma**2``, from the minimum near ``x``.

    Returns a dict (internal units): ``errp``, ``errn`` (both positive), ``success``,
    ``nfev``, the per-side flags ``upper_valid``, ``lower_valid``, ``at_upper_limit``,
    ``at_lower_limit``, ``upper_max_fcn``, ``lower_max_fcn``, ``new_minimum``, ``fmin``
    (the re-optimised minimum before the scan), a ``message`` and ``minuit``.

    Examples
    --------
    >>> class Gauss:  # a stand-in for Likelihood: stat = sum(((theta - mu) / sigma)**2)
    ...     mu, sigma = np.array([1.0, 2.0]), np.array([0.5, 0.2])
    ...     def value(self, t):
    ...         return float((((t - self.mu) / self.sigma) ** 2).sum())
    ...     def value_and_grad(self, t):
    ...         return self.value(t), 2 * (t - self.mu) / self.sigma**2
    >>> problem = FitProblem(Gauss(), np.zeros(2), np.ones(2), (-np.inf, np.inf))
    >>> interval = minos(problem, np.array([1.0, 2.0]), 1)
    >>> round(interval["errn"], 6), round(interval["errp"], 6), interval["message"]
    (0.2, 0.2, 'MINOS succeeded')
    """
    nfev0 = problem.nfev
    m = make_minuit(problem, x, names=names, strategy=strategy)
    m.migrad(ncall=ncall)
    fmin = float(m.fval)
    m.minos(index, cl=_cl(sigma, 1), ncall=ncall)
    me = m.merrors[m.parameters[index]]
    flags = {
        "upper_valid": bool(me.upper_valid), "lower_valid": bool(me.lower_valid),
        "at_upper_limit": bool(me.at_upper_limit), "at_lower_limit": bool(me.at_lower_limit),
        "upper_max_fcn": bool(me.at_upper_max_fcn), "lower_max_fcn": bool(me.at_lower_max_fcn),
        "new_minimum": bool(me.upper_new_min or me.lower_new_min),
    }
    problems = [k for k in ("at_upper_limit", "at_lower_limit", "upper_max_fcn",
                            "lower_max_fcn", "new_minimum") if flags[k]]
    problems += [k.replace("_valid", " side invalid") for k in ("upper_valid", "lower_valid")
                 if not flags[k]]
    message = "MINOS succeeded" if me.is_valid else "MINOS failed: " + ", ".join(problems)
    if me.is_valid and problems:
        message += " (" + ", ".join(problems) + ")"
    return {"errp": float(me.upper), "errn": float(-me.lower), "success": bool(me.is_valid),
            "nfev": problem.nfev - nfev0, **flags, "fmin": fmin, "message": message,
            "minuit": m}


def minimize_fixed(problem: FitProblem, x, fixed, *, names=None, ncall: int | None = None,
                   strategy: int = 0) -> tuple[np.ndarray, float, bool]:
    """MIGRAD over the parameters not ``fixed`` (held at ``x``): ``(x, fval, valid)``.

    Strategy 0 by default: a profile point needs the minimum, not MIGRAD's error matrix.

    Examples
    --------
    Profile point with the second parameter held at 2.5, 2.5 sigma from its best value:

    >>> class Gauss:  # a stand-in for Likelihood: stat = sum(((theta - mu) / sigma)**2)
    ...     mu, sigma = np.array([1.0, 2.0]), np.array([0.5, 0.2])
    ...     def value(self, t):
    ...         return float((((t - self.mu) / self.sigma) ** 2).sum())
    ...     def value_and_grad(self, t):
    ...         return self.value(t), 2 * (t - self.mu) / self.sigma**2
    >>> problem = FitProblem(Gauss(), np.zeros(2), np.ones(2), (-np.inf, np.inf))
    >>> x, fval, valid = minimize_fixed(problem, np.array([0.0, 2.5]), [False, True])
    >>> x.round(6).tolist(), round(fval, 6), valid
    ([1.0, 2.5], 6.25, True)
    """
    m = make_minuit(problem, x, names=names, fixed=fixed, strategy=strategy)
    m.migrad(ncall=ncall)
    return np.array(m.values), float(m.fval), bool(m.valid)


def contour(problem: FitProblem, x, ix: int, iy: int, *, numpoints: int = 10,
            sigma: float = 1.0, names=None, ncall: int | None = None,
            strategy: int = 1) -> dict:
    """MINOS contour (``mncontour``) of two parameters where the statistic, profiled over
    the others, rises by ``sigma**2``; MINOS errors of both parameters at the same level.

    Returns internal coordinates: ``points`` (numpoints, 2), ``x_info``, ``y_info``
    (:class:`iminuit.util.MError`), ``success``, ``nfev``, ``minuit``.

    Examples
    --------
    The contour where the statistic is ``sigma**2 = 1`` above its minimum:

    >>> class Gauss:  # a stand-in for Likelihood: stat = sum(((theta - mu) / sigma)**2)
    ...     mu, sigma = np.array([1.0, 2.0]), np.array([0.5, 0.2])
    ...     def value(self, t):
    ...         return float((((t - self.mu) / self.sigma) ** 2).sum())
    ...     def value_and_grad(self, t):
    ...         return self.value(t), 2 * (t - self.mu) / self.sigma**2
    >>> problem = FitProblem(Gauss(), np.zeros(2), np.ones(2), (-np.inf, np.inf))
    >>> out = contour(problem, np.array([1.0, 2.0]), 0, 1, numpoints=8)
    >>> out["points"].shape, out["success"]
    ((8, 2), True)
    >>> rise = [problem.fcn(p) for p in out["points"]]
    >>> bool(np.allclose(rise, 1.0, atol=1e-3))
    True
    """
    nfev0 = problem.nfev
    m = make_minuit(problem, x, names=names, strategy=strategy)
    m.migrad(ncall=ncall)
    m.minos(ix, iy, cl=_cl(sigma, 1), ncall=ncall)
    x_info, y_info = m.merrors[m.parameters[ix]], m.merrors[m.parameters[iy]]
    points = np.asarray(m.mncontour(ix, iy, cl=_cl(sigma, 2), size=numpoints,
                                    ncall=ncall or 0), float).reshape(-1, 2)
    if len(points) > 1 and np.array_equal(points[0], points[-1]):
        points = points[:-1]  # iminuit closes the polygon; return numpoints distinct points
    success = bool(m.valid and x_info.is_valid and y_info.is_valid and len(points) > 0
                   and np.all(np.isfinite(points)))
    return {"points": points, "x_info": x_info, "y_info": y_info, "success": success,
            "nfev": problem.nfev - nfev0, "minuit": m}
