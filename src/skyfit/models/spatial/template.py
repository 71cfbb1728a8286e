"""Sky-map templates: :class:`TemplateSpatialModel` (an image or an image per true energy)."""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import ClassVar

import astropy.units as u
import numpy as np
from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning

from skyfit.models.parameter import Parameter

from .core import SpatialModel
from .sphere import DEG, angular_separation, position_angle

__all__ = ["TemplateSpatialModel", "pixel_solid_angle"]

_FLUX_UNIT = "cm-2 s-1 TeV-1 sr-1"
_TINY = np.finfo(np.float64).tiny


def pixel_solid_angle(wcs: WCS, shape: tuple[int, int]) -> np.ndarray:
    """Solid angle (sr) of each pixel of a 2D WCS image of ``shape = (ny, nx)``.

    Same computation as Gammapy's ``WcsGeom.solid_angle``: the pixel is split into two
    triangles whose areas are computed from their side lengths and corner angles.

    Examples
    --------
    Pixels of 0.1 deg at the equator cover ``(0.1 deg)**2`` in sr:

    >>> from skyfit.maps import WcsGeom
    >>> geom = WcsGeom.create(skydir=(0, 0), binsz=0.1, npix=(4, 3), frame="galactic")
    >>> omega = pixel_solid_angle(geom.wcs, (3, 4))
    >>> omega.shape, round(float(omega[1, 2] / np.radians(0.1) ** 2), 5)
    ((3, 4), 1.0)
    """
    ny, nx = shape
    xe, ye = np.meshgrid(np.arange(-0.5, nx), np.arange(-0.5, ny))
    lon, lat = (c * DEG for c in wcs.wcs_pix2world(xe, ye, 0))
    # corner names and index order exactly as in Gammapy (arrays indexed [y, x])
    ll = (lon[:-1, :-1], lat[:-1, :-1])
    lr = (lon[1:, :-1], lat[1:, :-1])
    ul = (lon[:-1, 1:], lat[:-1, 1:])
    ur = (lon[1:, 1:], lat[1:, 1:])
    low, left = angular_separation(*ll, *lr), angular_separation(*ll, *ul)
    up, right = angular_separation(*ul, *ur), angular_separation(*lr, *ur)
    angle_lr = position_angle(*lr, *ur) - position_angle(*lr, *ll)
    angle_ul = position_angle(*ul, *ur) - position_angle(*ll, *ul)
    return np.abs(0.5 * low * right * np.sin(angle_lr) + 0.5 * up * left * np.sin(angle_ul))


def _frame(wcs: WCS) -> str:
    ctype = wcs.wcs.ctype[0].upper()
    if ctype.startswith("GLON"):
        return "galactic"
    if ctype.startswith("RA"):
        return "icrs"
    raise ValueError(f"unsupported celestial axis {ctype!r}: need RA---/GLON- projections")


def _read_energy(hdul: fits.HDUList, header: fits.Header) -> np.ndarray:
    """True energies (TeV) of a cube: bin edges or nodes, read as Gammapy does.

    GADF ``BANDS`` tables name their columns in ``AXCOLS1``: two (``*_MIN``, ``*_MAX``)
    mean bin edges, one (``ENERGY_TRUE``) means nodes; Fermi ``ENERGIES`` tables hold
    nodes (MeV); ``EBOUNDS`` tables hold ``E_MIN``/``E_MAX`` edges.
    """
    name = header.get("BANDSHDU")
    if name is None:
        name = next(h.name for h in hdul if h.name in ("ENERGIES", "EBOUNDS", "BANDS"))
    table = hdul[name]
    cols = {c.name.upper(): c for c in table.columns}
    axcols = table.header.get("AXCOLS1")
    if axcols:
        keys = [k.strip().upper() for k in axcols.split(",")]
    elif "E_MIN" in cols:
        keys = ["E_MIN", "E_MAX"]
    else:
        keys = [next(k for k in ("ENERGY", "ENERGY_TRUE") if k in cols)]

    def column(key: str) -> np.ndarray:
        unit = cols[key].unit or ("MeV" if table.name == "ENERGIES" else "TeV")
        values = np.asarray(table.data[cols[key].name], dtype=float)
        return np.unique(u.Quantity(values, unit).to_value("TeV"))

    if len(keys) == 2:
        return np.append(column(keys[0]), column(keys[1])[-1])
    return column(keys[0])


