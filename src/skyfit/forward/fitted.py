"""The Cash statistic of one dataset without its full npred cube.

Over the fitted bins the statistic is

    C = 2 sum_fitted mu_i  -  2 sum_{fitted, n_i > 0} n_i ln mu_i

and gamma-ray counts cubes are mostly empty (7 % of the fitted bins of the Fermi-LAT
Crab have counts, 4 % of the Galactic centre's). ``mu`` is a sum of components, each
linear in the parameters that scale it, so the first term needs no cube either:

* background ``B[e, pix] * f_e(norm, tilt)``: ``sum_e f_e * (sum_fitted B)[e]``, the
  sums precomputed;
* fixed-position sources ``A @ F`` (:class:`~skyfit.forward.batch.FixedSources`):
  ``(1_fitted @ A) @ F``, one precomputed row;
* free sources: the sum of their cutout, weighted by the fit mask there (a free point
  or round source: one op gives it and its values at the bins with counts,
  :mod:`~skyfit.forward.radialcounts`).

The logarithm needs ``mu`` only at the bins with counts: the rows of ``A`` there (a
sparse matrix of those rows) and each free source's cutout gathered there. A background
model is one more such column per energy, ``B[e, pix]`` at the bins with counts in
energy ``e``, times ``f_e``: one sparse product gives the two at those bins, and its
gradient the sums per energy that the background's parameters need (a gather and an
indexed increment over the bins with counts before: ~5 % of a Galactic-centre
evaluation). Nothing of the size of the cube is computed per evaluation: on the Crab
this is ~4x fewer operations than building npred and summing it.

The positions of the bins with counts change with the counts (simulations); they enter
the graph as shared variables (:meth:`FittedBins.arrays` recomputes them), so new counts
need no recompilation.
"""

from __future__ import annotations

import numpy as np

from .csr import CSRMatVec, csr_arrays
from .stat import TRUNCATION_VALUE, has_negative

__all__ = ["FittedBins"]

CSR_NAMES = ("data", "indices", "indptr", "data_t", "indices_t", "indptr_t")


