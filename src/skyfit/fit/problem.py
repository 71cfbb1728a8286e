"""The statistic seen by the optimisers: scaled coordinates, bounds, NaN guard, counters.

A :class:`FitProblem` wraps a compiled :class:`~skyfit.forward.Likelihood` and works in
internal coordinates ``x = (theta - start) / scale``, one per free parameter, where
``scale`` is about one standard deviation. Amplitudes of ``1e-12`` and indices of ``2``
then both move by ``O(1)`` per step, which is what MIGRAD's tolerances and the scipy
trust regions assume. All backends, profiles, MINOS and contours call the same compiled
value-and-gradient function through it: fixing a parameter is done by the optimiser, never
by recompiling.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

__all__ = ["BackendOutput", "FitProblem", "auto_scale", "curvature_scale", "newton_polish"]


def auto_scale(likelihood, theta: np.ndarray) -> np.ndarray:
    """Scale per free parameter: ``sqrt(2 / H_ii)``, the 1-sigma width at ``theta``
    (:func:`curvature_scale` without the curvature).

    Examples
    --------
    >>> class Parabola:  # stat = (theta / 0.1)**2, sigma 0.1; flat in the 2nd parameter
    ...     def value_and_grad(self, theta):
    ...         return float(theta[0] ** 2 / 0.01), np.array([2 * theta[0] / 0.01, 0.0])
    >>> auto_scale(Parabola(), np.array([1.0, 5.0])).round(6).tolist()
    [0.1, 5.0]
    """
    return curvature_scale(likelihood, theta)[0]


def curvature_scale(likelihood, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(scale, curvature)`` per free parameter at ``theta``: ``H_ii``, the curvature of
    the Cash statistic (``-2 ln L``), and ``sqrt(2 / H_ii)``, the 1-sigma width.

    ``H_ii`` is from forward differences of the exact gradient (``n + 1`` gradient
    calls; only the diagonal is needed; NaN if the statistic is not finite there). Where
    the curvature is not positive or not finite (a start far from the optimum), the
    scale falls back to ``|value|`` and then to 1.

    Examples
    --------
    >>> class Parabola:  # stat = (theta / 0.1)**2, sigma 0.1; flat in the 2nd parameter
    ...     def value_and_grad(self, theta):
    ...         return float(theta[0] ** 2 / 0.01), np.array([2 * theta[0] / 0.01, 0.0])
    >>> scale, curvature = curvature_scale(Parabola(), np.array([1.0, 5.0]))
    >>> scale.round(6).tolist(), curvature.round(3).tolist()
    ([0.1, 5.0], [200.0, 0.0])
    """
    theta = np.asarray(theta, float)
    fallback = np.where(theta != 0, np.abs(theta), 1.0)
    steps = 1e-5 * fallback
    curvature = np.full(theta.size, np.nan)
    try:
        with np.errstate(all="ignore"):
            grad = np.asarray(likelihood.value_and_grad(theta)[1], float)
            for i in range(theta.size):
                up = theta.copy()
                up[i] += steps[i]
                curvature[i] = (likelihood.value_and_grad(up)[1][i] - grad[i]) / steps[i]
            scale = np.sqrt(2.0 / curvature)
    except (FloatingPointError, ValueError):
        return fallback, np.full(theta.size, np.nan)
    good = np.isfinite(scale) & (scale > 0)
    return np.where(good, scale, fallback), curvature