class TemplateSpatialModel(SpatialModel):
    r"""A sky-map template, an image or a cube with a true-energy axis (no shape parameters).

    Values between pixel centres are interpolated as Gammapy does: linearly in pixel
    coordinates (and, for cubes, in pixel coordinates of the energy axis, which are
    linear in :math:`\log E`) of the logarithm of the map values; positions outside the
    map (or energies outside the axis) give 0. With ``normalize=True`` each energy plane
    is divided by its sum and by the pixel solid angles, so that it integrates to 1 over
    the sphere (unit sr-1). Otherwise values keep the file's unit, converted to sr-1 or to
    cm-2 s-1 TeV-1 sr-1 when equivalent (an empty unit is taken as sr-1, as in Gammapy);
    :attr:`unit` says which.

    Parameters
    ----------
    data : ndarray
        Map values, shape ``(ny, nx)`` or ``(n_energy, ny, nx)``; non-finite values count
        as 0.
    wcs : astropy.wcs.WCS
        Celestial WCS of the image (its frame becomes the model's).
    energy : ndarray or None
        True energies (TeV) of the cube: ``n_energy + 1`` bin edges or ``n_energy`` nodes.
    unit : str
        Unit of ``data``.
    normalize : bool
        Normalise each energy plane to integrate to 1 (Gammapy's default).
    filename : str or None
        File the map was read from (kept for model files).
    **values
        ``lon_0``, ``lat_0`` (deg, frozen; default: the map centre). Moving them shifts
        the template in lon/lat, as in Gammapy.

    Examples
    --------
    >>> import numpy as np
    >>> from astropy.wcs import WCS
    >>> wcs = WCS(naxis=2)
    >>> wcs.wcs.ctype = ["GLON-CAR", "GLAT-CAR"]
    >>> wcs.wcs.cdelt = [-0.1, 0.1]
    >>> wcs.wcs.crpix = [5.5, 5.5]
    >>> model = TemplateSpatialModel(np.ones((10, 10)), wcs)
    >>> model.frame, model.unit, round(model.evaluation_radius, 12)
    ('galactic', 'sr-1', 0.5)
    >>> round(float(model.evaluate_at(0.0, 0.0)) * (0.1 * np.pi / 180) ** 2 * 100, 4)
    1.0
    """

    tag: ClassVar[str] = "TemplateSpatialModel"
    aliases: ClassVar[tuple[str, ...]] = ("template",)
    default_parameters: ClassVar[tuple[Parameter, ...]] = (
        Parameter("lon_0", math.nan, "deg", frozen=True),
        Parameter("lat_0", math.nan, "deg", min=-90.0, max=90.0, frozen=True),
    )

    def __init__(
        self,
        data: np.ndarray,
        wcs: WCS,
        energy: np.ndarray | None = None,
        unit: str = "",
        normalize: bool = True,
        filename: str | None = None,
        **values,
    ) -> None:
        values.pop("frame", None)
        super().__init__(frame=_frame(wcs), **values)
        data = np.array(data, dtype=float)
        if data.ndim not in (2, 3) or (data.ndim == 3) != (energy is not None):
            raise ValueError(
                f"template data of shape {data.shape} needs an energy axis exactly when 3D"
            )
        data[~np.isfinite(data)] = 0.0
        self.wcs, self.filename, self.normalize = wcs, filename, bool(normalize)
        self.solid_angle = pixel_solid_angle(wcs, data.shape[-2:])
        quantity_unit = u.Unit(unit) if str(unit).strip() else u.sr**-1
        if normalize:
            total = data.sum(axis=(-2, -1), keepdims=True)
            data = np.divide(data, total, out=np.zeros_like(data), where=total != 0)
            data /= self.solid_angle
            quantity_unit = u.sr**-1
        unit_string = quantity_unit.to_string()
        for target in ("sr-1", _FLUX_UNIT):
            if quantity_unit.is_equivalent(target):
                data *= quantity_unit.to(target)
                unit_string = target
                break
        self.data, self.unit = data, unit_string
        self.energy = None if energy is None else np.asarray(energy, dtype=float)
        self._energy_pix = None
        if self.energy is not None:
            edges = self.energy.size == data.shape[0] + 1
            if not edges and self.energy.size != data.shape[0]:
                raise ValueError(f"{self.energy.size} energies for {data.shape[0]} planes")
            from scipy.interpolate import interp1d

            self._energy_pix = interp1d(
                np.log(self.energy), np.arange(self.energy.size) - (0.5 if edges else 0.0),
                fill_value="extrapolate",
            )
        ny, nx = data.shape[-2:]
        center = wcs.wcs_pix2world([[(nx - 1) / 2.0, (ny - 1) / 2.0]], 0)[0]
        self.map_center = (float(center[0]), float(center[1]))
        for name, value in zip(("lon_0", "lat_0"), self.map_center, strict=True):
            if math.isnan(self.parameters[name].value):
                self.parameters[name].value, self.parameters[name].unit = value, "deg"
        grids = [np.arange(n, dtype=float) for n in data.shape if n > 1]
        log_data = np.log(np.clip(data, _TINY, np.inf)).reshape([n for n in data.shape if n > 1])
        from scipy.interpolate import RegularGridInterpolator

        self._interp = RegularGridInterpolator(grids, log_data, bounds_error=False, fill_value=None)

    @classmethod
    def read(cls, filename: str | Path, normalize: bool = True, hdu: str | int | None = None,
             **values) -> TemplateSpatialModel:
        """Read a template from a FITS image or cube as Gammapy writes it.

        The image is the first HDU with 2 or 3 dimensions (or ``hdu``); a cube's energy
        axis comes from the table named by ``BANDSHDU`` (``ENERGY_TRUE_MIN/MAX`` edges or
        ``ENERGY_TRUE`` nodes) or from an ``ENERGIES``/``EBOUNDS`` table. The unit is
        ``BUNIT``; a Fermi diffuse cube (``ENERGIES`` table) without one is taken to be in
        cm-2 s-1 MeV-1 sr-1, as Gammapy does.
        """
        with fits.open(filename) as hdul:
            if hdu is None:
                image = next(h for h in hdul if h.data is not None and h.header["NAXIS"] in (2, 3))
            else:
                image = hdul[hdu]
            header, data = image.header, np.asarray(image.data, dtype=float)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FITSFixedWarning)
                wcs = WCS(header).celestial
            energy = _read_energy(hdul, header) if data.ndim == 3 else None
            unit = str(header.get("BUNIT", "")).strip()
            if not unit and "ENERGIES" in hdul and "GTI" not in hdul:
                unit = "cm-2 s-1 MeV-1 sr-1"  # Fermi diffuse model, as Gammapy assumes
        return cls(data, wcs, energy=energy, unit=unit,
                   normalize=normalize, filename=str(filename), **values)

    @property
    def is_energy_dependent(self) -> bool:
        return self.energy is not None

    @property
    def evaluation_radius(self) -> float:
        """Half the largest map dimension (deg), as Gammapy."""
        ny, nx = self.data.shape[-2:]
        return float(max(abs(self.wcs.wcs.cdelt[0]) * nx, abs(self.wcs.wcs.cdelt[1]) * ny)) / 2

    def evaluate_at(self, lon, lat, energy=None) -> np.ndarray:
        """Template value (in :attr:`unit`) at ``lon``, ``lat`` (deg, model frame).

        ``energy`` (TeV, or a Quantity) is required for cubes; the arrays broadcast.
        The current ``lon_0``/``lat_0`` shift the map from its centre. Numpy only.
        """
        return self.evaluate(lon, lat, energy=energy, lon_0=self._deg("lon_0"),
                             lat_0=self._deg("lat_0"))

    def evaluate(self, lon, lat, energy=None, lon_0=None, lat_0=None) -> np.ndarray:
        """Like :meth:`evaluate_at` with explicit ``lon_0``/``lat_0`` (deg; None: map centre)."""
        if self.energy is not None and energy is None:
            raise ValueError("this template has an energy axis: pass `energy` (TeV)")
        lon = np.asarray(lon, dtype=float) - (0.0 if lon_0 is None else lon_0 - self.map_center[0])
        lat = np.asarray(lat, dtype=float) - (0.0 if lat_0 is None else lat_0 - self.map_center[1])
        arrays = [lon, lat]
        if self.energy is not None:
            arrays.append(np.asarray(u.Quantity(energy, "TeV").to_value("TeV")))
        arrays = np.broadcast_arrays(*arrays)
        shape = arrays[0].shape
        x, y = self.wcs.wcs_world2pix(arrays[0].ravel(), arrays[1].ravel(), 0)
        pix = [y, x]
        if self.energy is not None:
            with np.errstate(divide="ignore", invalid="ignore"):
                pix.insert(0, self._energy_pix(np.log(arrays[2].ravel())))
        outside = np.zeros(x.shape, dtype=bool)
        for p, n in zip(pix, self.data.shape, strict=True):
            with np.errstate(invalid="ignore"):
                idx = np.floor(p + 0.5)
                outside |= ~((idx >= 0) & (idx < n))
        points = np.stack([p for p, n in zip(pix, self.data.shape, strict=True) if n > 1], -1)
        points[outside] = 0.0
        value = np.exp(self._interp(points))
        value = np.where(np.abs(value) - _TINY <= _TINY, 0.0, value)
        value[outside | ~np.isfinite(value)] = 0.0
        return value.reshape(shape)
