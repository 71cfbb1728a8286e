"""``MapFit``: maximum-likelihood (MAP with priors) fits of sky models to counts cubes.

The classic ``gammapy.cube.MapFit`` API on a compiled PyTensor likelihood: exact
gradients for MIGRAD and scipy, the Laplace covariance from the exact-gradient Hessian,
MINOS intervals, profiles and contours. The likelihood is compiled once per model
structure (which parameters are free, and the values of frozen ones) and reused by
every method; fixing a parameter for a profile happens in the optimiser.
"""

from __future__ import annotations

import time
from collections import OrderedDict

import numpy as np

from . import minuit as minuit_backend
from . import scipy as scipy_backend
from .covariance import laplace_covariance
from .problem import FitProblem, auto_scale, curvature_scale, newton_polish
from .profile import ProfileMethods
from .result import CovarianceResult, FitResult, OptimizeResult, ParameterRow

__all__ = ["MapFit"]

BACKENDS = ("minuit", "scipy")
MAX_CACHED = 4  # compiled likelihoods kept (one per model structure)


class MapFit(ProfileMethods):
    """Fit a sky model to a counts cube (or several, jointly) by minimising Cash.

    Parameters
    ----------
    model : SkyModel, list of SkyModel, or Models
        Fit model.
    counts, exposure, background : Map
        Counts cube, exposure cube (``energy_true`` axis), background cube.
    mask : Map, optional
        Fit mask: bins with 1/True are fitted.
    psf : PSFKernel or PSF map, optional
    edisp : EDispKernelMap or (n_true, n_reco) array, optional
    background_model : FoVBackgroundModel, optional
        Scales ``background`` (to fit it); without it the background is fixed.
    name : str, optional
        Dataset name (default: the background model's dataset, else ``"dataset"``).
    mode : str, optional
        PyTensor compilation mode (see :class:`~skyfit.forward.Likelihood`).
    priors : bool
        Include parameter priors in the statistic (MAP fit).

    See Also
    --------
    MapFit.from_datasets : joint fits of several datasets sharing one ``Models``.

    Notes
    -----
    The statistic is Cash, ``-2 ln L`` (plus ``-2 ln prior``): ``errordef = 1``,
    covariance ``2 H^-1``. Parameters are named by unique short name (``"alpha"``),
    qualified name (``"Crab Nebula.alpha"``) or the :class:`Parameter` object.
    Optimisers work in scaled coordinates ``(value - start) / scale`` with ``scale``
    about one sigma, so amplitudes of 1e-12 converge like indices of 2.

    Examples
    --------
    >>> from skyfit.datasets.synthetic import synthetic_dataset
    >>> from skyfit.models import FoVBackgroundModel, Models, SkyModel
    >>> from skyfit.models.spatial import PointSpatialModel
    >>> from skyfit.models.spectral import PowerLawSpectralModel
    >>> ds = synthetic_dataset(npix=(10, 10), binsz=0.05, background_rate=1.0, name="toy")
    >>> src = SkyModel(PointSpatialModel(lon_0=0, lat_0=0, frame="galactic"),
    ...                PowerLawSpectralModel(amplitude=1e-12, index=2.5), name="src")
    >>> src.spatial_model.parameters["lon_0"].frozen = True
    >>> src.spatial_model.parameters["lat_0"].frozen = True
    >>> ds.models = Models([src, FoVBackgroundModel("toy")])
    >>> ds.fake(random_seed=0)
    >>> fit = MapFit(src, ds.counts, ds.exposure, ds.background, psf=ds.psf,
    ...              edisp=ds.edisp.kernel_at(None, ds.exposure.geom.axes[0],
    ...                                       ds.counts.geom.axes[0]),
    ...              background_model=FoVBackgroundModel("toy"))
    >>> result = fit.run()
    >>> result.success, abs(fit.models.parameter("index").value - 2.5) < 0.1
    (True, True)
    >>> sorted(result.errors)
    ['src.amplitude', 'src.index', 'toy-bkg.norm']
    """

    def __init__(self, model, counts, exposure, background=None, mask=None, psf=None,
                 edisp=None, background_model=None, *, name: str | None = None,
                 mode: str | None = None, priors: bool = True) -> None:
        from ._classic import dataset_from_maps

        dataset, models = dataset_from_maps(model, counts, exposure, background, mask, psf,
                                            edisp, background_model, name)
        self._setup([dataset], models, mode, priors)

    @classmethod
    def from_datasets(cls, datasets, models=None, *, mode: str | None = None,
                      priors: bool = True) -> MapFit:
        """Joint fit of ``datasets`` sharing ``models`` (default: the first dataset's).

        Components apply to the datasets in their ``datasets_names`` (all when None); the
        models are assigned to every dataset (``dataset.models``).

        Examples
        --------
        >>> from skyfit.datasets.synthetic import synthetic_dataset
        >>> from skyfit.models import FoVBackgroundModel, Models
        >>> a, b = synthetic_dataset(npix=(8, 8), name="a"), synthetic_dataset(npix=(8, 8),
        ...                                                                    name="b")
        >>> fit = MapFit.from_datasets([a, b], Models([FoVBackgroundModel("a"),
        ...                                              FoVBackgroundModel("b")]))
        >>> [p.name for p in fit.likelihood.free]
        ['norm', 'norm']
        """
        from ..models import Models

        datasets = list(datasets)
        if not datasets:
            raise ValueError("from_datasets needs at least one dataset")
        if models is None:
            models = datasets[0].models
            if models is None:
                raise ValueError("no models given and the first dataset has none")
        if not isinstance(models, Models):
            models = Models(list(models) if isinstance(models, list | tuple) else [models])
        self = cls.__new__(cls)
        self._setup(datasets, models, mode, priors)
        return self

    def _setup(self, datasets, models, mode, priors) -> None:
        names = [d.name for d in datasets]
        if len(set(names)) != len(names):
            raise ValueError(f"dataset names must be unique in a joint fit, got {names}")
        for component in models:
            targets = getattr(component, "datasets_names", None)
            if targets is not None and not set(targets) & set(names):
                raise ValueError(f"model {component.name!r} applies to datasets {targets}, "
                                 f"none of which is fitted (datasets: {names}); rename the "
                                 "dataset or the model's datasets_names")
        for ds in datasets:
            ds.models = models
        self._datasets = datasets
        self._models = models
        self._mode = mode
        self._priors = priors
        self._cache: OrderedDict = OrderedDict()
        self._covariance: tuple[np.ndarray, CovarianceResult] | None = None
        self._hessian: tuple | None = None  # (likelihood, counts version, theta, H)

    # -- structure and compiled likelihood ----------------------------------------------
    @property
    def datasets(self) -> list:
        return list(self._datasets)

    @property
    def models(self):
        return self._models

    def _structure(self) -> tuple:
        pars = tuple((id(p), p.frozen, p.value if p.frozen else None, id(p.prior))
                     for p in self._models.parameters)
        # which datasets a component applies to is structure too (a new set of sources
        # per dataset needs a new graph)
        return (pars, tuple((id(c), tuple(getattr(c, "datasets_names", None) or ()))
                            for c in self._models))

    @property
    def likelihood(self):
        """The compiled :class:`~skyfit.forward.Likelihood` for the current structure.

        Built on first use and whenever the set of free parameters (or a frozen value)
        changes; kept for reuse. Counts replaced in a dataset are re-read without
        recompiling.
        """
        from ..forward import Likelihood

        key = self._structure()
        if key not in self._cache:
            like = Likelihood(self._datasets, self._models, priors=self._priors,
                              mode=self._mode)
            self._cache[key] = [like, [d.counts for d in self._datasets]]
            while len(self._cache) > MAX_CACHED:
                self._cache.popitem(last=False)
        self._cache.move_to_end(key)
        entry = self._cache[key]
        if any(a is not b for a, b in zip(entry[1], (d.counts for d in self._datasets),
                                          strict=True)):
            entry[0].update_counts()
            entry[1] = [d.counts for d in self._datasets]
        return entry[0]

    def set_counts(self, counts) -> None:
        """Replace the observed counts (one array, or a list per dataset), no recompilation.

        For simulation studies: fit many Poisson realisations with one compiled graph.
        """
        from ..maps import Map

        arrays = counts if isinstance(counts, list | tuple) else [counts]
        if len(arrays) != len(self._datasets):
            raise ValueError(f"expected counts for {len(self._datasets)} datasets, got "
                             f"{len(arrays)}")
        for ds, data in zip(self._datasets, arrays, strict=True):
            data = np.asarray(data)
            if data.shape != ds.counts.data.shape:
                raise ValueError(f"counts for dataset {ds.name!r} have shape {data.shape}, "
                                 f"expected {ds.counts.data.shape}")
            if np.any(data < 0) or not np.all(np.isfinite(data)):
                raise ValueError(f"counts for dataset {ds.name!r} must be finite and >= 0")
            ds.counts = Map(ds.counts.geom, data, ds.counts.unit)

    def _qualified(self) -> dict[int, str]:
        return {id(p): n for n, p in zip(self._models.qualified_names(),
                                         self._models.parameters, strict=True)}

    def _free_names(self, like) -> list[str]:
        names = self._qualified()
        return [names[id(p)] for p in like.free]

    def _resolve(self, parameter) -> tuple[object, int]:
        """``(Parameter, index in the free vector)``; clear errors for frozen / unknown."""
        par = self._models.parameter(parameter)
        if par.frozen:
            raise ValueError(f"parameter {self._qualified()[id(par)]!r} is frozen; unfreeze "
                             "it (parameter.frozen = False) to profile or bound it")
        like = self.likelihood
        return par, next(i for i, p in enumerate(like.free) if p is par)

    def _rows(self) -> list[ParameterRow]:
        return [ParameterRow.from_parameter(n, p) for n, p in
                zip(self._models.qualified_names(), self._models.parameters, strict=True)]

    def _set_theta(self, like, theta) -> None:
        for par, value in zip(like.free, theta, strict=True):
            par.value = float(value)

    # -- statistic -----------------------------------------------------------------------
    @property
    def stat(self):
        """Cash statistic per bin for the current parameters (0 outside the fit mask).

        An array ``(energy, lat, lon)`` for one dataset, a dict name -> array for several.
        """
        like = self.likelihood
        stats = like.stat_per_bin(like.current_theta())
        if len(stats) == 1:
            return stats[0]
        return {d.name: s for d, s in zip(self._datasets, stats, strict=True)}

    def total_stat(self, parameters=None) -> float:
        """Total statistic (Cash + priors) for the current or given parameter values.

        ``parameters``: None or the models' own parameters (current values), or a dict
        ``{name or Parameter: value}`` evaluated without changing the models.

        Examples
        --------
        >>> from skyfit.datasets.synthetic import synthetic_dataset
        >>> from skyfit.models import FoVBackgroundModel, Models
        >>> ds = synthetic_dataset(npix=(4, 4), background_rate=1.0, name="toy")
        >>> ds.models = Models([FoVBackgroundModel("toy")])
        >>> ds.fake(random_seed=0)
        >>> fit = MapFit.from_datasets([ds])
        >>> bool(np.isclose(fit.total_stat(), ds.stat_sum()))  # no priors here
        True
        >>> fit.total_stat({"norm": 1.5}) > fit.total_stat(), fit.models.parameter("norm").value
        (True, 1.0)
        """
        if parameters is None or not isinstance(parameters, dict):
            return self.likelihood.value()
        pars = [(self._models.parameter(k), float(v)) for k, v in parameters.items()]
        saved = [p.value for p, _ in pars]
        try:
            for p, v in pars:
                p.value = v
            return self.likelihood.value()
        finally:
            for (p, _), v in zip(pars, saved, strict=True):
                p.value = v

    # -- fitting -------------------------------------------------------------------------
    def _problem(self, like, theta, scale=None) -> FitProblem:
        if scale is None:
            scale = self._scale_at(theta)
            if scale is None:
                scale = auto_scale(like, theta)
        return FitProblem(like, theta, scale)

    def _hessian_at(self, like, theta) -> np.ndarray | None:
        """The Hessian the last optimisation computed at ``theta``, if still valid."""
        if self._hessian is None:
            return None
        cached_like, version, key, hess = self._hessian
        if cached_like is like and version == like.counts_version and key == theta.tobytes():
            return hess.copy()
        return None

    def _scale_at(self, theta):
        """1-sigma errors of the last covariance if it was made at ``theta``."""
        if self._covariance is None:
            return None
        at, cov = self._covariance
        if at.shape != theta.shape or not np.array_equal(at, theta) or not cov.success:
            return None
        return np.sqrt(np.diag(cov.matrix))

    def optimize(self, backend: str = "minuit", polish: bool = True,
                 **kwargs) -> OptimizeResult:
        """Minimise the total statistic; the best-fit values are set on the parameters.

        Parameters
        ----------
        backend : {"minuit", "scipy"}
            ``"minuit"``: MIGRAD with the exact gradient (options ``ncall``, ``tol``,
            ``strategy`` (default 0), ``iterate``, ``simplex``, ``print_level``).
            ``"scipy"``: :func:`scipy.optimize.minimize`, default
            ``method="trust-constr"`` with the Hessian and bounds (``options``...).
        polish : bool
            After a successful backend run, take Newton steps with the exact-gradient
            Hessian while they lower the statistic (see
            :func:`~skyfit.fit.problem.newton_polish`): the optimum, hence the
            covariance, no longer depends on where MIGRAD stopped within its tolerance.
        **kwargs
            Options of the backend.

        Returns
        -------
        OptimizeResult
            ``success`` and ``message`` from the backend, ``nfev``, ``total_stat``,
            ``start`` values, the backend's own object. A failed fit still updates the
            parameters to where the backend stopped (as Gammapy), unless that point has a
            non-finite statistic; then the start values are restored.

        Examples
        --------
        The best background norm is the ratio of observed to predicted counts:

        >>> from skyfit.datasets.synthetic import synthetic_dataset
        >>> from skyfit.models import FoVBackgroundModel, Models
        >>> ds = synthetic_dataset(npix=(4, 4), background_rate=1.0, name="toy")
        >>> ds.models = Models([FoVBackgroundModel("toy")])
        >>> ds.fake(random_seed=0)
        >>> fit = MapFit.from_datasets([ds])
        >>> result = fit.optimize()
        >>> result.success, result.total_stat < result.start_stat
        (True, True)
        >>> norm = fit.models.parameter("norm").value
        >>> bool(np.isclose(norm, ds.counts.data.sum() / ds.background.data.sum(), rtol=1e-5))
        True
        """
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}; use one of {BACKENDS}")
        like = self.likelihood
        if like.n_free == 0:
            raise ValueError("no free parameters to optimise")
        names = self._free_names(like)
        theta0 = like.current_theta()
        for name, par in zip(names, like.free, strict=True):
            if par.value < par.min or par.value > par.max:
                raise ValueError(f"start value {par.value:g} of {name!r} is outside its "
                                 f"bounds [{par.min:g}, {par.max:g}]")
        scale, curvature = curvature_scale(like, theta0)
        problem = self._problem(like, theta0, scale)
        internal = curvature * scale**2
        if np.all(np.isfinite(internal) & (internal > 0)):
            problem.seed_curvature = internal
        start_stat = problem.fcn(np.zeros(like.n_free))
        if problem.n_nonfinite:
            raise ValueError("the statistic is not finite at the start values "
                             f"{dict(zip(names, theta0.tolist(), strict=True))}")
        t0 = time.perf_counter()
        if backend == "minuit":
            out = minuit_backend.optimize(problem, names=names, **kwargs)
        else:
            out = scipy_backend.optimize(problem, **kwargs)
        x, success, message = out.x, out.success, out.message
        if polish and success:
            x, steps = newton_polish(problem, x)
            if steps:
                message += f" Polished by {steps} Newton step{'s' * (steps > 1)}."
            hess = problem.cached_hessian(x)
            if hess is not None:  # the polish's last Hessian, for covariance() there
                self._hessian = (like, like.counts_version,
                                 problem.to_theta(x).tobytes(), hess)
        wall = time.perf_counter() - t0
        theta = np.clip(problem.to_theta(x), *_bounds(like))
        final = like.value(theta)
        if not np.isfinite(final):
            theta, final, success = theta0, start_stat, False
            message += "; the end point has a non-finite statistic: start values restored"
        elif like.may_be_negative(theta) and (lowest := like.min_npred(theta)) < 0:
            success = False
            message += (f"; the models predict negative counts ({lowest:.3g}) in fitted bins "
                        "at the end point: bound the amplitudes (e.g. min=0)")
        if problem.n_nonfinite:
            message += (f"; {problem.n_nonfinite} evaluations returned NaN/inf and were "
                        "guarded")
        self._set_theta(like, theta)
        if moved := like.out_of_reach():
            success = False
            message += (f"; {', '.join(moved)} moved beyond the region sampled for them "
                        "around their start position: call optimize() or run() again (the "
                        "fit is built anew around the new values)")
            self._cache.clear()
        return OptimizeResult(
            success=bool(success), message=message, backend=backend, method=out.method,
            nfev=problem.nfev, total_stat=float(final), start_stat=float(start_stat),
            parameters=self._rows(), start=dict(zip(names, theta0.tolist(), strict=True)),
            n_nonfinite=problem.n_nonfinite, wall_time=wall, backend_result=out.result)

    def covariance(self, backend: str = "minuit", method: str = "laplace",
                   exact: bool = False) -> CovarianceResult:
        """Covariance of the free parameters at the current (best-fit) values.

        Parameters
        ----------
        backend : {"minuit", "scipy"}
            Both give the Laplace covariance; ``"minuit"`` also offers HESSE.
        method : {"laplace", "hesse"}
            ``"laplace"``: ``2 H^-1`` with ``H`` from forward differences of the exact
            gradient (``n + 1`` gradient calls; after ``optimize()`` the polish's, see
            :func:`~skyfit.fit.problem.newton_polish`). ``"hesse"``: MINUIT HESSE
            (minuit only).
        exact : bool
            Laplace with symbolic second derivatives (slow to compile for free positions).

        Returns
        -------
        CovarianceResult
            On success the errors are written to ``Parameter.error``. A Hessian that is not
            positive definite gives ``success=False``, a NaN matrix and the names of the
            degenerate parameters; the parameters' errors are then left unchanged.

        Examples
        --------
        The error of a background norm fitted to ``N`` counts is ``norm / sqrt(N)``:

        >>> from skyfit.datasets.synthetic import synthetic_dataset
        >>> from skyfit.models import FoVBackgroundModel, Models
        >>> ds = synthetic_dataset(npix=(4, 4), background_rate=1.0, name="toy")
        >>> ds.models = Models([FoVBackgroundModel("toy")])
        >>> ds.fake(random_seed=0)
        >>> fit = MapFit.from_datasets([ds])
        >>> _ = fit.optimize()
        >>> cov = fit.covariance()
        >>> cov.success, cov.names
        (True, ['toy-bkg.norm'])
        >>> norm = fit.models.parameter("norm")
        >>> bool(np.isclose(norm.error, norm.value / np.sqrt(ds.counts.data.sum()), rtol=1e-3))
        True
        """
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}; use one of {BACKENDS}")
        if method not in ("laplace", "hesse"):
            raise ValueError(f"unknown covariance method {method!r}; use 'laplace' or 'hesse'")
        if method == "hesse" and backend != "minuit":
            raise ValueError("method='hesse' needs backend='minuit'")
        like = self.likelihood
        names = self._free_names(like)
        theta = like.current_theta()
        if method == "laplace":
            hess = self._hessian_at(like, theta) if not exact else None
            if hess is None:
                hess = like.hessian(theta, exact=exact)
            lap = laplace_covariance(hess, names)
            result = CovarianceResult(lap.success, lap.message, backend, "laplace", names,
                                      lap.matrix, hess, lap.eigenvalues, lap.degenerate)
        else:
            problem = self._problem(like, theta, auto_scale(like, theta))
            cov, m = minuit_backend.hesse(problem, np.zeros(like.n_free), names=names)
            ok = cov is not None and bool(m.fmin is None or not m.fmin.hesse_failed)
            matrix = (cov * np.outer(problem.scale, problem.scale) if cov is not None
                      else np.full((len(names),) * 2, np.nan))
            ok = ok and bool(np.all(np.linalg.eigvalsh(matrix) > 0))
            result = CovarianceResult(ok, "HESSE succeeded" if ok else "HESSE failed: "
                                      "covariance not positive definite", backend, "hesse",
                                      names, matrix, backend_result=m)
        # a bound within half a (conditional) sigma cuts the Gaussian (Laplace) picture
        with np.errstate(all="ignore"):
            sigma = (np.sqrt(2.0 / np.diag(result.hessian)) if result.hessian is not None
                     else np.sqrt(np.diag(result.matrix)))
        at_bound = [n for n, p, s in zip(names, like.free, sigma, strict=True)
                    if min(abs(p.value - p.min), abs(p.max - p.value)) < 0.5 * s]
        if at_bound:
            result.message += (f"; at a bound: {', '.join(at_bound)} (their errors are not "
                               "meaningful there: use confidence() or a profile)")
        if result.success:
            for par, err in zip(like.free, np.sqrt(np.diag(result.matrix)), strict=True):
                par.error = float(err)
        self._covariance = (theta.copy(), result)
        return result

    def run(self, optimize_opts: dict | None = None,
            covariance_opts: dict | None = None) -> FitResult:
        """:meth:`optimize` then :meth:`covariance`; a result with a parameter table.

        ``optimize_opts`` and ``covariance_opts`` are keyword arguments of those methods,
        e.g. ``run(optimize_opts={"backend": "scipy"})``. The covariance is computed even
        after a failed optimisation (as a diagnostic); ``FitResult.success`` needs both.
        """
        opt = self.optimize(**(optimize_opts or {}))
        cov = self.covariance(**(covariance_opts or {}))
        return FitResult(opt, cov, self._rows())

    # -- Bayesian methods (delegated to skyfit.bayes, imported only here) ----------------
    def sample(self, draws: int = 1000, tune: int = 1000, chains: int = 4, sampler=None,
               random_seed=None, progressbar: bool = True, **kwargs):
        """Posterior samples with :func:`skyfit.bayes.sample`, started at the current
        (best-fit) free parameter values. Imports PyMC on first use."""
        from ..bayes import sample

        return sample(self._datasets, self._models, start=self.likelihood.current_theta(),
                      draws=draws, tune=tune, chains=chains, sampler=sampler,
                      random_seed=random_seed, progressbar=progressbar, **kwargs)

    def laplace(self, draws: int = 1000, random_seed=None):
        """Draws from the Laplace approximation (:func:`skyfit.bayes.laplace`): mean the
        current values, covariance from :meth:`covariance` (reused if made here)."""
        from ..bayes import laplace

        like = self.likelihood
        theta = like.current_theta()
        cov = self._covariance[1] if self._scale_at(theta) is not None else self.covariance()
        if not cov.success:
            raise ValueError(f"no valid covariance for the Laplace approximation: {cov.message}")
        return laplace(self._datasets, self._models, mean=theta, cov=cov.matrix,
                       names=cov.names, draws=draws, random_seed=random_seed)

    def __repr__(self) -> str:
        return (f"MapFit(datasets={[d.name for d in self._datasets]}, "
                f"models={self._models.names})")


def _bounds(like) -> tuple[np.ndarray, np.ndarray]:
    lo = np.array([p.min for p in like.free], float)
    hi = np.array([p.max for p in like.free], float)
    return np.where(np.isnan(lo), -np.inf, lo), np.where(np.isnan(hi), np.inf, hi)
