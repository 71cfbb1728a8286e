"""A minimal single-position ("region") geometry for IRF tables stored per region."""

from __future__ import annotations

from astropy.coordinates import SkyCoord

from .axis import MapAxis

__all__ = ["RegionGeom"]


class RegionGeom:
    """Non-spatial axes at one sky position (Gammapy's ``RegionGeom`` reduced to a point).

    Data on this geometry have shape ``(axis_n, ..., axis_1, 1, 1)`` as in Gammapy.

    Parameters
    ----------
    axes : sequence of MapAxis
        The non-spatial axes, first axis varying fastest in the flattened data.
    center : SkyCoord or None
        Position the tables apply to; None when the file does not say (Gammapy writes no
        ``*_REGION`` HDU then): such a table applies everywhere.
    region_hdu : astropy.io.fits.BinTableHDU or None
        The ``*_REGION`` HDU as read, kept to write it back unchanged.

    Examples
    --------
    >>> geom = RegionGeom([MapAxis.from_energy_edges([0.1, 1.0, 10.0])])
    >>> geom.data_shape
    (2, 1, 1)
    """

    is_region = True

    def __init__(self, axes, center: SkyCoord | None = None, region_hdu=None) -> None:
        self.axes = tuple(axes)
        self.center = center
        self.region_hdu = region_hdu
        self.npix = (1, 1)

    @property
    def data_shape(self) -> tuple[int, ...]:
        return (*(ax.nbin for ax in reversed(self.axes)), 1, 1)

    @property
    def center_skydir(self) -> SkyCoord | None:
        return self.center

    def axis(self, name: str) -> MapAxis:
        for ax in self.axes:
            if ax.name == name:
                return ax
        raise KeyError(f"geometry has no axis {name!r}; axes: {[a.name for a in self.axes]}")

    def to_image(self) -> RegionGeom:
        return RegionGeom((), self.center, self.region_hdu)

    def with_axes(self, axes) -> RegionGeom:
        return RegionGeom(axes, self.center, self.region_hdu)

    def __repr__(self) -> str:
        axes = ", ".join(repr(a) for a in self.axes)
        where = "anywhere" if self.center is None else self.center.to_string("decimal")
        return f"RegionGeom({where}, axes=[{axes}])"