class FittedBins:
    """What the statistic needs of one dataset's npred: its sum over the fitted bins
    and its values at the fitted bins with counts.

    Parameters
    ----------
    predictor : DatasetPredictor
    mask : ndarray of bool (E, ny, nx) or None
        The fitted bins (None: all).

    Examples
    --------
    A background with a free norm on a 4 x 4 synthetic dataset, one bin with counts:

    >>> import pytensor
    >>> import pytensor.tensor as pt
    >>> from skyfit.datasets.synthetic import synthetic_dataset
    >>> from skyfit.forward.npred import DatasetPredictor
    >>> from skyfit.models import FoVBackgroundModel, Models
    >>> ds = synthetic_dataset(npix=(4, 4), name="toy")
    >>> bkg = FoVBackgroundModel("toy")
    >>> predictor = DatasetPredictor(ds, Models([bkg]), is_free=lambda par: False)
    >>> bins = FittedBins(predictor, mask=None)
    >>> arrays = bins.arrays(np.array([5]))
    >>> norm = pt.dscalar("norm")
    >>> value_of = lambda par: norm if par.name == "norm" else par.value
    >>> total, at_counts, lowest = bins.build(value_of, {k: pt.as_tensor(v)
    ...                                                  for k, v in arrays.items()})
    >>> f = pytensor.function([norm], [total, at_counts], mode="CVM")
    >>> full = predictor.npred(lambda par: 2.0 if par.name == "norm" else par.value)
    >>> [bool(np.isclose(a, b)) for a, b in zip(f(2.0), [full.sum(), full.ravel()[5]])]
    [True, True]
    """

    def __init__(self, predictor, mask) -> None:
        self.predictor = predictor
        self.shape = predictor.geom.data_shape
        self.mask = None if mask is None else np.asarray(mask, bool).reshape(self.shape)
        weight = np.ones(self.shape) if self.mask is None else self.mask.astype(float)
        bkg = predictor.background_data()
        self.background = None if bkg is None else bkg.ravel()
        self.background_sums = None if bkg is None else (bkg * weight).sum(axis=(1, 2))
        fixed = predictor.fixed
        self.fixed_sums = None if fixed is None else fixed.matrix.T @ weight.ravel()
        # the background's columns in the sparse rows where a model scales it
        self.background_columns = bkg is not None and bool(predictor.backgrounds)
        # precomputed maps with negative values: npred's sign is not the factors' sign
        self.negative_maps = ((bkg is not None and has_negative(bkg)) or
                              (fixed is not None and has_negative(fixed.matrix.data)))
        self.source_masks = [None if self.mask is None else weight[:, sy, sx]
                             for sy, sx in (s.cut.slices for s in predictor.sources)]

    def arrays(self, where: np.ndarray) -> dict[str, np.ndarray]:
        """The arrays that depend on which bins have counts (flat indices ``where``)."""
        from scipy import sparse

        where = np.asarray(where, np.int64)
        out = {}
        blocks = [] if self.predictor.fixed is None else [self.predictor.fixed.matrix[where]]
        if self.background_columns:  # B[e, pix] in column e of the bin's row
            energy = where // (self.shape[1] * self.shape[2])
            blocks.append(sparse.csr_matrix(
                (self.background[where], (np.arange(where.size), energy)),
                shape=(where.size, self.shape[0])))
        elif self.background is not None:
            out["background"] = self.background[where]
        if blocks:
            out.update(zip(CSR_NAMES, csr_arrays(sparse.hstack(blocks, format="csr")),
                           strict=True))
        e, y, x = np.unravel_index(where, self.shape)
        for i, source in enumerate(self.predictor.sources):
            (sy, sx), (ny, nx) = source.cut.slices, source.cut.shape
            inside = (y >= sy.start) & (y < sy.stop) & (x >= sx.start) & (x < sx.stop)
            pixel = (y[inside] - sy.start) * nx + (x[inside] - sx.start)
            order = np.argsort(pixel, kind="stable")  # by pixel (radialcounts' order)
            out[f"at{i}"] = np.flatnonzero(inside)[order]
            out[f"in{i}"] = (e[inside] * (ny * nx) + pixel)[order]
        return out

    def build(self, value_of, arrays: dict):
        """``(sum of npred over the fitted bins, npred at the bins with counts, lowest
        factor)`` as PyTensor variables; ``arrays``: variables holding :meth:`arrays`
        and the counts at those bins, ``"counts"`` (shared). ``lowest`` is the
        smallest background factor and spectral bin integral (``+inf`` if none,
        ``-inf`` if a fixed map has negative values): npred can be negative only where
        it is; see :meth:`floor_excess`."""
        import pytensor.tensor as pt

        pred = self.predictor
        total, at_counts = [], []
        columns = []  # the sparse rows' columns: (sums over the fitted bins, factors)
        if pred.fixed is not None:
            columns.append((self.fixed_sums,
                            pred.fixed.fluxes(pred.t_axis.edges_in("TeV"), value_of)))
        if self.background_columns:
            columns.append((self.background_sums,
                            pt.as_tensor_variable(pred.background_factor(value_of))))
        elif self.background is not None:
            total.append(pt.constant(self.background_sums.sum()))
            at_counts.append(arrays["background"])
        factors = [f for _, f in columns]  # and the sources' fluxes, for ``lowest``
        if columns:
            x = factors[0] if len(factors) == 1 else pt.concatenate(factors)
            sums = np.concatenate([s for s, _ in columns])
            total.append((sums * x).sum())  # no BLAS call for a dot
            at_counts.append(CSRMatVec()(*(arrays[name] for name in CSR_NAMES), x))
        total = sum(total[1:], total[0]) if total else pt.constant(0.0)
        at_counts = (sum(at_counts[1:], at_counts[0]) if at_counts else
                     pt.zeros_like(arrays["counts"], dtype="float64"))
        fluxes = pred.source_fluxes(value_of)
        if fluxes is not None:
            factors.append(fluxes)
        for i, source in enumerate(pred.sources):
            part_sum, part_at = source.fitted(value_of, fluxes[i], self.source_masks[i],
                                              arrays[f"in{i}"])
            total = total + part_sum
            at_counts = pt.inc_subtensor(at_counts[arrays[f"at{i}"]], part_at)
        if self.negative_maps:
            lowest = pt.constant(-np.inf)
        elif factors:
            lowest = pt.min(pt.concatenate([pt.as_tensor_variable(f).ravel()
                                            for f in factors]))
        else:
            lowest = pt.constant(np.inf)
        return total, at_counts, lowest

    def floor_excess(self, npred):
        """``sum_fitted max(1e-25 - npred, 0)``: what Gammapy's floor on npred adds to
        the sum of npred, from the full cube ``npred`` (only where some npred may be
        negative, see :meth:`build`; elsewhere it is below ``1e-25`` per bin)."""
        import pytensor.tensor as pt

        excess = pt.maximum(TRUNCATION_VALUE - npred, 0.0)
        return excess.sum() if self.mask is None else (excess * self.mask).sum()

