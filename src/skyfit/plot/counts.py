"""Observed against predicted counts per energy bin, with a residual panel."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .maps import residual_significance

__all__ = ["counts_spectrum", "plot_counts_spectrum"]


def counts_spectrum(dataset) -> dict:
    """Counts and predicted counts per reconstructed-energy bin, summed inside the mask.

    Returns
    -------
    dict
        ``edges`` (TeV), ``counts``, ``npred`` (per bin).

    Examples
    --------
    >>> from skyfit.datasets.synthetic import synthetic_dataset
    >>> from skyfit.models import FoVBackgroundModel, Models
    >>> ds = synthetic_dataset(npix=(6, 6), name="d")
    >>> ds.models = Models([FoVBackgroundModel("d")])
    >>> spec = counts_spectrum(ds)
    >>> spec["edges"].size - 1 == spec["npred"].size == 6
    True
    """
    counts = np.asarray(dataset.counts.data, float)
    npred = dataset.npred()
    mask = dataset.mask
    if mask is not None:
        counts, npred = counts * mask, npred * mask
    return {"edges": dataset.counts.geom.axis("energy").edges_in("TeV"),
            "counts": counts.sum(axis=(1, 2)), "npred": npred.sum(axis=(1, 2))}


def plot_counts_spectrum(dataset, *, method: str = "cash", axes: Sequence | None = None):
    """Observed and predicted counts per energy bin (top) and their residuals (bottom).

    Counts are summed over the sky inside the dataset's mask. Observed counts carry
    ``sqrt(n)`` error bars; the residual panel shows :func:`residual_significance` per
    bin (``"cash"``: signed square root of the Cash difference, ``"simple"``:
    ``(n - mu) / sqrt(mu)``).

    Parameters
    ----------
    dataset : MapDataset
        With ``models`` set.
    method : {"cash", "simple"}
    axes : (Axes, Axes), optional
        Counts and residual axes; default a new figure with both, sharing the energy axis.

    Returns
    -------
    fig : Figure
    axes : ndarray of Axes
        ``[counts axes, residual axes]``.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from skyfit.datasets.synthetic import synthetic_dataset
    >>> from skyfit.models import FoVBackgroundModel, Models
    >>> ds = synthetic_dataset(npix=(6, 6), name="d")
    >>> ds.models = Models([FoVBackgroundModel("d")])
    >>> ds.fake(random_seed=1)
    >>> fig, (top, bottom) = plot_counts_spectrum(ds)
    >>> top.get_ylabel(), bottom.get_xlabel()
    ('counts', 'Energy [TeV]')
    """
    import matplotlib.pyplot as plt

    spec = counts_spectrum(dataset)
    edges, n, mu = spec["edges"], spec["counts"], spec["npred"]
    centres = np.sqrt(edges[:-1] * edges[1:])
    if axes is None:
        fig, axes = plt.subplots(2, 1, sharex=True, figsize=(5.5, 5),
                                 gridspec_kw={"height_ratios": (3, 1), "hspace": 0.05})
    axes = np.asarray(axes, dtype=object)
    fig = axes[0].figure
    top, bottom = axes
    top.stairs(mu, edges, baseline=None, color="C0", lw=1.5, label="predicted")
    top.errorbar(centres, n, yerr=np.sqrt(n), xerr=(centres - edges[:-1], edges[1:] - centres),
                 fmt="o", color="k", ms=3, label="observed")
    top.set(xscale="log", yscale="log", ylabel="counts", title=f"dataset {dataset.name}")
    top.legend(fontsize=8)
    sig = residual_significance(n, mu, method)
    bottom.axhline(0, color="0.5", lw=1)
    bottom.errorbar(centres, sig, yerr=np.ones_like(sig), fmt="o", color="k", ms=3)
    bottom.set(xscale="log", xlabel="Energy [TeV]",
               ylabel="significance" if method == "cash" else "(n - mu) / sqrt(mu)")
    lim = max(3.0, float(np.nanmax(np.abs(sig))) + 1) if np.isfinite(sig).any() else 3.0
    bottom.set_ylim(-lim, lim)
    return fig, axes
