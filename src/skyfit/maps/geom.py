"""Sky geometry: a celestial WCS grid plus non-spatial axes (energy)."""

from __future__ import annotations

import functools

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.wcs import WCS

from .axis import MapAxis

__all__ = ["WcsGeom", "frame_of_wcs", "pixel_nodes", "transform_coords"]

_FRAMES = {"GLON": "galactic", "RA--": "icrs", "RA": "icrs"}


def frame_of_wcs(wcs: WCS) -> str:
    """``"galactic"`` or ``"icrs"`` from the WCS axis types.

    Examples
    --------
    >>> wcs = WCS(naxis=2)
    >>> wcs.wcs.ctype = ["GLON-CAR", "GLAT-CAR"]
    >>> frame_of_wcs(wcs)
    'galactic'
    """
    ctype = wcs.wcs.ctype[0][:4].rstrip("-")
    if ctype == "GLON":
        return "galactic"
    if ctype == "RA":
        return "icrs"
    raise ValueError(f"unsupported sky frame in WCS CTYPE1={wcs.wcs.ctype[0]!r} (need RA or GLON)")


def transform_coords(lon, lat, frame_from: str, frame_to: str):
    """Convert lon/lat (deg) between ``icrs`` and ``galactic`` (no-op when equal).

    Examples
    --------
    The Crab nebula in Galactic coordinates:

    >>> lon, lat = transform_coords(83.63, 22.01, "icrs", "galactic")
    >>> round(float(lon), 2), round(float(lat), 2)
    (184.56, -5.79)
    """
    if frame_from == frame_to:
        return np.asarray(lon, float), np.asarray(lat, float)
    if {frame_from, frame_to} != {"icrs", "galactic"}:  # a fixed rotation between these
        raise ValueError(f"unsupported frames {frame_from!r} -> {frame_to!r}: skyfit "
                         "converts between 'icrs' and 'galactic'")
    xyz = _unit_vectors(np.asarray(lon, float), np.asarray(lat, float))
    x, y, z = np.moveaxis(xyz @ _rotation(frame_from, frame_to).T, -1, 0)
    lon = np.degrees(np.arctan2(y, x)) % 360.0  # 360.0 for tiny negative angles: 0
    return np.where(lon < 360.0, lon, 0.0), np.degrees(np.arctan2(z, np.hypot(x, y)))


@functools.cache
def _rotation(frame_from: str, frame_to: str) -> np.ndarray:
    """The ``(3, 3)`` matrix that takes unit vectors of ``frame_from`` to ``frame_to``:
    astropy's transformation between ICRS and Galactic is a fixed rotation (through FK5
    J2000), taken from it once for the three axes (astropy's own call costs ~1 ms, and a
    graph build for the Galactic centre made 145 of them)."""
    from astropy.coordinates import CartesianRepresentation

    axes = SkyCoord(CartesianRepresentation(np.eye(3)), frame=frame_from)
    return axes.transform_to(frame_to).cartesian.xyz.value


def pixel_nodes(k: int, rule: str = "midpoint") -> tuple[np.ndarray, np.ndarray]:
    """``(offsets, weights)`` of ``k`` nodes across a pixel: offsets in pixels from its
    centre (within +-0.5), weights summing to 1; ``rule`` ``"midpoint"`` (evenly spaced
    sub-pixel centres) or ``"gauss"`` (Gauss-Legendre).

    Examples
    --------
    >>> pixel_nodes(2)[0].tolist()
    [-0.25, 0.25]
    >>> x, w = pixel_nodes(2, "gauss")
    >>> [round(float(v), 4) for v in x], w.tolist()
    ([-0.2887, 0.2887], [0.5, 0.5])
    """
    k = int(k)
    if k < 1:
        raise ValueError(f"need at least one node per pixel side, got {k}")
    if rule == "midpoint":
        return (np.arange(k) + 0.5) / k - 0.5, np.full(k, 1.0 / k)
    if rule == "gauss":
        x, w = np.polynomial.legendre.leggauss(k)
        return 0.5 * x, 0.5 * w
    raise ValueError(f"unknown quadrature rule {rule!r}: use 'midpoint' or 'gauss'")


