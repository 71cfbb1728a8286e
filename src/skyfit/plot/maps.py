"""Sky maps per energy band: counts, predicted counts and residual significance."""

from __future__ import annotations

from collections.abc import Sequence

import astropy.units as u
import numpy as np

__all__ = ["band_slices", "plot_residual_maps", "residual_significance", "source_positions"]

METHODS = ("cash", "simple")


def residual_significance(counts, npred, method: str = "cash") -> np.ndarray:
    r"""Signed significance of observed ``counts`` against predicted ``npred``.

    Parameters
    ----------
    counts, npred : array_like
        Observed and predicted counts (same shape).
    method : {"cash", "simple"}
        ``"cash"``: :math:`\mathrm{sign}(n-\mu)\sqrt{2(\mu - n + n\ln(n/\mu))}`, the square
        root of the Cash (Poisson likelihood-ratio) difference between the saturated model
        and the prediction, with :math:`n \ln(n/\mu) = 0` at :math:`n = 0`; valid for few
        counts. ``"simple"``: :math:`(n-\mu)/\sqrt{\mu}`, its Gaussian limit.

    Returns
    -------
    ndarray
        Significance per element (NaN where ``npred <= 0`` or either input is NaN).

    Examples
    --------
    >>> residual_significance([0, 4, 9], [4, 4, 4]).round(3).tolist()
    [-2.828, 0.0, 2.144]
    >>> residual_significance([9], [4], method="simple").tolist()
    [2.5]
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; use one of {METHODS}")
    n = np.asarray(counts, float)
    mu = np.asarray(npred, float)
    with np.errstate(invalid="ignore", divide="ignore"):
        good = mu > 0
        mu_safe = np.where(good, mu, 1.0)
        if method == "simple":
            out = (n - mu_safe) / np.sqrt(mu_safe)
        else:
            log_term = np.where(n > 0, n * np.log(np.where(n > 0, n, 1.0) / mu_safe), 0.0)
            out = np.sign(n - mu_safe) * np.sqrt(np.maximum(2 * (mu_safe - n + log_term), 0))
    return np.where(good, out, np.nan)


def band_slices(energy_edges, energy_bands=None) -> list[tuple[np.ndarray, float, float]]:
    """Group energy bins into bands: ``(bin indices, emin, emax)`` per band.

    Parameters
    ----------
    energy_edges : array_like
        Bin edges in TeV (``n + 1`` values).
    energy_bands : None, int or sequence of (emin, emax)
        None: one band over all bins; an int ``k``: ``k`` contiguous bands of (nearly) equal
        numbers of bins; pairs in TeV (floats or astropy Quantities): the bins whose centres
        (geometric mean of the edges) lie in ``[emin, emax)``.

    Returns
    -------
    list of tuple
        Bin indices, lower edge of the first bin and upper edge of the last bin (TeV).

    Examples
    --------
    >>> edges = [0.1, 0.3, 1.0, 3.0, 10.0]
    >>> [(b.tolist(), lo, hi) for b, lo, hi in band_slices(edges, 2)]
    [([0, 1], 0.1, 1.0), ([2, 3], 1.0, 10.0)]
    >>> [b.tolist() for b, _, _ in band_slices(edges, [(0.2, 2.0)])]
    [[1, 2]]
    """
    edges = np.asarray(energy_edges, float)
    nbin = edges.size - 1
    if energy_bands is None:
        groups = [np.arange(nbin)]
    elif isinstance(energy_bands, int | np.integer):
        if not 1 <= energy_bands <= nbin:
            raise ValueError(f"energy_bands={energy_bands}: need 1 to {nbin} bands")
        groups = np.array_split(np.arange(nbin), int(energy_bands))
    else:
        centres = np.sqrt(edges[:-1] * edges[1:])
        groups = []
        for lo, hi in energy_bands:
            lo, hi = (float(u.Quantity(v, "TeV").to_value("TeV")) for v in (lo, hi))
            idx = np.flatnonzero((centres >= lo) & (centres < hi))
            if idx.size == 0:
                raise ValueError(f"no energy bin has its centre in [{lo:g}, {hi:g}) TeV "
                                 f"(edges {edges.round(4).tolist()})")
            groups.append(idx)
    return [(g, float(edges[g[0]]), float(edges[g[-1] + 1])) for g in groups]


def source_positions(models, geom) -> list[tuple[str, float, float]]:
    """``(name, x, y)``: 0-based pixel position in ``geom`` of each model with a position.

    Examples
    --------
    >>> from skyfit.maps import WcsGeom
    >>> from skyfit.models import Models, SkyModel
    >>> from skyfit.models.spatial import PointSpatialModel
    >>> from skyfit.models.spectral import PowerLawSpectralModel
    >>> geom = WcsGeom.create((0, 0), frame="galactic", binsz=0.1, npix=(11, 11))
    >>> src = SkyModel(PointSpatialModel(lon_0=0, lat_0=0, frame="galactic"),
    ...                PowerLawSpectralModel(), name="src")
    >>> [(n, round(float(x), 6), round(float(y), 6)) for n, x, y in
    ...  source_positions(Models([src]), geom)]
    [('src', 5.0, 5.0)]
    """
    out = []
    for component in models or []:
        spatial = getattr(component, "spatial_model", None)
        pars = getattr(spatial, "parameters", None)
        if pars is None or "lon_0" not in pars or "lat_0" not in pars:
            continue
        lon = pars["lon_0"].value * pars["lon_0"].factor_to("deg")
        lat = pars["lat_0"].value * pars["lat_0"].factor_to("deg")
        x, y = geom.world_to_pix(lon, lat, frame=spatial.frame)
        out.append((component.name, float(x[0]), float(y[0])))
    return out


def _label_sky_axes(ax, frame: str) -> None:
    if hasattr(ax, "coords"):  # astropy WCSAxes
        names = (("Galactic longitude", "Galactic latitude") if frame == "galactic"
                 else ("Right ascension", "Declination"))
        ax.coords[0].set_axislabel(names[0])
        ax.coords[1].set_axislabel(names[1])
    else:
        ax.set_xlabel("x [pixel]")
        ax.set_ylabel("y [pixel]")


def plot_residual_maps(dataset, energy_bands=None, *, method: str = "cash",
                       vmax: float | None = None, sources: bool = True,
                       cmap: str = "viridis", axes: Sequence | None = None):
    """Counts, predicted counts and residual significance maps, one row per energy band.

    Counts and npred are summed over the bins of each band inside the dataset's mask
    (``mask_safe & mask_fit``; pixels with no bin inside are blank), and the significance
    is computed from the band sums with :func:`residual_significance`.

    Parameters
    ----------
    dataset : MapDataset
        With ``models`` set (``npred()`` is evaluated at the current parameter values).
    energy_bands : None, int or sequence of (emin, emax)
        Bands as in :func:`band_slices` (default: all energies in one band).
    method : {"cash", "simple"}
        Residual significance (default ``"cash"``: signed square root of the Cash
        difference; ``"simple"``: ``(n - mu) / sqrt(mu)``).
    vmax : float, optional
        Colour range ``[-vmax, vmax]`` of the significance (default: its largest modulus,
        at least 1).
    sources : bool
        Mark and name each model with a position (``lon_0``, ``lat_0``).
    cmap : str
        Colour map of the counts and npred maps.
    axes : array of Axes, optional
        ``(n_bands, 3)`` axes to draw on (astropy ``WCSAxes`` for sky coordinates; plain
        axes show pixels). Default: a new figure with ``WCSAxes`` on the counts geometry.

    Returns
    -------
    fig : Figure
    axes : ndarray of Axes
        Shape ``(n_bands, 3)``: counts, npred, significance; each image is ``axes[i,
        j].images[0]`` with its data in ``get_array()``.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from skyfit.datasets.synthetic import synthetic_dataset
    >>> from skyfit.models import FoVBackgroundModel, Models
    >>> ds = synthetic_dataset(npix=(10, 8), name="d")
    >>> ds.models = Models([FoVBackgroundModel("d")])
    >>> ds.fake(random_seed=0)
    >>> fig, axes = plot_residual_maps(ds, energy_bands=2)
    >>> axes.shape, axes[1, 0].images[0].get_array().shape
    ((2, 3), (8, 10))
    """
    import matplotlib.pyplot as plt

    geom = dataset.counts.geom
    edges = geom.axis("energy").edges_in("TeV")
    bands = band_slices(edges, energy_bands)
    counts = np.asarray(dataset.counts.data, float)
    npred = dataset.npred()
    mask = dataset.mask
    inside = np.ones(counts.shape, bool) if mask is None else mask
    if axes is None:
        fig = plt.figure(figsize=(13.5, 3.6 * len(bands)))
        fig.subplots_adjust(hspace=0.4, wspace=0.7)
        axes = np.array([[fig.add_subplot(len(bands), 3, 3 * i + j + 1, projection=geom.wcs)
                          for j in range(3)] for i in range(len(bands))], dtype=object)
    else:
        axes = np.asarray(axes, dtype=object).reshape(len(bands), 3)
        fig = axes[0, 0].figure
    positions = source_positions(dataset.models, geom) if sources else []
    maps = []
    for idx, _, _ in bands:
        used = inside[idx].any(axis=0)
        n = np.where(used, (counts[idx] * inside[idx]).sum(axis=0), np.nan)
        mu = np.where(used, (npred[idx] * inside[idx]).sum(axis=0), np.nan)
        maps.append((n, mu, residual_significance(n, mu, method)))
    if vmax is None:
        finite = [np.abs(s[np.isfinite(s)]) for _, _, s in maps]
        vmax = max([1.0] + [float(f.max()) for f in finite if f.size])
    label = "significance" if method == "cash" else "(n - mu) / sqrt(mu)"
    for (_, emin, emax), row, images in zip(bands, axes, maps, strict=True):
        n, mu, sig = images
        vmin_c, vmax_c = np.nanmin([n, mu]), np.nanmax([n, mu])
        for ax, data, title, kw in (
                (row[0], n, "counts", dict(cmap=cmap, vmin=vmin_c, vmax=vmax_c)),
                (row[1], mu, "npred", dict(cmap=cmap, vmin=vmin_c, vmax=vmax_c)),
                (row[2], sig, label, dict(cmap="RdBu_r", vmin=-vmax, vmax=vmax))):
            im = ax.imshow(data, origin="lower", interpolation="nearest", **kw)
            fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
            ax.set_title(f"{title}, {emin:.3g}-{emax:.3g} TeV", fontsize=9)
            _label_sky_axes(ax, geom.frame)
            xlim, ylim = ax.get_xlim(), ax.get_ylim()
            for name, x, y in positions:
                ax.plot([x], [y], marker="+", ms=10, mew=1.5, ls="none", color="k",
                        label=name)
                ax.annotate(name, (x, y), xytext=(4, 4), textcoords="offset points",
                            fontsize=7, color="k")
            ax.set_xlim(xlim)
            ax.set_ylim(ylim)
    return fig, axes
