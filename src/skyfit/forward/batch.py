"""Sources with a fixed response, evaluated together as one sparse matrix product.

A source whose position and shape are frozen has a precomputed response ``R_s[t, n]``
(counts per unit flux in true-energy bin ``t`` on cutout pixel ``n``, exposure and PSF
included) and a dispersion matrix ``D_s[t, e]``. Only its spectrum is free, so

    npred[e, pix(n)] += sum_t (D_s[t, e] F_s[t]) R_s[t, n]

for all such sources at once: the bin integrals ``F`` of all spectra of one class in one
broadcast call, then one sparse matrix-vector product. The graph has a fixed number of
nodes whatever the number of sources, so compiling it stays fast, and its cost is set
by the non-zero entries of the responses.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from .._math import xp

__all__ = ["FixedSources", "spectral_fluxes"]


def spectral_fluxes(spectral_models, edges, value_of):
    """Bin integrals ``(S, T)`` of several spectral models over ``edges`` (TeV).

    Models of the same class are evaluated in one broadcast call (parameters stacked
    along a leading axis); the result rows follow the order of ``spectral_models``.

    Examples
    --------
    ``value_of`` gives each parameter's value (a number, or a graph variable in a fit):

    >>> from skyfit.models.spectral import PowerLawSpectralModel
    >>> models = [PowerLawSpectralModel(index=2.0), PowerLawSpectralModel(index=3.0)]
    >>> flux = spectral_fluxes(models, [1.0, 10.0, 100.0], lambda par: par.value)
    >>> flux.shape, (flux / 1e-12).round(4)  # cm-2 s-1
    ((2, 2), array([[0.9   , 0.09  ],
           [0.495 , 0.0049]]))
    """
    emin, emax = np.asarray(edges[:-1], float), np.asarray(edges[1:], float)
    groups = defaultdict(list)
    for i, model in enumerate(spectral_models):
        groups[type(model)].append(i)
    rows = [None] * len(spectral_models)
    for indices in groups.values():
        models = [spectral_models[i] for i in indices]
        flux = _class_fluxes(models, emin, emax, value_of)
        if len(models) == len(spectral_models) and not isinstance(flux, list):
            return flux  # one broadcast call for all: its rows are already in order
        for j, i in enumerate(indices):
            rows[i] = flux[j]
    m = xp(*rows)
    return m.stack(rows) if m.symbolic else np.stack(rows)


def _class_fluxes(models, emin, emax, value_of):
    values = [m.canonical_values({p.name: value_of(p) for p in m.parameters}) for m in models]
    if len(models) == 1 or not _broadcasts(models[0], emin, emax):
        return [m.integral(emin, emax, **v) for m, v in zip(models, values, strict=True)]
    stacked = {}
    for name in values[0]:
        column = [v[name] for v in values]
        m = xp(*column)
        stacked[name] = (m.stack(column) if m.symbolic else np.array(column, float))[:, None]
    return type(models[0]).integral(emin[None, :], emax[None, :], **stacked)


def _broadcasts(model, emin, emax) -> bool:
    """Whether ``integral`` of this class accepts parameters stacked on a leading axis."""
    one = model.integral(emin, emax, **model.canonical_values())
    pars = {k: np.array([v, v], float)[:, None] for k, v in model.canonical_values().items()}
    try:
        two = model.integral(emin[None, :], emax[None, :], **pars)
    except (TypeError, ValueError):
        return False
    return np.shape(two) == (2, emin.size) and np.allclose(two, one[None, :], rtol=1e-12,
                                                             atol=0.0, equal_nan=True)


class FixedSources:
    """Precomputed responses of several sources on one dataset, as one sparse matrix.

    ``A[(e, pix), (s, t)] = D_s[t, e] R_s[t, n(pix)]``, so that
    ``npred.ravel() += A @ F.ravel()`` with ``F`` the ``(S, T)`` bin integrals; only the
    exact zeros (dispersion far from the diagonal, the empty true-energy planes) are
    left out, so the product is exact.

    Parameters
    ----------
    plans : list
        Source plans with ``fixed`` (T, ny, nx) responses, ``edisp`` (T, E) or None and
        ``cut.slices`` into the dataset's (ny, nx) map; ``spectral`` models.
    shape : tuple
        The dataset's npred shape ``(E, ny, nx)``.

    Examples
    --------
    One source with a flat response on a 2 x 2 box of a 3 x 3 map, no dispersion:

    >>> from types import SimpleNamespace
    >>> from skyfit.models.spectral import PowerLawSpectralModel
    >>> plan = SimpleNamespace(fixed=np.ones((2, 2, 2)), edisp=None,
    ...                        cut=SimpleNamespace(slices=(slice(0, 2), slice(1, 3))),
    ...                        spectral=PowerLawSpectralModel(index=2.0))
    >>> sources = FixedSources([plan], shape=(2, 3, 3))
    >>> sources.matrix.shape, sources.matrix.nnz
    ((18, 2), 8)
    >>> npred = sources.npred([1.0, 10.0, 100.0], lambda par: par.value)
    >>> (npred.reshape(2, 3, 3)[:, 0] / 1e-12).round(3)
    array([[0.  , 0.9 , 0.9 ],
           [0.  , 0.09, 0.09]])
    """

    def __init__(self, plans, shape) -> None:
        from scipy import sparse

        n_e, ny_map, nx_map = shape
        self.spectral = [p.spectral for p in plans]
        n_t = plans[0].fixed.shape[0]
        rows, cols, vals = [], [], []
        for s, plan in enumerate(plans):
            (sy, sx) = plan.cut.slices
            yy, xx = np.mgrid[sy, sx]
            pix = (yy * nx_map + xx).ravel()
            target = (np.arange(n_e)[:, None] * (ny_map * nx_map) + pix).ravel()  # (E*N,)
            edisp = np.eye(n_t, n_e) if plan.edisp is None else plan.edisp
            resp = plan.fixed.reshape(n_t, -1)
            for t in range(n_t):
                block = (edisp[t][:, None] * resp[t][None, :]).ravel()
                keep = np.flatnonzero(block)
                rows.append(target[keep])
                cols.append(np.full(keep.size, s * n_t + t))
                vals.append(block[keep])
        self.matrix = sparse.csr_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
            shape=(n_e * ny_map * nx_map, len(plans) * n_t))

    def npred(self, edges, value_of):
        """The counts of all these sources, flat ``(E*ny*nx,)`` (numpy or PyTensor)."""
        flux = self.fluxes(edges, value_of)
        if xp(flux).symbolic:
            from .csr import csr_matvec

            return csr_matvec(self.matrix, flux)
        return self.matrix @ flux

    def fluxes(self, edges, value_of):
        """The ``(S * T,)`` bin integrals of all spectra, the vector ``A`` multiplies."""
        flux = spectral_fluxes(self.spectral, edges, value_of)  # (S, T)
        m = xp(flux)
        return m.asarray(flux).flatten() if m.symbolic else np.asarray(flux).ravel()