class WcsGeom:
    """A WCS sky grid with non-spatial axes, as Gammapy's ``WcsGeom``.

    Data on this geometry have shape ``(axis_n, ..., axis_1, ny, nx)`` (FITS order).

    Examples
    --------
    >>> geom = WcsGeom.create(skydir=(83.63, 22.01), frame="icrs", binsz=0.1, npix=(20, 10),
    ...                       axes=[MapAxis.from_energy_edges([0.01, 0.1, 1.0])])
    >>> geom.data_shape
    (2, 10, 20)
    >>> f"{geom.solid_angle().sum():.4e}"  # 200 pixels of (0.1 deg)**2, in sr
    '6.0923e-04'
    """

    def __init__(self, wcs: WCS, npix: tuple[int, int], axes: list[MapAxis] | tuple = ()) -> None:
        if wcs.naxis != 2:
            wcs = wcs.celestial
        self.wcs = wcs
        self.npix = (int(npix[0]), int(npix[1]))
        self.axes = tuple(axes)
        self.frame = frame_of_wcs(wcs)

    @classmethod
    def create(cls, skydir, frame: str = "icrs", binsz: float = 0.1,
               npix: tuple[int, int] = (100, 100), proj: str = "CAR",
               axes: list[MapAxis] | tuple = ()) -> WcsGeom:
        """A grid of ``npix = (nx, ny)`` pixels of ``binsz`` deg centred on ``skydir``."""
        if frame not in ("icrs", "galactic"):
            raise ValueError(f"frame must be 'icrs' or 'galactic', got {frame!r}")
        if not (np.isfinite(binsz) and binsz > 0):
            raise ValueError(f"binsz must be a positive number of degrees, got {binsz!r}")
        if np.ndim(npix) == 0:
            npix = (npix, npix)
        if min(int(n) for n in npix) < 1:
            raise ValueError(f"npix must be at least (1, 1), got {tuple(npix)}")
        wcs = WCS(naxis=2)
        prefix = ("GLON", "GLAT") if frame == "galactic" else ("RA--", "DEC-")
        wcs.wcs.ctype = [f"{prefix[0]}-{proj}", f"{prefix[1]}-{proj}"]
        wcs.wcs.crval = [float(skydir[0]), float(skydir[1])]
        wcs.wcs.cdelt = [-binsz, binsz]
        wcs.wcs.crpix = [(npix[0] + 1) / 2.0, (npix[1] + 1) / 2.0]
        wcs.wcs.cunit = ["deg", "deg"]
        return cls(wcs, npix, axes)

    # -- shape and axes ----------------------------------------------------------------
    @property
    def data_shape(self) -> tuple[int, ...]:
        return (*(ax.nbin for ax in reversed(self.axes)), self.npix[1], self.npix[0])

    def axis(self, name: str) -> MapAxis:
        for ax in self.axes:
            if ax.name == name:
                return ax
        raise KeyError(f"geometry has no axis {name!r}; axes: {[a.name for a in self.axes]}")

    def to_image(self) -> WcsGeom:
        return WcsGeom(self.wcs, self.npix)

    def with_axes(self, axes) -> WcsGeom:
        return WcsGeom(self.wcs, self.npix, axes)

    @property
    def pixel_scales(self) -> np.ndarray:
        """Absolute pixel sizes (deg) along lon and lat at the reference pixel."""
        return np.abs(self.wcs.wcs.cdelt) * np.array(
            [u.Unit(c or "deg").to("deg") for c in self.wcs.wcs.cunit])

    @property
    def center_skydir(self) -> SkyCoord:
        lon, lat = self.wcs.wcs_pix2world([(self.npix[0] - 1) / 2], [(self.npix[1] - 1) / 2], 0)
        return SkyCoord(lon[0], lat[0], unit="deg", frame=self.frame)

    @property
    def width(self) -> np.ndarray:
        return self.pixel_scales * np.array(self.npix)

    def is_aligned(self, other: WcsGeom, atol: float = 1e-6) -> bool:
        """Same sky grid (projection, reference, pixel size and number of pixels)."""
        a, b = self.wcs.wcs, other.wcs.wcs
        return (self.npix == other.npix and list(a.ctype) == list(b.ctype)
                and np.allclose(a.crval, b.crval, atol=atol)
                and np.allclose(a.crpix, b.crpix, atol=atol)
                and np.allclose(self.wcs.pixel_scale_matrix, other.wcs.pixel_scale_matrix,
                                atol=atol))

    # -- coordinates -------------------------------------------------------------------
    def pixel_grid(self, oversample: int = 1, rule: str = "midpoint"
                   ) -> tuple[np.ndarray, np.ndarray]:
        """0-based pixel coordinates (x, y) of pixel centres, or of ``oversample`` x
        ``oversample`` nodes per pixel placed by ``rule`` (``"midpoint"``: sub-pixel
        centres, ``"gauss"``: Gauss-Legendre nodes), shape (ny*k, nx*k)."""
        offs, _ = pixel_nodes(oversample, rule)
        x = (np.arange(self.npix[0])[:, None] + offs[None, :]).ravel()
        y = (np.arange(self.npix[1])[:, None] + offs[None, :]).ravel()
        return np.meshgrid(x, y)

    def get_coord(self, frame: str | None = None, oversample: int = 1,
                  rule: str = "midpoint"):
        """lon, lat (deg) of pixel centres (or of the nodes of :meth:`pixel_grid`) in
        ``frame`` (default: the geom's)."""
        x, y = self.pixel_grid(oversample, rule)
        lon, lat = self.wcs.wcs_pix2world(x, y, 0)
        return transform_coords(lon, lat, self.frame, frame or self.frame)

    def world_to_pix(self, lon, lat, frame: str | None = None):
        """0-based pixel coordinates (x, y) of sky positions given in ``frame``."""
        lon, lat = transform_coords(lon, lat, frame or self.frame, self.frame)
        x, y = self.wcs.wcs_world2pix(np.atleast_1d(lon), np.atleast_1d(lat), 0)
        return x, y

    def solid_angle(self, oversample: int = 1, rule: str = "midpoint") -> np.ndarray:
        """Solid angle (sr) of each pixel (or sub-pixel), from its four corners on the
        sphere; with ``rule="gauss"`` the weights (sr) of the Gauss-Legendre nodes of
        :meth:`pixel_grid`, which sum to each pixel's solid angle.

        Each pixel is split into two spherical triangles whose areas follow from
        Van Oosterom & Strackee (1983): ``tan(Omega/2) = |a.(b x c)| / (1 + a.b + b.c + c.a)``.
        A pixel's solid angle is shared among its nodes by the rule's weights times the
        projection's area scale at each node, ``|dv/dx x dv/dy|`` (``v``: unit vector).

        Examples
        --------
        >>> geom = WcsGeom.create((0, 60), frame="galactic", binsz=1.0, npix=(2, 1))
        >>> nodes = geom.solid_angle(3, rule="gauss")
        >>> nodes.shape, bool(np.allclose(nodes.reshape(3, 2, 3).sum(axis=(0, 2)),
        ...                               geom.solid_angle().ravel()))
        ((3, 6), True)
        """
        k = int(oversample)
        _, w = pixel_nodes(k, rule)  # checks the rule
        if rule == "gauss" and k > 1:
            scale = self._area_scale(*self.pixel_grid(k, rule))
            ny, nx = self.npix[1], self.npix[0]
            share = (scale * np.tile(w, ny)[:, None] * np.tile(w, nx)[None, :]
                     ).reshape(ny, k, nx, k)
            share /= share.sum(axis=(1, 3), keepdims=True)
            pixel = self.solid_angle()
            return (share * pixel[:, None, :, None]).reshape(ny * k, nx * k)
        xe = np.arange(self.npix[0] * k + 1) / k - 0.5
        ye = np.arange(self.npix[1] * k + 1) / k - 0.5
        xx, yy = np.meshgrid(xe, ye)
        lon, lat = self.wcs.wcs_pix2world(xx, yy, 0)
        v = _unit_vectors(lon, lat)
        a, b, c, d = v[:-1, :-1], v[:-1, 1:], v[1:, 1:], v[1:, :-1]
        return _triangle(a, b, c) + _triangle(a, c, d)

    def _area_scale(self, x, y, step: float = 1e-3) -> np.ndarray:
        """``|dv/dx x dv/dy|`` (sr per pixel area) at pixel coordinates ``(x, y)``."""
        def v(dx, dy):
            return _unit_vectors(*self.wcs.wcs_pix2world(x + dx, y + dy, 0))

        ddx = v(step, 0) - v(-step, 0)
        ddy = v(0, step) - v(0, -step)
        return np.linalg.norm(np.cross(ddx, ddy), axis=-1) / (4 * step**2)

    def cutout_slices(self, lon: float, lat: float, frame: str, radius: float):
        """Pixel slices (y, x) of the box of half-width ``radius`` deg around a position.

        Returns None when the box does not overlap the map.
        """
        x, y = self.world_to_pix(lon, lat, frame)
        x, y = float(x[0]), float(y[0])
        if not (np.isfinite(x) and np.isfinite(y)):
            return None
        rx, ry = radius / self.pixel_scales
        x0, x1 = int(np.floor(x - rx)), int(np.ceil(x + rx)) + 1
        y0, y1 = int(np.floor(y - ry)), int(np.ceil(y + ry)) + 1
        x0, y0 = max(x0, 0), max(y0, 0)
        x1, y1 = min(x1, self.npix[0]), min(y1, self.npix[1])
        if x0 >= x1 or y0 >= y1:
            return None
        return slice(y0, y1), slice(x0, x1)

    def cutout(self, slices) -> WcsGeom:
        sy, sx = slices
        wcs = self.wcs.deepcopy()
        wcs.wcs.crpix = wcs.wcs.crpix - np.array([sx.start, sy.start], float)
        wcs.wcs.set()
        return WcsGeom(wcs, (sx.stop - sx.start, sy.stop - sy.start), self.axes)

    def __repr__(self) -> str:
        axes = ", ".join(repr(a) for a in self.axes)
        return (f"WcsGeom({self.frame}, npix={self.npix}, "
                f"binsz={self.pixel_scales.round(5).tolist()} deg, axes=[{axes}])")


def _unit_vectors(lon, lat) -> np.ndarray:
    lon, lat = np.radians(lon), np.radians(lat)
    return np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], -1)


def _triangle(a, b, c) -> np.ndarray:
    num = np.abs(np.einsum("...i,...i", a, np.cross(b, c)))
    den = 1 + np.einsum("...i,...i", a, b) + np.einsum("...i,...i", b, c) \
        + np.einsum("...i,...i", c, a)
    return 2 * np.arctan2(num, den)
