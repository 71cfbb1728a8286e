"""``MapDataset``: counts, exposure, background, IRFs and masks on one sky grid, checked."""

from __future__ import annotations

import warnings
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
        self.background = None if background is None else _check_background(
            background, counts, where)
        self._mask_safe = self._mask_fit = None
        self.mask_safe = mask_safe
        self.mask_fit = mask_fit
        self.psf = _check_irf(psf, "profile_at", "psf", "PSFMap / RecoPSFMap", where)
        self.edisp = _check_irf(edisp, "kernel_at", "edisp", "EDispKernelMap / EDispMap",
                                where)
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
            _warn_foreign_backgrounds(models, self.name)
        self._models = models

    # -- masks (checked on assignment too) -------------------------------------------------
    @property
    def mask_safe(self) -> Map | None:
        return self._mask_safe

    @mask_safe.setter
    def mask_safe(self, mask) -> None:
        self._mask_safe = self._checked_mask(mask, "MASK_SAFE")

    @property
    def mask_fit(self) -> Map | None:
        return self._mask_fit

    @mask_fit.setter
    def mask_fit(self, mask) -> None:
        self._mask_fit = self._checked_mask(mask, "MASK_FIT")

    def _checked_mask(self, mask, hdu: str) -> Map | None:
        return None if mask is None else _check_mask(mask, self.counts, hdu,
                                                     f"dataset {self.name!r}")

    def npred(self) -> np.ndarray:
        """Predicted counts ``(energy, lat, lon)`` for the current parameter values.

        Evaluated with numpy through the same code as the compiled fit graph. Raises
        ValueError naming the parameters when a value is non-finite or outside its bounds,
        or when the prediction is not finite.

        Examples
        --------
        >>> from skyfit.datasets.synthetic import synthetic_dataset
        >>> from skyfit.models import FoVBackgroundModel, Models
        >>> ds = synthetic_dataset(npix=(4, 4), background_rate=1.0, name="toy")
        >>> ds.models = Models([FoVBackgroundModel("toy")])
        >>> ds.models.parameter("norm").value = 2.0
        >>> ds.npred().shape, bool(np.allclose(ds.npred(), 2 * ds.background.data))
        ((6, 4, 4), True)
        """
        from ..forward import DatasetPredictor

        models = self._models if self._models is not None else []
        if self._models is not None:
            self._models.check_values()
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            pred = DatasetPredictor(self, models, lambda par: False)
            npred = np.asarray(pred.npred(lambda par: par.value), dtype=float)
        bad = ~np.isfinite(npred)
        if bad.any():
            raise ValueError(
                f"dataset {self.name!r}: npred has {int(bad.sum())} NaN/inf values; a model "
                "is undefined at its current parameters (e.g. a zero width or radius) - "
                f"{_edge_hint(models)}")
        return npred

    def stat_array(self) -> np.ndarray:
        """Cash statistic per bin (zero outside ``mask``).

        As in Gammapy, predicted counts below ``1e-25`` are floored at ``1e-25``, so a bin
        with counts ``n`` and no predicted counts costs ``2 n ln(1e25) ~ 115.1 n``. A model
        predicting negative counts inside the mask raises ValueError instead.

        Examples
        --------
        With no counts, the Cash statistic of a bin is twice its predicted counts:

        >>> from skyfit.datasets.synthetic import synthetic_dataset
        >>> from skyfit.models import FoVBackgroundModel, Models
        >>> ds = synthetic_dataset(npix=(4, 4), background_rate=1.0, name="toy")
        >>> ds.models = Models([FoVBackgroundModel("toy")])
        >>> ds.stat_array().shape
        (6, 4, 4)
        >>> bool(np.allclose(ds.stat_array(), 2 * ds.npred()))
        True
        """
        from ..forward.stat import cash, has_negative

        npred = self.npred()
        mask = self.mask
        inside = npred if mask is None else npred[mask]
        if has_negative(inside):
            raise ValueError(
                f"dataset {self.name!r}: the models predict negative counts in "
                f"{int((inside < 0).sum())} bins (min {inside.min():.4g}); a negative "
                "amplitude or norm has no Poisson likelihood: bound it with min=0")
        stat = cash(np.asarray(self.counts.data, float), npred)
        return stat if mask is None else np.where(mask, stat, 0.0)

    def stat_sum(self) -> float:
        """Total Cash statistic over ``mask_safe & mask_fit`` (no priors).

        Examples
        --------
        >>> from skyfit.datasets.synthetic import synthetic_dataset
        >>> from skyfit.models import FoVBackgroundModel, Models
        >>> ds = synthetic_dataset(npix=(4, 4), background_rate=1.0, name="toy")
        >>> ds.models = Models([FoVBackgroundModel("toy")])
        >>> ds.fake(random_seed=0)
        >>> total = ds.stat_sum()
        >>> mask = np.zeros(ds.counts.data.shape, bool)
        >>> mask[:3] = True  # fit the three lowest energy bins only
        >>> ds.mask_fit = Map(ds.counts.geom, mask)
        >>> bool(np.isclose(ds.stat_sum(), ds.stat_array()[:3].sum())), ds.stat_sum() < total
        (True, True)
        """
        return float(self.stat_array().sum())

    def fake(self, random_seed=None) -> None:
        """Replace ``counts`` by a Poisson draw from :meth:`npred` (as Gammapy's ``fake``).

        ``random_seed`` is anything :func:`numpy.random.default_rng` accepts; the same seed
        gives the same counts.

        Examples
        --------
        >>> from skyfit.datasets.synthetic import synthetic_dataset
        >>> from skyfit.models import FoVBackgroundModel, Models
        >>> ds = synthetic_dataset(npix=(4, 4), background_rate=1.0, name="toy")
        >>> ds.models = Models([FoVBackgroundModel("toy")])
        >>> ds.fake(random_seed=1)
        >>> first = ds.counts.data.copy()
        >>> ds.fake(random_seed=1)
        >>> bool((ds.counts.data == first).all()), bool(first.sum() > 0)
        (True, True)
        """
        from ..forward.stat import has_negative

        rng = np.random.default_rng(random_seed)
        npred = self.npred()
        if has_negative(npred):
            raise ValueError(f"dataset {self.name!r}: cannot simulate counts, the models "
                             f"predict negative counts (min {npred.min():.4g}); bound "
                             "amplitudes and norms with min=0")
        counts = rng.poisson(np.maximum(npred, 0.0)).astype(self.counts.data.dtype, copy=False)
        self.counts = Map(self.counts.geom, counts, self.counts.unit)

    @property
    def geoms(self) -> dict[str, WcsGeom]:
        return {"geom": self.counts.geom, "geom_exposure": self.exposure.geom}

    @property
    def mask(self) -> np.ndarray | None:
        """``mask_safe & mask_fit`` (bool array on the counts shape), None if neither.

        Examples
        --------
        >>> from skyfit.datasets.synthetic import synthetic_dataset
        >>> ds = synthetic_dataset(npix=(4, 4))
        >>> ds.mask is None
        True
        >>> safe = np.ones((4, 4), bool)  # an image mask applies to every energy
        >>> safe[0] = False
        >>> ds.mask_safe = Map(ds.counts.geom.to_image(), safe)
        >>> ds.mask.shape, int(ds.mask.sum())
        ((6, 4, 4), 72)
        """
        masks = [m.data for m in (self.mask_safe, self.mask_fit) if m is not None]
        if not masks:
            return None
        out = np.ones(self.counts.data.shape, bool)
        for m in masks:
            out = out & np.broadcast_to(m, out.shape)
        if not out.any():
            warnings.warn(f"dataset {self.name!r}: mask_safe & mask_fit exclude every bin, so "
                          "it adds nothing to the statistic (check the masks, e.g. an "
                          "inverted region mask or a safe energy range outside the axis)",
                          UserWarning, stacklevel=2)
        return out

    # -- I/O (implemented in datasets.io) ----------------------------------------------------
    @classmethod
    def read(cls, path: str | Path, name: str | None = None) -> MapDataset:
        """Read a Gammapy DL4 MapDataset FITS file (see :func:`skyfit.datasets.io.read_dataset`).

        Examples
        --------
        >>> import tempfile
        >>> from skyfit.datasets.synthetic import synthetic_dataset
        >>> ds = synthetic_dataset(npix=(4, 4), name="toy")
        >>> ds.psf = ds.edisp = None  # the analytic IRFs have no file layout
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     ds.write(Path(folder) / "toy.fits")
        ...     MapDataset.read(Path(folder) / "toy.fits", name="copy")
        MapDataset(name='copy', counts=(6, 4, 4), psf=None, edisp=None)
        """
        from .io import read_dataset

        return read_dataset(path, name=name)

    def write(self, path: str | Path, overwrite: bool = False) -> None:
        """Write in Gammapy's DL4 layout, atomically (temporary file + ``os.replace``).

        Examples
        --------
        >>> import tempfile
        >>> from skyfit.datasets.synthetic import synthetic_dataset
        >>> ds = synthetic_dataset(npix=(4, 4), name="toy")
        >>> ds.psf = ds.edisp = None  # the analytic IRFs have no file layout
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     ds.write(Path(folder) / "toy.fits")
        ...     try:
        ...         ds.write(Path(folder) / "toy.fits")
        ...     except FileExistsError:
        ...         print("refused: the file exists")
        refused: the file exists
        """
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


