"""Intervals, profiles and contours of :class:`MapFit` (its ``ProfileMethods`` part).

All of them evaluate the one compiled likelihood: slices change entries of the free
parameter vector, re-optimised profiles and MINOS fix parameters inside the optimiser.
The parameter values in the models are never changed by these methods.
"""

from __future__ import annotations

import astropy.units as u
import numpy as np

from . import minuit as minuit_backend
from . import scipy as scipy_backend
from .progress import progress_bar

__all__ = ["ProfileMethods", "walk_profile"]


def walk_profile(grid, x, index: int, minimize_fixed):
    """Re-minimised statistic at each internal ``grid`` value of parameter ``index``.

    Walks outwards from the grid point nearest ``x[index]`` in both directions, each fit
    starting from its neighbour's solution (robust and few iterations per point).
    ``minimize_fixed(x, fixed) -> (x, fval, success)``. Returns ``(stat, success)``.

    Examples
    --------
    >>> def exact(x, fixed):  # stat = (x0 - 1)**2 + (x1 - x0)**2, minimised over x1
    ...     return np.array([x[0], x[0]]), (x[0] - 1.0) ** 2, True
    >>> walk_profile([0.0, 1.0, 2.0], np.zeros(2), 0, exact)[0].tolist()
    [1.0, 0.0, 1.0]
    """
    grid = np.asarray(grid, float)
    x = np.asarray(x, float)
    stat = np.full(grid.size, np.nan)
    ok = np.zeros(grid.size, bool)
    fixed = np.zeros(x.size, bool)
    fixed[index] = True
    order = np.argsort(grid)
    centre = int(np.argmin(np.abs(grid[order] - x[index])))
    for branch in (order[centre:], order[:centre][::-1]):
        current = x.copy()
        for k in branch:
            current[index] = grid[k]
            current, stat[k], ok[k] = minimize_fixed(current, fixed)
            current = np.asarray(current, float).copy()
    return stat, ok


