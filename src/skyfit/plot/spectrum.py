"""Best-fit spectra with their uncertainty band, from a covariance or posterior draws."""

from __future__ import annotations

import astropy.units as u
import numpy as np
from scipy.stats import norm

__all__ = ["plot_spectrum", "spectrum_band"]

DIFF_UNIT = "cm-2 s-1 TeV-1"  # unit of every spectral evaluate()


def _spectral(model):
    """``(spectral model, component name or None)`` of a SkyModel or a spectral model."""
    spectral = getattr(model, "spectral_model", None)
    if spectral is not None:
        return spectral, model.name
    if not hasattr(model, "evaluate") or not hasattr(model, "parameters"):
        raise TypeError(f"expected a SkyModel or a spectral model, got {type(model).__name__}")
    return model, None


def _qualified(spectral, component: str | None, names: dict | None, models=None) -> dict:
    """Spectral parameter name -> candidate qualified names (first is preferred)."""
    if models is not None:
        by_id = {id(p): q for q, p in zip(models.qualified_names(), models.parameters,
                                          strict=True)}
        return {p.name: [by_id[id(p)]] for p in spectral.parameters if id(p) in by_id}
    out = {}
    for p in spectral.parameters:
        cands = []
        if names and p.name in names:
            cands.append(names[p.name])
        if component is not None:
            cands += [f"{component}.{p.name}", f"{component}.spectral.{p.name}"]
        out[p.name] = cands
    return out


def _covariance_parts(covariance):
    """``(names, matrix, models or None)`` from a CovarianceResult, FitResult or MapFit."""
    models = None
    if hasattr(covariance, "likelihood") and hasattr(covariance, "covariance"):  # MapFit
        models = covariance.models
        covariance = covariance.covariance()
    if hasattr(covariance, "covariance_result"):  # FitResult
        covariance = covariance.covariance_result
    if covariance is None or not hasattr(covariance, "matrix"):
        raise TypeError("covariance must be a CovarianceResult, a FitResult with a "
                        "covariance or a MapFit")
    if not getattr(covariance, "success", True):
        raise ValueError(f"the covariance is not valid: {covariance.message}")
    return list(covariance.names), np.asarray(covariance.matrix, float), models


def _posterior_draws(posterior, spectral, qualified) -> dict[str, np.ndarray]:
    """Spectral parameter name -> flat draws, for the parameters found in ``posterior``."""
    post = getattr(posterior, "posterior", posterior)
    keys = {}
    for var in list(post.keys()):
        keys.setdefault(var, var)
        attrs = getattr(post[var], "attrs", {}) or {}
        if attrs.get("qualified_name"):
            keys[attrs["qualified_name"]] = var
    draws = {}
    for p in spectral.parameters:
        for cand in [*qualified.get(p.name, []), p.name]:
            if cand in keys:
                draws[p.name] = np.asarray(post[keys[cand]], float).ravel()
                break
    return draws


