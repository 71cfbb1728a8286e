"""A data array on a geometry, with a unit."""

from __future__ import annotations

import astropy.units as u
import numpy as np

from .geom import WcsGeom

__all__ = ["Map"]


class Map:
    """Data on a :class:`WcsGeom` (or a region geometry), with an astropy unit.

    Examples
    --------
    >>> from skyfit.maps import MapAxis, WcsGeom
    >>> geom = WcsGeom.create((0, 0), binsz=0.5, npix=(4, 3),
    ...                       axes=[MapAxis.from_energy_edges([0.1, 1, 10])])
    >>> m = Map(geom, np.ones(geom.data_shape), unit="cm2 s")
    >>> m.data.shape, m.unit
    ((2, 3, 4), Unit("cm2 s"))
    """

    def __init__(self, geom, data, unit: str | u.UnitBase = "") -> None:
        data = np.asarray(data)
        shape = getattr(geom, "data_shape", None)
        if shape is not None and tuple(data.shape) != tuple(shape):
            raise ValueError(f"data shape {data.shape} does not match geometry shape {shape}")
        self.geom = geom
        self.data = data
        self.unit = u.Unit(unit)

    @classmethod
    def from_geom(cls, geom: WcsGeom, unit: str = "", dtype=float, fill: float = 0.0) -> Map:
        return cls(geom, np.full(geom.data_shape, fill, dtype=dtype), unit)

    @property
    def quantity(self) -> u.Quantity:
        return u.Quantity(self.data, self.unit, copy=False)

    def to_unit(self, unit: str) -> Map:
        """A copy in another unit (clear error when the units are incompatible)."""
        return Map(self.geom, self.data * self.unit.to(unit), unit)

    def copy(self, data=None) -> Map:
        return Map(self.geom, np.array(self.data if data is None else data, copy=True), self.unit)

    def __repr__(self) -> str:
        return (f"Map(shape={self.data.shape}, dtype={self.data.dtype}, unit={self.unit!s}, "
                f"{self.geom!r})")