class ProfileMethods:
    """MINOS intervals, likelihood profiles and contours; mixed into :class:`MapFit`.

    Examples
    --------
    The background norm of a tiny simulated dataset: its best value is the ratio of
    observed to expected counts, its error about ``1 / sqrt(counts)``:

    >>> from skyfit.datasets.synthetic import synthetic_dataset
    >>> from skyfit.fit import MapFit
    >>> from skyfit.models import FoVBackgroundModel, Models
    >>> ds = synthetic_dataset(npix=(4, 4), background_rate=1.0, name="toy")
    >>> ds.models = Models([FoVBackgroundModel("toy")])
    >>> ds.fake(random_seed=0)
    >>> fit = MapFit.from_datasets([ds])
    >>> fit.optimize().success
    True
    >>> norm = fit.models.parameter("norm").value
    >>> bool(np.isclose(norm, ds.counts.data.sum() / ds.background.data.sum(), rtol=1e-5))
    True
    >>> interval = fit.confidence("norm")
    >>> interval["success"], round(float(interval["errn"]), 2), round(float(interval["errp"]), 2)
    (True, 0.05, 0.05)
    >>> profile = fit.likelihood_profile("norm", nvalues=3)  # best value +- 2 sigma
    >>> profile["values"].round(3).tolist()
    [0.997, 1.097, 1.197]
    """

    # -- helpers -------------------------------------------------------------------------
    def _at_best(self):
        like = self.likelihood
        theta = like.current_theta()
        return like, self._problem(like, theta)

    def _grid(self, par, values, bounds, nvalues: int) -> np.ndarray:
        if values is not None:
            if isinstance(values, u.Quantity):
                values = values.to_value(par.unit or u.dimensionless_unscaled)
            return np.asarray(values, float).ravel()
        if np.ndim(bounds) == 0:
            error = par.error
            if not (np.isfinite(error) and error > 0):
                cov = self.covariance()
                if not cov.success:
                    raise ValueError(f"no error for {par.name!r} to set the scan range "
                                     f"({cov.message}); pass values= or bounds=(min, max)")
                error = par.error
            lo, hi = par.value - bounds * error, par.value + bounds * error
        else:
            lo, hi = bounds
        return np.linspace(lo, hi, int(nvalues))

    # -- MINOS ---------------------------------------------------------------------------
    def confidence(self, parameter, backend: str = "minuit", sigma: float = 1,
                   **kwargs) -> dict:
        """MINOS confidence interval of one parameter, others re-optimised.

        The interval ends where the profiled statistic rises by ``sigma**2``.

        Parameters
        ----------
        parameter : str or Parameter
            Unique name, qualified name or the object.
        backend : {"minuit"}
        sigma : float
            Number of standard deviations.
        **kwargs
            Passed to the backend (``ncall``: call limit per side; ``strategy``).

        Returns
        -------
        dict
            ``errp``, ``errn`` (positive, in the parameter's unit), ``success``, ``nfev``,
            per-side flags ``upper_valid``, ``lower_valid``, ``at_upper_limit``,
            ``at_lower_limit``, ``upper_max_fcn``, ``lower_max_fcn``, ``new_minimum``,
            a ``message`` and the ``minuit`` object.
        """
        if backend != "minuit":
            raise ValueError(f"confidence supports backend='minuit' (MINOS), got {backend!r}")
        _, i = self._resolve(parameter)
        like, problem = self._at_best()
        start = problem.fcn(np.zeros(problem.n))
        out = minuit_backend.minos(problem, np.zeros(problem.n), i, sigma=sigma,
                                   names=self._free_names(like), **kwargs)
        out["errp"] *= problem.scale[i]
        out["errn"] *= problem.scale[i]
        if out["fmin"] < start - 1e-3:
            out["message"] += (f"; MIGRAD found a lower minimum ({out['fmin']:.4f} < "
                               f"{start:.4f}): run optimize() again")
        return out

    # -- profiles ------------------------------------------------------------------------
    def likelihood_profile(self, parameter, values=None, bounds=2, nvalues: int = 11) -> dict:
        """Statistic along one parameter, all others held at their current values.

        Parameters
        ----------
        parameter : str or Parameter
        values : array or Quantity, optional
            Values to evaluate (in the parameter's unit).
        bounds : float or (float, float)
            A number: scan ``value +- bounds * error`` (the error from the last covariance,
            computed if missing); a pair: scan between those values.
        nvalues : int
            Grid points when ``values`` is not given.

        Returns
        -------
        dict
            ``values`` and ``likelihood`` (total statistic) arrays.
        """
        par, i = self._resolve(parameter)
        grid = self._grid(par, values, bounds, nvalues)
        like = self.likelihood
        theta = like.current_theta()
        stat = np.empty(grid.size)
        for k, value in enumerate(grid):
            theta_k = theta.copy()
            theta_k[i] = value
            stat[k] = like.value(theta_k)
        return {"values": grid, "likelihood": stat}

    def minos_profile(self, parameter, values=None, bounds=2, nvalues: int = 11,
                      backend: str = "minuit", progress: bool | None = None,
                      **kwargs) -> dict:
        """Statistic along one parameter, all other free parameters re-optimised.

        Arguments as :meth:`likelihood_profile`; ``backend`` ``"minuit"`` (MIGRAD,
        ``ncall``, ``strategy``) or ``"scipy"`` (``method``, ``options``) for the
        re-optimisation at each point; ``progress``: a progress bar (default: only on a
        terminal).

        Returns
        -------
        dict
            ``values``, ``likelihood`` and per-point ``success`` arrays.
        """
        par, i = self._resolve(parameter)
        grid = self._grid(par, values, bounds, nvalues)
        like, problem = self._at_best()
        names = self._free_names(like)
        if backend == "minuit":
            def minimize_fixed(x, fixed):
                return minuit_backend.minimize_fixed(problem, x, fixed, names=names, **kwargs)
        elif backend == "scipy":
            def minimize_fixed(x, fixed):
                out = scipy_backend.optimize(problem, x, fixed=fixed, **kwargs)
                return out.x, out.fun, out.success
        else:
            raise ValueError(f"unknown backend {backend!r}; use 'minuit' or 'scipy'")
        x_grid = (grid - problem.start[i]) / problem.scale[i]
        if problem.n == 1:
            stat = np.array([like.value(problem.to_theta([x])) for x in x_grid])
            return {"values": grid, "likelihood": stat, "success": np.ones(grid.size, bool)}
        with progress_bar(grid.size, f"profile {names[i]}", progress) as update:
            def counted(x, fixed):
                out = minimize_fixed(x, fixed)
                update()
                return out

            stat, ok = walk_profile(x_grid, np.zeros(problem.n), i, counted)
        return {"values": grid, "likelihood": stat, "success": ok}

    # -- contours ------------------------------------------------------------------------
    def likelihood_contour(self, x, y, x_values=None, y_values=None, bounds=2,
                           nvalues: int = 11, progress: bool | None = None) -> dict:
        """Statistic on a 2-D grid of two parameters, all others held fixed (a slice).

        ``x_values`` / ``y_values``, ``bounds`` and ``nvalues`` as in
        :meth:`likelihood_profile` (per parameter); ``progress``: a progress bar (default:
        only on a terminal).

        Returns
        -------
        dict
            ``x``, ``y`` (grid values) and ``likelihood`` of shape ``(len(x), len(y))``.
        """
        (px, ix), (py, iy) = self._resolve(x), self._resolve(y)
        if ix == iy:
            raise ValueError("likelihood_contour needs two different parameters")
        gx = self._grid(px, x_values, bounds, nvalues)
        gy = self._grid(py, y_values, bounds, nvalues)
        like = self.likelihood
        theta = like.current_theta()
        stat = np.empty((gx.size, gy.size))
        with progress_bar(gx.size, f"contour {px.name}-{py.name}", progress) as update:
            for a, vx in enumerate(gx):
                for b, vy in enumerate(gy):
                    theta_ab = theta.copy()
                    theta_ab[ix], theta_ab[iy] = vx, vy
                    stat[a, b] = like.value(theta_ab)
                update()
        return {"x": gx, "y": gy, "likelihood": stat}

    def minos_contour(self, x, y, numpoints: int = 10, sigma: float = 1.0, **kwargs) -> dict:
        """MINOS contour (iminuit ``mncontour``): others re-optimised at each point.

        The contour is where the profiled statistic rises by ``sigma**2`` (the classic
        convention: for ``sigma=1`` its projections are the 1-sigma MINOS intervals).
        Very compute-intensive compared to :meth:`likelihood_contour`.

        Returns
        -------
        dict
            ``x``, ``y`` (contour points, parameter units), ``success``, ``x_info`` and
            ``y_info`` (the MINOS intervals of both at the same level: dicts with
            ``errp``, ``errn``, ``success``), ``nfev`` and the ``minuit`` object.
        """
        (_, ix), (_, iy) = self._resolve(x), self._resolve(y)
        if ix == iy:
            raise ValueError("minos_contour needs two different parameters")
        like, problem = self._at_best()
        out = minuit_backend.contour(problem, np.zeros(problem.n), ix, iy,
                                     numpoints=numpoints, sigma=sigma,
                                     names=self._free_names(like), **kwargs)
        pts = out["points"].reshape(-1, 2)
        xs = problem.start[ix] + problem.scale[ix] * pts[:, 0]
        ys = problem.start[iy] + problem.scale[iy] * pts[:, 1]
        info = {}
        for key, i in (("x_info", ix), ("y_info", iy)):
            me = out[key]
            info[key] = {"errp": float(me.upper) * problem.scale[i],
                         "errn": float(-me.lower) * problem.scale[i],
                         "success": bool(me.is_valid)}
        return {"x": xs, "y": ys, "success": out["success"], **info, "nfev": out["nfev"],
                "minuit": out["minuit"]}