def spectrum_band(model, covariance=None, energy=None, *, posterior=None, sigma: float = 1,
                  energy_power: float = 2, flux_unit: str | None = None,
                  names: dict | None = None) -> dict:
    """Spectrum ``E^p dN/dE`` at the current parameter values, with its ``sigma`` band.

    Parameters
    ----------
    model : SkyModel or spectral model
        Its current parameter values are the central curve (the best fit after a fit).
    covariance : CovarianceResult, FitResult or MapFit, optional
        Linear error propagation: ``var = J C J^T`` with ``J`` the Jacobian of the flux
        with respect to the spectral parameters found in the covariance, by central
        differences (steps of ``1e-3`` sigma). A MapFit is asked for its
        :meth:`~skyfit.fit.MapFit.covariance` (which also sets the parameter errors) and
        matches parameters by identity; otherwise parameters are matched by qualified
        name, ``"<model name>.<parameter>"`` (or ``names``).
    energy : array_like, optional
        Energies in TeV (or a Quantity); default 100 points from 0.1 to 100 TeV.
    posterior : DataTree, Dataset or dict, optional
        Posterior draws instead of a covariance (e.g. :func:`skyfit.bayes.sample` output):
        the band holds the central ``erf(sigma / sqrt(2))`` fraction of the spectra of all
        draws. Variables are matched by qualified name (variable name or its
        ``qualified_name`` attribute) or short name; missing ones stay at their values.
    sigma : float
        Band half-width in standard deviations.
    energy_power : float
        ``p`` in ``E^p dN/dE`` (2: SED, 0: differential flux).
    flux_unit : str, optional
        Unit of the result (default ``TeV^(p-1) cm-2 s-1``, e.g. ``"erg cm-2 s-1"``).
    names : dict, optional
        Spectral parameter name -> name in the covariance or posterior.

    Returns
    -------
    dict
        ``energy`` (TeV), ``flux`` (central curve), ``lo`` and ``hi`` (band edges; NaN
        without covariance or posterior), ``unit`` (str), ``parameters`` (the spectral
        parameters propagated) and, with a posterior, ``median``.

    Examples
    --------
    >>> from skyfit.fit import CovarianceResult
    >>> from skyfit.models import SkyModel
    >>> from skyfit.models.spatial import PointSpatialModel
    >>> from skyfit.models.spectral import PowerLawSpectralModel
    >>> src = SkyModel(PointSpatialModel(), PowerLawSpectralModel(amplitude=1e-12), name="s")
    >>> cov = CovarianceResult(True, "", "minuit", "laplace", ["s.amplitude"],
    ...                        np.array([[1e-26]]))
    >>> band = spectrum_band(src, cov, energy=[1.0], energy_power=0)
    >>> float(band["flux"][0]), round(float(band["hi"][0] - band["flux"][0]) / 1e-13, 6)
    (1e-12, 1.0)
    """
    spectral, component = _spectral(model)
    energy = np.atleast_1d(u.Quantity(np.geomspace(0.1, 100, 100) if energy is None
                                      else energy, "TeV").to_value("TeV")).astype(float)
    if flux_unit is None:
        flux_unit = {0: DIFF_UNIT, 1: "cm-2 s-1", 2: "TeV cm-2 s-1"}.get(
            energy_power, (u.Unit("TeV") ** energy_power * u.Unit(DIFF_UNIT)).to_string())
    factor = (u.Unit("TeV") ** energy_power * u.Unit(DIFF_UNIT)).to(flux_unit)
    weight = factor * energy**energy_power

    def flux(values: dict | None = None, e=energy, w=weight):
        return w * np.asarray(spectral.evaluate(e, **spectral.canonical_values(values)), float)

    central = flux()
    out = {"energy": energy, "flux": central, "lo": np.full_like(central, np.nan),
           "hi": np.full_like(central, np.nan), "unit": str(flux_unit),
           "parameters": []}
    if covariance is not None and posterior is not None:
        raise ValueError("give either covariance or posterior, not both")
    if covariance is not None:
        cov_names, matrix, models = _covariance_parts(covariance)
        qualified = _qualified(spectral, component, names, models)
        index = {n: i for i, n in enumerate(cov_names)}
        found = [(p, next(index[c] for c in qualified[p.name] if c in index))
                 for p in spectral.parameters
                 if not p.frozen and any(c in index for c in qualified.get(p.name, []))]
        if not found:
            raise ValueError(f"no spectral parameter of {component or type(spectral).__name__}"
                             f" is in the covariance (names {cov_names}); pass names=")
        idx = [i for _, i in found]
        sub = matrix[np.ix_(idx, idx)]
        jac = np.zeros((len(found), energy.size))
        for k, (p, i) in enumerate(found):
            step = 1e-3 * np.sqrt(matrix[i, i])
            if step > 0:
                jac[k] = (flux({p.name: p.value + step})
                          - flux({p.name: p.value - step})) / (2 * step)
        err = np.sqrt(np.maximum(np.einsum("ie,ij,je->e", jac, sub, jac), 0))
        out.update(lo=central - sigma * err, hi=central + sigma * err,
                   parameters=[p.name for p, _ in found])
    elif posterior is not None:
        qualified = _qualified(spectral, component, names)
        draws = _posterior_draws(posterior, spectral, qualified)
        if not draws:
            raise ValueError("no spectral parameter found in the posterior; pass names=")
        values = {k: v[:, None] for k, v in draws.items()}
        spectra = flux(values, energy[None, :], weight[None, :])
        q = norm.cdf([-sigma, sigma])
        lo, hi = np.quantile(spectra, q, axis=0)
        out.update(lo=lo, hi=hi, median=np.median(spectra, axis=0),
                   parameters=list(draws))
    return out


