"""Helpers shared by the IRF maps: nearest tabulated cell, 1-D interpolation in axis scale."""

from __future__ import annotations

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord

from ..maps import Map, MapAxis
from ..maps.region import RegionGeom

__all__ = ["axis_scale", "interp_along", "nearest_cell"]


def nearest_cell(irf_map: Map, position: SkyCoord | None) -> tuple[int, int]:
    """(iy, ix) of the tabulated cell nearest to ``position`` that holds data.

    As Gammapy's ``IRFMap._get_nearest_valid_position``: a cell is valid when any of its
    values is > 0; when the nearest cell is not valid but others are, the valid cell whose
    centre is closest on the sky is used. Region maps have a single cell (0, 0).

    Examples
    --------
    >>> from skyfit.maps import WcsGeom
    >>> irf = Map.from_geom(WcsGeom.create((0, 0), frame="galactic", binsz=1.0, npix=(3, 3)))
    >>> irf.data[...] = 1.0
    >>> nearest_cell(irf, None), nearest_cell(irf, SkyCoord(1, 0, unit="deg", frame="galactic"))
    ((1, 1), (1, 0))
    >>> irf.data[...] = 0.0
    >>> irf.data[0, 2] = 1.0  # only one cell holds data
    >>> nearest_cell(irf, None)
    (0, 2)
    """
    geom = irf_map.geom
    if isinstance(geom, RegionGeom):
        return 0, 0
    if position is None:
        position = geom.center_skydir
    pos = SkyCoord(position).icrs
    x, y = geom.world_to_pix(pos.ra.deg, pos.dec.deg, "icrs")
    nx, ny = geom.npix
    ix = int(np.clip(np.rint(x[0]), 0, nx - 1)) if np.isfinite(x[0]) else 0
    iy = int(np.clip(np.rint(y[0]), 0, ny - 1)) if np.isfinite(y[0]) else 0
    data = np.asarray(irf_map.data)
    valid = (data > 0).reshape(-1, ny, nx).any(axis=0)
    if valid[iy, ix] or not valid.any():
        return iy, ix
    lon, lat = geom.get_coord(frame="icrs")
    cells = SkyCoord(lon[valid], lat[valid], unit="deg", frame="icrs")
    k = int(np.argmin(cells.separation(pos).deg))
    vy, vx = np.nonzero(valid)
    return int(vy[k]), int(vx[k])


def axis_scale(values, interp: str) -> np.ndarray:
    """Values in the scale of an axis interpolation: ``log``, ``sqrt`` or linear (``lin``).

    Examples
    --------
    >>> axis_scale([1.0, np.e], "log"), axis_scale([4.0], "sqrt"), axis_scale([4.0], "lin")
    (array([0., 1.]), array([2.]), array([4.]))
    """
    values = np.asarray(values, float)
    if interp == "log":
        with np.errstate(divide="ignore"):
            return np.log(values)
    if interp == "sqrt":
        return np.sqrt(values)
    return values


def interp_along(table: np.ndarray, axis: MapAxis, coord: u.Quantity) -> np.ndarray:
    """Linear interpolation of ``table`` (first dimension on ``axis`` nodes) at ``coord``.

    The interpolation is linear in the axis scale (``log`` energy for log axes) between
    the axis centres (nodes), linearly extrapolated outside them, as Gammapy's
    ``interp_by_coord(method="linear")`` with its default extrapolation.

    Examples
    --------
    Nodes at the log centres 0.316 and 3.16 TeV; 1 TeV lies halfway in log energy:

    >>> axis = MapAxis.from_energy_edges([0.1, 1.0, 10.0])
    >>> interp_along(np.array([1.0, 2.0]), axis, [1.0, 10**1.5] * u.TeV)
    array([1.5, 3. ])
    """
    x = axis_scale(axis.center, axis.interp)
    t = axis_scale(u.Quantity(coord).to_value(axis.unit), axis.interp)
    table = np.asarray(table, float)
    if x.size == 1:
        return np.repeat(table[:1], t.size, axis=0)
    i = np.clip(np.searchsorted(x, t), 1, x.size - 1)
    w = (t - x[i - 1]) / (x[i] - x[i - 1])
    w = w.reshape((-1,) + (1,) * (table.ndim - 1))
    return (1 - w) * table[i - 1] + w * table[i]
