"""``MapDataset``: counts, exposure, background, IRFs and masks on one sky grid, checked."""

from __future__ import annotations

from pathlib import Path

import astropy.units as u
import numpy as np

from ..irf import EDispKernelMap, PSFMap
from ..maps import Map, WcsGeom

__all__ = ["MapDataset"]


class MapDataset:
    """A binned dataset in Gammapy's ``MapDataset`` layout, validated at construction.

    Parameters
    ----------
    counts : Map
        Counts on a :class:`WcsGeom` with one ``energy`` (reconstructed) axis.
    exposure : Map
        Exposure on the same sky grid with an ``energy_true`` axis; any area x time unit,
        stored converted to ``cm2 s``.
    background : Map or None
        Predicted background counts, same geometry as ``counts``.
    psf : PSFMap or RecoPSFMap or None
    edisp : EDispKernelMap or EDispMap or None
    mask_safe, mask_fit : Map or None
        Boolean masks on the counts geometry (or its image: then broadcast over energy).
    gti : astropy.table.Table or None
        Good time intervals (``START``, ``STOP``), kept as read.
    meta : dict or None
        Free-form metadata (primary-header cards when read from a file).
    name : str or None

    Examples
    --------
    >>> from skyfit.maps import MapAxis
    >>> e = MapAxis.from_energy_edges([0.1, 1.0, 10.0])
    >>> geom = WcsGeom.create((83.6, 22.0), binsz=0.1, npix=(4, 3), axes=[e])
    >>> tgeom = geom.with_axes([MapAxis.from_energy_edges([0.1, 1.0, 10.0], name="energy_true")])
    >>> ds = MapDataset(Map.from_geom(geom), Map(tgeom, np.full(tgeom.data_shape, 1.0), "m2 s"))
    >>> float(ds.exposure.data[0, 0, 0]), str(ds.exposure.unit), ds.mask
    (10000.0, 'cm2 s', None)
    """

    def __init__(self, counts: Map, exposure: Map, background: Map | None = None,
                 psf: PSFMap | None = None, edisp: EDispKernelMap | None = None,
                 mask_safe: Map | None = None, mask_fit: Map | None = None, gti=None,
                 meta: dict | None = None, name: str | None = None) -> None:
        self.name = name or "dataset"
        where = f"dataset {self.name!r}"
        self.counts = _check_counts(counts, where)
        self.exposure = _check_exposure(exposure, counts, where)
        self.background = None if background is None else _check_like(
            background, counts, "BACKGROUND", where, finite=True)
        self.mask_safe = None if mask_safe is None else _check_mask(mask_safe, counts,
                                                                     "MASK_SAFE", where)
        self.mask_fit = None if mask_fit is None else _check_mask(mask_fit, counts,
                                                                   "MASK_FIT", where)
        self.psf = psf
        self.edisp = edisp
        self.gti = gti
        self.meta = dict(meta or {})
        self.models = None

    # -- models and predictions ----------------------------------------------------------
    @property
    def models(self):
        """The :class:`~skyfit.models.Models` predicting this dataset (None: background only)."""
        return self._models

    @models.setter
    def models(self, models) -> None:
        if models is not None:
            from ..models import Models

            if not isinstance(models, Models):
                models = Models(models if isinstance(models, list | tuple) else [models])
        self._models = models

    def npred(self) -> np.ndarray:
        """Predicted counts ``(energy, lat, lon)`` for the current parameter values.

        Evaluated with numpy through the same code as the compiled fit graph.
        """
        from ..forward import DatasetPredictor

        models = self._models if self._models is not None else []
        pred = DatasetPredictor(self, models, lambda par: False)
        return np.asarray(pred.npred(lambda par: par.value), dtype=float)

    def stat_array(self) -> np.ndarray:
        """Cash statistic per bin (zero outside ``mask``)."""
        from ..forward import cash

        stat = cash(np.asarray(self.counts.data, float), self.npred())
        mask = self.mask
        return stat if mask is None else np.where(mask, stat, 0.0)

    def stat_sum(self) -> float:
        """Total Cash statistic over ``mask_safe & mask_fit`` (no priors)."""
        return float(self.stat_array().sum())

    def fake(self, random_seed=None) -> None:
        """Replace ``counts`` by a Poisson draw from :meth:`npred` (as Gammapy's ``fake``).

        ``random_seed`` is anything :func:`numpy.random.default_rng` accepts; the same seed
        gives the same counts.
        """
        rng = np.random.default_rng(random_seed)
        counts = rng.poisson(self.npred()).astype(self.counts.data.dtype, copy=False)
        self.counts = Map(self.counts.geom, counts, self.counts.unit)

    @property
    def geoms(self) -> dict[str, WcsGeom]:
        return {"geom": self.counts.geom, "geom_exposure": self.exposure.geom}

    @property
    def mask(self) -> np.ndarray | None:
        """``mask_safe & mask_fit`` (bool array on the counts shape), None if neither."""
        masks = [m.data for m in (self.mask_safe, self.mask_fit) if m is not None]
        if not masks:
            return None
        out = np.ones(self.counts.data.shape, bool)
        for m in masks:
            out = out & np.broadcast_to(m, out.shape)
        return out

    # -- I/O (implemented in datasets.io) ----------------------------------------------------
    @classmethod
    def read(cls, path: str | Path, name: str | None = None) -> MapDataset:
        """Read a Gammapy DL4 MapDataset FITS file (see :func:`skyfit.datasets.io.read_dataset`)."""
        from .io import read_dataset

        return read_dataset(path, name=name)

    def write(self, path: str | Path, overwrite: bool = False) -> None:
        """Write in Gammapy's DL4 layout, atomically (temporary file + ``os.replace``)."""
        from .io import write_dataset

        write_dataset(self, path, overwrite=overwrite)

    def __repr__(self) -> str:
        return (f"MapDataset(name={self.name!r}, counts={self.counts.data.shape}, "
                f"psf={type(self.psf).__name__ if self.psf else None}, "
                f"edisp={type(self.edisp).__name__ if self.edisp else None})")


