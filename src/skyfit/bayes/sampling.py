"""NUTS sampling and Laplace draws, returned as ArviZ ``DataTree`` objects.

Both functions return the same layout, so NUTS and Laplace can be compared with the same
tools:

* ``posterior``: one variable per free parameter (named as
  :func:`skyfit.bayes.model.parameter_names` says; ``attrs``: ``unit``, ``qualified_name``);
* ``log_likelihood``: pointwise Poisson log-likelihood per dataset over its fitted bins
  (dimension ``"<dataset>_bin"``, coordinate: flat index into the counts cube);
* ``observed_data``: the counts in those bins (and their sums per energy band);
* ``sample_stats`` (NUTS only): divergences, tree depth, energy, step size...;
* ``posterior_predictive`` (optional): per dataset, the expected counts summed per
  reconstructed-energy band (``"<dataset>_npred_band"``) and a Poisson replicate of them
  (``"<dataset>_band"``), dimension ``"<dataset>_energy"`` (bin centres in TeV).
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import xarray as xr
from scipy.special import gammaln

from ..forward.stat import TRUNCATION_VALUE
from .model import BayesModel, build_model, model_layout

__all__ = ["laplace", "sample"]

SAMPLERS = ("nutpie", "pymc", "numpyro", "blackjax")
# nutpie's low-rank mass-matrix adaptation learns parameter correlations (alpha, beta and
# amplitude of a log-parabola are strongly correlated): on the Crab it cuts the leapfrog
# steps per draw ~3x and gives an ESS per draw above 1 (benchmarks/bench_sample.py).
# PyMC's dense counterpart, init="jitter+adapt_full", does the same with tune >= 1000 but
# adapts badly with short tuning (ESS 116 instead of 568 for 2 x 600 draws after 400 tuning
# steps on a 1-parameter model), so PyMC keeps its own default (diagonal).
NUTPIE_DEFAULTS = {"adaptation": "low_rank"}


def sample(datasets, models, *, start=None, draws: int = 1000, tune: int = 1000,
           chains: int = 4, sampler: str | None = None, random_seed: int | None = None,
           progressbar: bool = True, posterior_predictive: bool = False,
           **kwargs) -> xr.DataTree:
    """Sample the posterior of the free parameters with NUTS.

    Parameters
    ----------
    datasets : list of MapDataset
        Datasets with integer counts (fitted bins: ``mask_safe & mask_fit``).
    models : Models
        Models; free parameters are sampled, priors read from them (see
        :func:`skyfit.bayes.build_model`).
    start : dict or array_like, optional
        Start point (e.g. the MAP): a vector aligned with the free parameters or a dict
        keyed by name or qualified name. Default: current parameter values.
    draws, tune, chains : int
        Kept draws and tuning steps per chain, and number of chains.
    sampler : {"nutpie", "pymc", "numpyro", "blackjax"}, optional
        NUTS implementation. Default: nutpie where installed (``pip install nutpie``),
        else PyMC's own.
    random_seed : int, optional
        Same seed, same draws.
    progressbar : bool
        Show a progress bar.
    posterior_predictive : bool
        Add the ``posterior_predictive`` group (counts per energy band).
    **kwargs
        Passed to :func:`pymc.sample` (e.g. ``cores``, ``target_accept`` for PyMC,
        ``nuts={...}`` for external samplers, ``compile_kwargs={"mode": ...}``; the
        default is PyTensor's default mode, numba); for nutpie, ``cores``, ``nuts`` and
        ``compile_kwargs`` only, as :func:`pymc.sample` takes them. nutpie adapts a
        low-rank mass matrix by default (``nuts={"adaptation": "low_rank"}``), which
        learns parameter correlations; for PyMC, ``init="jitter+adapt_full"`` does that
        (with ``tune >= 1000``; PyMC's default is diagonal).

    Returns
    -------
    xarray.DataTree
        ``posterior``, ``sample_stats``, ``log_likelihood``, ``observed_data`` and
        optionally ``posterior_predictive`` (see the module docstring).
        ``posterior.attrs["interrupted"]`` says whether the run was cut short.

    Notes
    -----
    Ctrl-C (``KeyboardInterrupt``) while drawing returns the draws made so far, with
    ``posterior.attrs["interrupted"] = True`` and a warning saying how many were kept:
    nutpie runs in the background and is aborted, and every chain with draws is kept, cut
    to the shortest (chains still tuning are dropped); PyMC's own sampler stops its
    chains and keeps the ``chains x draws`` rectangle with the most draws (it may drop
    short chains). An interrupt during tuning (nothing kept), during compilation or
    while the log-likelihood is computed propagates. numpyro and blackjax run each chain
    as one compiled JAX loop: an interrupt loses the run (the ``KeyboardInterrupt`` says
    so).

    Examples
    --------
    >>> from skyfit.datasets.synthetic import synthetic_dataset
    >>> from skyfit.models import FoVBackgroundModel, Models
    >>> ds = synthetic_dataset(npix=(4, 4), energy_edges=[0.1, 1, 10],
    ...                        energy_true_edges=[0.05, 0.5, 5, 20])
    >>> ds.counts.data[:] = 3
    >>> models = Models([FoVBackgroundModel("synthetic")])
    >>> models.parameter("norm").min, models.parameter("norm").max = 0.01, 1e4
    >>> idata = sample([ds], models, draws=50, tune=50, chains=1, sampler="pymc",
    ...                random_seed=1, progressbar=False, cores=1,
    ...                compile_kwargs={"mode": "FAST_COMPILE"})  # quick to compile
    >>> list(idata.posterior.data_vars), idata.posterior["norm"].shape
    (['norm'], (1, 50))
    >>> ratio = ds.counts.data.sum() / ds.background.data.sum()  # the best-fit norm
    >>> bool(abs(idata.posterior["norm"].mean() / ratio - 1) < 0.1)
    True
    """
    import pymc as pm

    sampler = resolve_sampler(sampler)
    if sampler in ("numpyro", "blackjax"):  # they compile the graph with JAX
        from ..forward import jax_ops  # noqa: F401  (JAX versions of skyfit's ops)
    bm = build_model(datasets, models)
    initvals = bm.start_dict(start)
    kwargs.setdefault("cores", max(1, min(chains, os.cpu_count() or 1)))
    # PyTensor's default mode (numba) unless compile_kwargs={"mode": ...}: sampling
    # evaluates the graph thousands of times, $SKYFIT_PYTENSOR_MODE is for one-off use
    compile_kwargs = kwargs.pop("compile_kwargs", {})
    mode = compile_kwargs.get("mode")
    if mode is None and sampler in ("numpyro", "blackjax"):
        mode = "JAX"  # the pointwise log-likelihood as well (no numba compile)
    if sampler == "nutpie":
        from ._nutpie import sample_nutpie

        cores, nuts = kwargs.pop("cores"), {**NUTPIE_DEFAULTS, **kwargs.pop("nuts", {})}
        if kwargs:
            raise TypeError(f"unexpected keyword arguments for nutpie: {sorted(kwargs)}; "
                            "pass sampler options in nuts={...}")
        idata, interrupted = sample_nutpie(
            bm.model, initvals, draws=draws, tune=tune, chains=chains, cores=cores,
            random_seed=random_seed, progressbar=progressbar, compile_kwargs=compile_kwargs,
            nuts=nuts)
    else:
        with bm.model, warnings.catch_warnings():
            if "adapt_full" in str(kwargs.get("init", "")):  # asked for: no need to warn
                warnings.filterwarnings("ignore", "QuadPotentialFullAdapt is an experimental",
                                        UserWarning)
            try:
                idata = pm.sample(draws, tune=tune, chains=chains, random_seed=random_seed,
                                  progressbar=progressbar, initvals=initvals,
                                  nuts_sampler=sampler, compile_kwargs=compile_kwargs,
                                  **kwargs)
            except KeyboardInterrupt as exc:
                if sampler == "pymc":
                    raise
                raise KeyboardInterrupt(
                    f"sampling with {sampler} interrupted: it runs each chain as one "
                    "compiled JAX loop and cannot return partial draws; sampler='nutpie' or "
                    "'pymc' keep the draws made before Ctrl-C") from exc
        # PyMC returns what was drawn before Ctrl-C: fewer draws, or fewer chains
        interrupted = (idata.posterior.sizes["draw"] < draws
                       or idata.posterior.sizes["chain"] < chains)
    if bm.pointwise:
        with bm.model:
            idata = pm.compute_log_likelihood(
                idata, model=bm.model, progressbar=False,
                compile_kwargs={"mode": mode} if mode else None)
    else:  # the model's likelihood is one potential: the pointwise values per draw
        theta = np.stack([idata.posterior[name].values for name in bm.names], axis=-1)
        chain_draw = {"chain": idata.posterior["chain"].values,
                      "draw": idata.posterior["draw"].values}
        bins = _bin_coords(bm)
        idata["log_likelihood"] = xr.DataTree(xr.Dataset(
            {obs: (("chain", "draw", f"{obs}_bin"), ll)
             for obs, ll in _log_likelihood(bm, theta).items()},
            coords={**chain_draw, **bins}))
        idata["observed_data"] = xr.DataTree(xr.Dataset(
            {obs: ((f"{obs}_bin",), n) for obs, n in zip(bm.observed, bm.counts,
                                                        strict=True)},
            coords=bins))
    for group in ("constant_data",):  # empty groups PyMC adds
        if group in idata.children and not idata[group].data_vars:
            del idata[group]
    idata.posterior.attrs["interrupted"] = interrupted
    if interrupted:
        kept = idata.posterior.sizes
        warnings.warn(f"sampling interrupted (KeyboardInterrupt): kept {kept['draw']} draws "
                      f"x {kept['chain']} chains of the {draws} x {chains} asked "
                      "(posterior.attrs['interrupted'] is True)", UserWarning, stacklevel=2)
    return _finish(idata, bm, posterior_predictive, random_seed)


def laplace(datasets, models, *, mean, cov, names, draws: int = 1000,
            random_seed: int | None = None, chains: int = 1,
            posterior_predictive: bool = False) -> xr.DataTree:
    """Draws from the Gaussian approximation at the MAP, in :func:`sample`'s layout.

    Parameters
    ----------
    datasets : list of MapDataset
    models : Models
    mean : array_like, shape (n,)
        MAP values of the free parameters, in their own units.
    cov : array_like, shape (n, n)
        Covariance (inverse of half the Hessian of the statistic at the MAP).
    names : list of str
        Parameter names of ``mean`` and ``cov`` entries (short, qualified, or the
        posterior variable names); must cover every free parameter once.
    draws, chains : int
        Draws per chain and number of chains.
    random_seed : int, optional
    posterior_predictive : bool
        Add the counts-per-energy-band group.

    Returns
    -------
    xarray.DataTree
        ``posterior``, ``log_likelihood``, ``observed_data`` (and ``posterior_predictive``);
        no ``sample_stats``: the draws are independent.

    Examples
    --------
    >>> from skyfit.datasets.synthetic import synthetic_dataset
    >>> from skyfit.models import FoVBackgroundModel, Models
    >>> ds = synthetic_dataset(npix=(4, 4), energy_edges=[0.1, 1, 10],
    ...                        energy_true_edges=[0.05, 0.5, 5, 20])
    >>> models = Models([FoVBackgroundModel("synthetic")])
    >>> idata = laplace([ds], models, mean=[1.0], cov=[[0.01]], names=["norm"],
    ...                 draws=10, random_seed=0)
    >>> idata.posterior["norm"].shape
    (1, 10)
    """
    bm = model_layout(datasets, models)
    mean = np.asarray(mean, dtype=float).reshape(-1)
    cov = np.asarray(cov, dtype=float)
    n = len(bm.free)
    if mean.shape != (n,) or cov.shape != (n, n) or len(names) != n:
        raise ValueError(f"laplace: expected mean ({n},), cov ({n}, {n}) and {n} names for "
                         f"the free parameters {bm.names}; got {mean.shape}, {cov.shape}, "
                         f"{len(names)} names")
    order = [_free_index(models, bm, name) for name in names]
    if sorted(order) != list(range(n)):
        raise ValueError(f"laplace: names {list(names)} do not cover the free parameters "
                         f"{bm.names} once each")
    perm = np.argsort(order)  # position in `names` of each free parameter
    mean, cov = mean[perm], cov[np.ix_(perm, perm)]
    rng = np.random.default_rng(random_seed)
    theta = rng.multivariate_normal(mean, cov, size=(chains, draws), method="cholesky")
    posterior = {name: theta[..., i] for i, name in enumerate(bm.names)}
    import arviz as az

    dims = {obs: [f"{obs}_bin"] for obs in bm.observed}
    idata = az.from_dict(
        {"posterior": posterior, "log_likelihood": _log_likelihood(bm, theta),
         "observed_data": dict(zip(bm.observed, bm.counts, strict=True))},
        dims=dims, coords=_bin_coords(bm),
        attrs={"posterior": {"inference_library": "skyfit.bayes.laplace"}})
    return _finish(idata, bm, posterior_predictive, random_seed)


def resolve_sampler(sampler: str | None) -> str:
    """The NUTS implementation to use: ``sampler``, or nutpie if installed, else PyMC.

    >>> resolve_sampler("pymc")
    'pymc'
    """
    if sampler is None:
        return "nutpie" if _has_nutpie() else "pymc"
    if sampler not in SAMPLERS:
        raise ValueError(f"unknown sampler {sampler!r}; choose one of {SAMPLERS}")
    if sampler == "nutpie" and not _has_nutpie():
        raise ImportError("sampler='nutpie' needs nutpie: pip install nutpie (or "
                          "pip install 'skyfit[bayes]'), or use sampler='pymc'")
    return sampler


def _has_nutpie() -> bool:
    try:
        import nutpie  # noqa: F401
    except ImportError:
        return False
    return True


def _free_index(models, bm: BayesModel, name: str) -> int:
    """Index in ``bm.free`` of a variable, qualified or short parameter name."""
    if name in bm.names or name in bm.qualified:
        return bm._index(name)
    par = models.parameter(name)
    for i, free in enumerate(bm.free):
        if free is par:
            return i
    raise KeyError(f"parameter {name!r} is not free; free parameters are {bm.names}")


def _finish(idata: xr.DataTree, bm: BayesModel, posterior_predictive: bool,
            random_seed) -> xr.DataTree:
    """Units and qualified names as attributes; band sums; optional predictive group."""
    for name, qname, par in zip(bm.names, bm.qualified, bm.free, strict=True):
        idata.posterior[name].attrs.update(unit=par.unit, qualified_name=qname)
    observed = idata["observed_data"].to_dataset()
    for obs, energy, n in zip(bm.observed, _band_energies(bm), _observed_bands(bm),
                              strict=True):
        observed[f"{obs}_band"] = xr.DataArray(n, dims=[f"{obs}_energy"],
                                               coords={f"{obs}_energy": energy})
    idata["observed_data"] = xr.DataTree(observed)
    if posterior_predictive:
        idata["posterior_predictive"] = xr.DataTree(
            band_predictive(bm, idata.posterior, random_seed))
    return idata


def band_predictive(bm: BayesModel, posterior, random_seed=None) -> xr.Dataset:
    """Expected and Poisson-replicated counts per energy band for every posterior draw."""
    theta = np.stack([np.asarray(posterior[n]) for n in bm.names], axis=-1)
    chains, draws = theta.shape[:2]
    fn = _band_function(bm)
    out = [np.empty((chains, draws, len(e))) for e in _band_energies(bm)]
    for c in range(chains):
        for d in range(draws):
            for k, band in enumerate(fn(theta[c, d])):
                out[k][c, d] = band
    rng = np.random.default_rng(None if random_seed is None else random_seed + 7919)
    data = {}
    for obs, energy, mu in zip(bm.observed, _band_energies(bm), out, strict=True):
        dims, coords = ["chain", "draw", f"{obs}_energy"], {f"{obs}_energy": energy}
        data[f"{obs}_npred_band"] = xr.DataArray(mu, dims=dims, coords=coords)
        data[f"{obs}_band"] = xr.DataArray(rng.poisson(mu), dims=dims, coords=coords)
    return xr.Dataset(data, coords={"chain": np.arange(chains), "draw": np.arange(draws)})


def _band_function(bm: BayesModel):
    """Compiled ``theta -> [npred summed over fitted pixels per energy, per dataset]``."""
    import pytensor
    import pytensor.tensor as pt

    like = bm.likelihood
    outs = []
    for npred, mask in zip(like.npred_vars, like._masks, strict=True):
        npred = pt.as_tensor_variable(npred)
        if mask is not None:
            npred = npred * mask.astype(float)
        outs.append(npred.sum(axis=(1, 2)))
    return pytensor.function([like.theta], outs, mode=like.mode, on_unused_input="ignore")


def _band_energies(bm: BayesModel) -> list[np.ndarray]:
    return [ds.counts.geom.axis("energy").center_in("TeV") for ds in bm.likelihood.datasets]


def _observed_bands(bm: BayesModel) -> list[np.ndarray]:
    out = []
    for ds, mask in zip(bm.likelihood.datasets, bm.likelihood._masks, strict=True):
        counts = np.asarray(ds.counts.data, float)
        out.append(np.where(mask, counts, 0.0).sum(axis=(1, 2)) if mask is not None
                   else counts.sum(axis=(1, 2)))
    return out


def _log_likelihood(bm: BayesModel, theta) -> dict[str, np.ndarray]:
    """Pointwise Poisson log-likelihood per dataset, ``(chains, draws, bins)``, of the
    draws ``theta (chains, draws, n_free)``."""
    chains, draws = theta.shape[:2]
    out = {obs: np.empty((chains, draws, len(b)))
           for obs, b in zip(bm.observed, bm.bins, strict=True)}
    log_n_factorial = [gammaln(n + 1.0) for n in bm.counts]  # once, not per draw
    for c in range(chains):
        for d in range(draws):
            for k, mu in enumerate(_masked_npred(bm, theta[c, d])):
                out[bm.observed[k]][c, d] = (bm.counts[k] * np.log(mu) - mu
                                             - log_n_factorial[k])
    return out


def _bin_coords(bm: BayesModel) -> dict[str, np.ndarray]:
    return {f"{obs}_bin": b for obs, b in zip(bm.observed, bm.bins, strict=True)}


def _masked_npred(bm: BayesModel, theta) -> list[np.ndarray]:
    return [np.maximum(mu.ravel()[b], TRUNCATION_VALUE)
            for mu, b in zip(bm.likelihood.npred(theta), bm.bins, strict=True)]