def plot_spectrum(model, covariance=None, energy_range=(0.1, 100), *, posterior=None,
                  sigma: float = 1, energy_power: float = 2, flux_unit: str | None = None,
                  n_points: int = 100, names: dict | None = None, ax=None,
                  label: str | None = None, color=None):
    """Plot ``E^p dN/dE`` of a model with its ``sigma`` band (see :func:`spectrum_band`).

    Parameters
    ----------
    model : SkyModel or spectral model
    covariance : CovarianceResult, FitResult or MapFit, optional
        Band by linear propagation of the covariance.
    energy_range : (float, float) or Quantity
        Energy range in TeV, sampled logarithmically with ``n_points``.
    posterior : DataTree, Dataset or dict, optional
        Band from the quantiles of the spectra of posterior draws.
    sigma, energy_power, flux_unit, names
        As in :func:`spectrum_band`.
    ax : Axes, optional
    label : str, optional
        Legend label of the curve (default: the model's name).
    color : optional
        Colour of curve and band.

    Returns
    -------
    fig : Figure
    ax : Axes
        Log-log axes; the curve is ``ax.lines[-1]``, the band ``ax.collections[-1]``.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from skyfit.models.spectral import PowerLawSpectralModel
    >>> fig, ax = plot_spectrum(PowerLawSpectralModel(), energy_range=(1, 10))
    >>> ax.get_xlabel(), ax.get_yscale()
    ('Energy [TeV]', 'log')
    """
    from ._util import get_ax

    emin, emax = u.Quantity(energy_range, "TeV").to_value("TeV")
    band = spectrum_band(model, covariance, np.geomspace(emin, emax, int(n_points)),
                         posterior=posterior, sigma=sigma, energy_power=energy_power,
                         flux_unit=flux_unit, names=names)
    fig, ax = get_ax(ax)
    _, component = _spectral(model)
    label = label if label is not None else (component or type(_spectral(model)[0]).__name__)
    (line,) = ax.plot(band["energy"], band["flux"], color=color, label=label)
    if covariance is not None or posterior is not None:
        source = "covariance" if covariance is not None else "posterior"
        lo = np.where(band["lo"] > 0, band["lo"], np.nan)
        ax.fill_between(band["energy"], lo, band["hi"], color=line.get_color(), alpha=0.3,
                        lw=0, label=f"{label} {sigma:g} sigma ({source})")
    ax.set_xscale("log")
    ylo, yhi = ax.dataLim.intervaly
    if 0 < ylo and yhi < 1.01 * ylo:  # a flat curve alone (E^2 dN/dE of index 2)
        ax.set_ylim(ylo / 3, yhi * 3)
    ax.set_yscale("log")
    ax.set_xlabel("Energy [TeV]")
    what = "dN/dE" if energy_power == 0 else f"E^{energy_power:g} dN/dE"
    ax.set_ylabel(f"{what} [{band['unit']}]")
    ax.legend(fontsize=8)
    return fig, ax