def _is_map(m, hdu: str, where: str) -> None:
    if not isinstance(m, Map):
        raise TypeError(f"{where}: {hdu} must be a skyfit.maps.Map (data on a geometry), got "
                        f"{type(m).__name__}; wrap arrays as Map(geom, data, unit)")


def _check_irf(irf, method: str, what: str, kinds: str, where: str):
    if irf is not None and not hasattr(irf, method):
        raise TypeError(f"{where}: {what} must be a {kinds} (an object with {method}()), got "
                        f"{type(irf).__name__}")
    return irf


def _check_counts(counts: Map, where: str) -> Map:
    _is_map(counts, "COUNTS", where)
    _dimensionless(counts, "COUNTS", where)
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


def _dimensionless(m: Map, hdu: str, where: str) -> None:
    if m.unit not in (u.dimensionless_unscaled, u.ct):
        raise ValueError(f"{where}: {hdu} holds numbers of events and must be unit-less, got "
                         f"unit {m.unit.to_string()!r}")


def _check_exposure(exposure: Map, counts: Map, where: str) -> Map:
    _is_map(exposure, "EXPOSURE", where)
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
    if exposure.unit == u.dimensionless_unscaled:
        raise ValueError(f"{where}: EXPOSURE has no unit; give it an area x time unit, e.g. "
                         "Map(geom, data, 'cm2 s') (in a file: BUNIT = 'cm2 s')")
    try:
        exposure = exposure.to_unit("cm2 s")
    except u.UnitConversionError:
        raise ValueError(f"{where}: EXPOSURE unit {exposure.unit.to_string()!r} is not an "
                         "area x time (expected e.g. 'cm2 s' or 'm2 s')") from None
    bad = ~np.isfinite(exposure.data)
    if bad.any():
        raise ValueError(f"{where}: EXPOSURE has {int(bad.sum())} NaN/inf values")
    if np.any(exposure.data < 0):
        raise ValueError(f"{where}: EXPOSURE has {int((exposure.data < 0).sum())} negative "
                         f"values (min {exposure.data.min():.4g} cm2 s); exposure is >= 0")
    return exposure