class FitProblem:
    """Total statistic of a compiled likelihood in scaled internal coordinates.

    Parameters
    ----------
    likelihood : Likelihood
        The compiled statistic of the free parameter vector ``theta``: ``value``,
        ``value_and_grad`` and ``hessian`` are used.
    start : ndarray
        ``theta`` at which ``x = 0``.
    scale : ndarray
        ``theta = start + scale * x``.
    bounds : (lower, upper) arrays, optional
        Bounds on ``theta`` (nan or inf: none); default: the ``min`` / ``max`` of
        ``likelihood.free``.

    Notes
    -----
    A non-finite statistic (NaN / inf, e.g. a negative amplitude making npred negative
    under a logarithm) is replaced by the best finite value seen so far plus a large
    penalty, with a gradient pointing back to the last finite point, and counted in
    :attr:`n_nonfinite`; optimisers then step back instead of stopping on garbage.

    Examples
    --------
    >>> class Quadratic:  # a stand-in for Likelihood: value, value_and_grad (and hessian)
    ...     def value(self, theta):
    ...         return float(((theta - 3.0) ** 2).sum())
    ...     def value_and_grad(self, theta):
    ...         return self.value(theta), 2 * (theta - 3.0)
    >>> problem = FitProblem(Quadratic(), np.array([1.0]), np.array([2.0]), (-np.inf, np.inf))
    >>> problem.fcn(np.array([1.0])), problem.to_theta(np.array([1.0])).tolist()
    (0.0, [3.0])
    >>> problem.nfev
    1
    """

    PENALTY = 1e10

    def __init__(self, likelihood, start: np.ndarray, scale: np.ndarray,
                 bounds: tuple | None = None) -> None:
        self.likelihood = likelihood
        self.start = np.asarray(start, float).copy()
        self.scale = np.asarray(scale, float).copy()
        if bounds is None:
            bounds = ([p.min for p in likelihood.free], [p.max for p in likelihood.free])
        lo, hi = (np.broadcast_to(np.asarray(b, float), self.start.shape) for b in bounds)
        self.lower = np.where(np.isnan(lo), -np.inf, lo)
        self.upper = np.where(np.isnan(hi), np.inf, hi)
        if np.any(~np.isfinite(self.scale)) or np.any(self.scale <= 0):
            raise ValueError(f"scales must be positive and finite, got {self.scale}")
        self.nfev = 0
        self.n_nonfinite = 0
        #: the Hessian's diagonal in internal coordinates at x = 0 where it is known and
        #: positive for every parameter (:func:`curvature_scale`), else None: MIGRAD's
        #: seed (see :func:`skyfit.fit.minuit.make_minuit`)
        self.seed_curvature: np.ndarray | None = None
        self._cache: tuple[bytes, float, np.ndarray] | None = None
        self._value_cache: tuple[bytes, float] | None = None
        self._hessian_cache: tuple[bytes, np.ndarray] | None = None
        self._best: tuple[float, np.ndarray] | None = None

    # -- coordinates ---------------------------------------------------------------------
    @property
    def n(self) -> int:
        return self.start.size

    def to_theta(self, x) -> np.ndarray:
        return self.start + self.scale * np.asarray(x, float)

    def to_internal(self, theta) -> np.ndarray:
        return (np.asarray(theta, float) - self.start) / self.scale

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper bounds in internal coordinates (``-inf`` / ``inf`` if none)."""
        return self.to_internal(self.lower), self.to_internal(self.upper)

    # -- statistic -----------------------------------------------------------------------
    def value_and_grad(self, x) -> tuple[float, np.ndarray]:
        """Statistic and gradient at internal ``x`` (cached for the last point)."""
        x = np.asarray(x, float)
        key = x.tobytes()
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1], self._cache[2]
        self.nfev += 1
        value, grad = self.likelihood.value_and_grad(self.to_theta(x))
        grad = np.asarray(grad, float) * self.scale
        if np.isfinite(value) and np.all(np.isfinite(grad)):
            if self._best is None or value < self._best[0]:
                self._best = (value, x.copy())
        else:
            self.n_nonfinite += 1
            value, grad = self._guard(x)
        self._cache = (key, float(value), grad)
        return float(value), grad

    def _guard(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        if self._best is None:
            return self.PENALTY, np.zeros_like(x)
        best, x_best = self._best
        away = x - x_best
        return best + self.PENALTY * (1.0 + float(away @ away)), 2 * self.PENALTY * away

    def fcn(self, x) -> float:
        """Statistic only (MIGRAD's line searches): the cheaper compiled value function,
        unless the point is cached."""
        x = np.asarray(x, float)
        key = x.tobytes()
        for cached in (self._cache, self._value_cache):
            if cached is not None and cached[0] == key:
                return cached[1]
        self.nfev += 1
        value = float(self.likelihood.value(self.to_theta(x)))
        if not np.isfinite(value):
            self.n_nonfinite += 1
            value = self._guard(x)[0]
        elif self._best is None or value < self._best[0]:
            self._best = (value, x.copy())
        self._value_cache = (key, value)
        return value

    def grad(self, x) -> np.ndarray:
        return self.value_and_grad(x)[1]

    def hessian(self, x) -> np.ndarray:
        """Hessian in internal coordinates (forward differences of the exact gradient);
        the last one is cached (the Newton polish and the covariance share it)."""
        x = np.asarray(x, float)
        key = x.tobytes()
        if self._hessian_cache is None or self._hessian_cache[0] != key:
            self.nfev += self.n + 1
            hess = np.asarray(self.likelihood.hessian(self.to_theta(x)), float)
            self._hessian_cache = (key, hess * np.outer(self.scale, self.scale))
        return self._hessian_cache[1].copy()

    def move_hessian(self, old, new) -> None:
        """Let the Hessian cached at ``old`` stand for the one at ``new`` (a point so close
        that it differs by far less than its accuracy, see :func:`newton_polish`)."""
        old, new = np.asarray(old, float), np.asarray(new, float)
        if self._hessian_cache is not None and self._hessian_cache[0] == old.tobytes():
            self._hessian_cache = (new.tobytes(), self._hessian_cache[1])

    def cached_hessian(self, x) -> np.ndarray | None:
        """The Hessian at ``x`` in the parameters' own units if it was computed last,
        else None (nothing is evaluated)."""
        x = np.asarray(x, float)
        if self._hessian_cache is None or self._hessian_cache[0] != x.tobytes():
            return None
        return self._hessian_cache[1] / np.outer(self.scale, self.scale)

    # -- helpers for the backends -------------------------------------------------------
    def reduced(self, fixed: np.ndarray, x_fixed: np.ndarray):
        """``(fun, hess)`` of the free sub-vector, others held at ``x_fixed`` (for scipy).

        ``fun(y)`` returns ``(value, grad)``; ``hess(y)`` the sub-Hessian.
        """
        fixed = np.asarray(fixed, bool)
        free = ~fixed
        x_fixed = np.asarray(x_fixed, float)

        def full(y):
            x = x_fixed.copy()
            x[free] = y
            return x

        def fun(y):
            value, grad = self.value_and_grad(full(y))
            return value, grad[free]

        def hess(y, *_):
            return self.hessian(full(y))[np.ix_(free, free)]

        return fun, hess


class BackendOutput(NamedTuple):
    """What a backend's minimiser hands back to :class:`MapFit` (internal coordinates).

    Examples
    --------
    >>> out = BackendOutput(np.zeros(2), 1.5, True, "converged", "migrad", None)
    >>> out.fun, out.success, out._fields
    (1.5, True, ('x', 'fun', 'success', 'message', 'method', 'result'))
    """

    x: np.ndarray
    fun: float
    success: bool
    message: str
    method: str
    result: Any


REUSE_RADIUS = 1e-2  # internal units (~sigma): a Hessian computed this close is reused


def newton_polish(problem: FitProblem, x, max_steps: int = 10,
                  max_hessians: int = 3) -> tuple[np.ndarray, int]:
    """Newton steps with the exact-gradient Hessian from a converged point.

    MIGRAD stops once its estimated distance to the minimum (EDM) is below ~1e-4; in a
    curved valley (e.g. a log-parabola with its reference energy far from the data) the
    Hessian, hence the covariance, still changes over that distance. Newton converges
    quadratically from there. A Hessian costs ``n + 1`` gradient calls and a step one, so
    the Hessian is reused for the following steps (simplified Newton: each step shrinks
    the error by the Hessian's relative change since it was computed) and computed again
    only if the steps moved more than ``REUSE_RADIUS`` (0.01, internal units ~ sigma)
    from where it was; over that distance it changes by far less than the errors' own
    accuracy, so it stands for the Hessian at the returned point (cached in ``problem``
    under that point, for the covariance). A step is taken only if the Hessian is
    positive definite, the step stays within bounds and lowers the statistic; the polish
    stops before a step below ``1e-7``. Returns ``(x, steps taken)``.

    Examples
    --------
    >>> class Banana:  # a curved valley: stat = 100 (t1 - t0**2)**2 + (t0 - 1)**2
    ...     def value_and_grad(self, t):
    ...         a, b = t[1] - t[0] ** 2, t[0] - 1
    ...         return 100 * a**2 + b**2, np.array([-400 * t[0] * a + 2 * b, 200 * a])
    ...     def hessian(self, t):
    ...         return np.array([[1200 * t[0]**2 - 400 * t[1] + 2, -400 * t[0]],
    ...                          [-400 * t[0], 200.0]])
    >>> problem = FitProblem(Banana(), np.zeros(2), np.ones(2), (-np.inf, np.inf))
    >>> x, steps = newton_polish(problem, np.array([1.01, 1.02]))
    >>> np.round(x, 8).tolist(), problem.cached_hessian(x) is not None
    ([1.0, 1.0], True)
    """
    x = np.asarray(x, float).copy()
    lo, hi = problem.bounds()
    value, grad = problem.value_and_grad(x)
    steps = 0
    for _ in range(max_hessians):
        anchor = x.copy()
        try:
            chol = np.linalg.cholesky(problem.hessian(x))
        except np.linalg.LinAlgError:
            break
        for _ in range(max_steps):
            step = np.linalg.solve(chol.T, np.linalg.solve(chol, grad))
            if float(np.abs(step).max()) < 1e-7:
                break  # converged
            new = x - step
            if not np.all((new >= lo) & (new <= hi)):
                break
            new_value, new_grad = problem.value_and_grad(new)
            if not new_value < value:
                break
            x, value, grad = new, new_value, new_grad
            steps += 1
        if float(np.abs(x - anchor).max()) <= REUSE_RADIUS:
            problem.move_hessian(anchor, x)
            break
    return x, steps