def _energy_axis_check(m: Map, expected: str, hdu: str, where: str) -> None:
    axes = getattr(m.geom, "axes", ())
    if len(axes) != 1 or axes[0].name != expected:
        raise ValueError(f"{where}: {hdu} must have exactly one non-spatial axis named "
                         f"{expected!r}, got {[a.name for a in axes]}")
    if not np.all(np.diff(axes[0].edges) > 0):
        raise ValueError(f"{where}: {hdu} energy edges must increase, got {axes[0].edges}")


def _check_counts(counts: Map, where: str) -> Map:
    if not isinstance(counts.geom, WcsGeom):
        raise TypeError(f"{where}: COUNTS must be on a WcsGeom, got {type(counts.geom).__name__}")
    _energy_axis_check(counts, "energy", "COUNTS", where)
    data = np.asarray(counts.data)
    if data.dtype.kind == "f":
        bad = ~np.isfinite(data)
        if bad.any():
            raise ValueError(f"{where}: COUNTS has {int(bad.sum())} NaN/inf values "
                             f"(first at index {tuple(int(i) for i in np.argwhere(bad)[0])})")
        if np.any(data != np.round(data)):
            raise ValueError(f"{where}: COUNTS has non-integer values")
    elif data.dtype.kind not in "iub":
        raise TypeError(f"{where}: COUNTS has unsupported dtype {data.dtype}")
    if np.any(data < 0):
        raise ValueError(f"{where}: COUNTS has negative values (min {data.min()})")
    return counts


def _check_exposure(exposure: Map, counts: Map, where: str) -> Map:
    if not isinstance(exposure.geom, WcsGeom):
        raise TypeError(f"{where}: EXPOSURE must be on a WcsGeom")
    axes = exposure.geom.axes
    if len(axes) == 1 and axes[0].name == "energy":  # Gammapy renames this too
        from ..maps import MapAxis

        a = axes[0]
        axis = MapAxis(a.edges, "energy_true", a.unit, a.interp, a.node_type, a.nodes)
        exposure = Map(exposure.geom.with_axes([axis]), exposure.data, exposure.unit)
    _energy_axis_check(exposure, "energy_true", "EXPOSURE", where)
    if not exposure.geom.is_aligned(counts.geom):
        raise ValueError(f"{where}: EXPOSURE sky grid {exposure.geom!r} is not aligned with "
                         f"COUNTS {counts.geom!r}")
    try:
        exposure = exposure.to_unit("cm2 s")
    except u.UnitConversionError:
        raise ValueError(f"{where}: EXPOSURE unit {exposure.unit.to_string()!r} is not an "
                         "area x time (expected e.g. 'cm2 s' or 'm2 s')") from None
    bad = ~np.isfinite(exposure.data)
    if bad.any():
        raise ValueError(f"{where}: EXPOSURE has {int(bad.sum())} NaN/inf values")
    return exposure


def _check_like(m: Map, counts: Map, hdu: str, where: str, finite: bool) -> Map:
    if not isinstance(m.geom, WcsGeom):
        raise TypeError(f"{where}: {hdu} must be on a WcsGeom")
    if m.data.shape != counts.data.shape:
        raise ValueError(f"{where}: {hdu} shape {m.data.shape} differs from COUNTS "
                         f"{counts.data.shape}")
    if not m.geom.is_aligned(counts.geom):
        raise ValueError(f"{where}: {hdu} sky grid is not aligned with COUNTS")
    if not m.geom.axes[0].is_allclose(counts.geom.axes[0]):
        raise ValueError(f"{where}: {hdu} energy axis {m.geom.axes[0]!r} differs from COUNTS "
                         f"{counts.geom.axes[0]!r}")
    if finite:
        bad = ~np.isfinite(m.data)
        if bad.any():
            raise ValueError(f"{where}: {hdu} has {int(bad.sum())} NaN/inf values")
    return m


def _check_mask(m: Map, counts: Map, hdu: str, where: str) -> Map:
    if not isinstance(m.geom, WcsGeom) or not m.geom.is_aligned(counts.geom):
        raise ValueError(f"{where}: {hdu} sky grid is not aligned with COUNTS")
    shape, cshape = m.data.shape, counts.data.shape
    if shape != cshape and shape != cshape[-2:]:
        raise ValueError(f"{where}: {hdu} shape {shape} differs from COUNTS {cshape}")
    if shape == cshape and not m.geom.axes[0].is_allclose(counts.geom.axes[0]):
        raise ValueError(f"{where}: {hdu} energy axis differs from COUNTS")
    if m.data.dtype != bool:
        m = Map(m.geom, np.asarray(m.data).astype(bool), m.unit)
    return m