def _check_background(m: Map, counts: Map, where: str) -> Map:
    _is_map(m, "BACKGROUND", where)
    _dimensionless(m, "BACKGROUND", where)
    m = _check_like(m, counts, "BACKGROUND", where, finite=True)
    if np.any(m.data < 0):
        raise ValueError(f"{where}: BACKGROUND has {int((m.data < 0).sum())} negative values "
                         f"(min {m.data.min():.4g}); predicted background counts are >= 0")
    return m


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
    _is_map(m, hdu, where)
    if not isinstance(m.geom, WcsGeom) or not m.geom.is_aligned(counts.geom):
        raise ValueError(f"{where}: {hdu} sky grid is not aligned with COUNTS")
    shape, cshape = m.data.shape, counts.data.shape
    if shape != cshape and shape != cshape[-2:]:
        raise ValueError(f"{where}: {hdu} shape {shape} differs from COUNTS {cshape}")
    if shape == cshape and not m.geom.axes[0].is_allclose(counts.geom.axes[0]):
        raise ValueError(f"{where}: {hdu} energy axis differs from COUNTS")
    if m.data.dtype != bool:
        data = np.asarray(m.data)
        if data.dtype.kind not in "iuf" or not np.all((data == 0) | (data == 1)):
            raise ValueError(f"{where}: {hdu} must be boolean (True = use the bin) or 0/1, "
                             f"got dtype {data.dtype} with other values")
        m = Map(m.geom, data.astype(bool), m.unit)
    return m


def _warn_foreign_backgrounds(models, name: str) -> None:
    """Warn when the models scale other datasets' backgrounds but not this one's."""
    from ..models import FoVBackgroundModel

    bkgs = [c for c in models if isinstance(c, FoVBackgroundModel)]
    if bkgs and not any(c.dataset_name == name for c in bkgs):
        warnings.warn(f"dataset {name!r}: no FoVBackgroundModel applies to it (the models "
                      f"have {[c.name for c in bkgs]} for datasets "
                      f"{[c.dataset_name for c in bkgs]}); its background is used unscaled. "
                      f"Name the dataset in FoVBackgroundModel({name!r}) if that was meant",
                      UserWarning, stacklevel=3)


def _edge_hint(models) -> str:
    if not hasattr(models, "qualified_names"):
        return "check the parameter values"
    pars = [(q, p) for q, p in zip(models.qualified_names(), models.parameters, strict=True)
            if p.value in (p.min, p.max)
            or (p.value == 0 and p.name not in ("lon_0", "lat_0", "phi", "e", "tilt"))]
    if not pars:
        return "check the parameter values"
    return "parameters at zero or at a bound: " + ", ".join(f"{q}={p.value:g}" for q, p in pars)
