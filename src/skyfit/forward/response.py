"""Instrument response of one source on a cutout: spatial x exposure, PSF, dispersion.

Every function works on numpy arrays (to precompute the fixed response of a source
whose position and shape are frozen) and on PyTensor variables (inside the graph) alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._math import xp
from ..maps import WcsGeom
from ..models.spatial.sphere import chord_length
from .pixelspline import spline_pixels
from .radial import RadialSpline

__all__ = [
    "Cutout",
    "bin_subpixels",
    "convolve",
    "extended_true",
    "make_cutout",
    "point_true",
    "psf_kernel",
]


@dataclass(frozen=True)
class Cutout:
    """A box of dataset pixels, sampled at ``k x k`` nodes per pixel (placed by ``rule``,
    see :meth:`~skyfit.maps.WcsGeom.pixel_grid`), in a model's frame.

    Examples
    --------
    >>> geom = WcsGeom.create((0, 0), frame="galactic", binsz=0.1, npix=(10, 8))
    >>> cut = make_cutout(geom, 0.0, 0.0, "galactic", radius=0.25, k=2)
    >>> cut.shape, cut.lon.shape, round(float(cut.solid_angle.sum() / np.radians(0.6) ** 2), 4)
    ((6, 6), (12, 12), 1.0)
    """

    slices: tuple[slice, slice]
    shape: tuple[int, int]
    k: int
    lon: np.ndarray  # (ny*k, nx*k) deg, model frame
    lat: np.ndarray
    solid_angle: np.ndarray  # (ny*k, nx*k) sr: each node's weight
    rule: str = "midpoint"


def make_cutout(geom: WcsGeom, lon: float, lat: float, frame: str, radius: float,
                k: int = 1, full: bool = False, within=None, rule: str = "midpoint"
                ) -> Cutout | None:
    """The cutout of ``geom`` within ``radius`` deg of (lon, lat), or None if outside,
    with ``k x k`` nodes per pixel placed by ``rule`` (``"midpoint"``, ``"gauss"``).

    ``full``: the whole map; ``within``: (y, x) slices the cutout is clipped to.

    Examples
    --------
    >>> geom = WcsGeom.create((0, 0), frame="galactic", binsz=0.1, npix=(10, 8))
    >>> cut = make_cutout(geom, 0.0, 0.0, "galactic", radius=0.25, k=2)
    >>> cut.slices, cut.shape, cut.k
    ((slice(1, 7, None), slice(2, 8, None)), (6, 6), 2)
    >>> make_cutout(geom, 5.0, 0.0, "galactic", radius=0.25) is None  # off the map
    True
    """
    if full:
        slices = (slice(0, geom.npix[1]), slice(0, geom.npix[0]))
    else:
        slices = geom.cutout_slices(lon, lat, frame, radius)
        if slices is None:
            return None
    if within is not None:
        slices = tuple(slice(max(a.start, b.start), min(a.stop, b.stop))
                       for a, b in zip(slices, within, strict=True))
        if any(sl.stop <= sl.start for sl in slices):
            return None
    sub = geom.cutout(slices)
    lon_s, lat_s = sub.get_coord(frame=frame, oversample=k, rule=rule)
    return Cutout(slices, (sub.npix[1], sub.npix[0]), k, lon_s, lat_s,
                  sub.solid_angle(k, rule), rule)


def bin_subpixels(x, k: int, shape: tuple[int, int]):
    """Sum ``(..., ny*k, nx*k)`` sub-pixel values into ``(..., ny, nx)`` pixels.

    Examples
    --------
    >>> bin_subpixels(np.ones((1, 4, 6)), 2, (2, 3))
    array([[[4., 4., 4.],
            [4., 4., 4.]]])
    """
    if k == 1:
        return x
    ny, nx = shape
    lead = tuple(x.shape[:-2])
    return x.reshape((*lead, ny, k, nx, k)).sum(axis=(-3, -1))


def point_true(lon0, lat0, cut: Cutout, psf: RadialSpline, exposure):
    """Counts per unit flux of a point source, per PSF energy and pixel: ``(E, ny, nx)``.

    ``psf(r)`` is evaluated at every sub-pixel centre (exact and smooth in position),
    times the sub-pixel solid angle and the exposure: ``(E,)`` at the source, or
    ``(E, ny, nx)`` per pixel (a round source's profile after the PSF, see
    :mod:`skyfit.forward.convolved`).

    Examples
    --------
    A Gaussian PSF of 0.1 deg (density in sr-1) well inside the map keeps all the flux:

    >>> rad = np.linspace(0, 1, 101)
    >>> density = np.exp(-0.5 * (rad / 0.1) ** 2) / (2 * np.pi * np.radians(0.1) ** 2)
    >>> psf = RadialSpline(rad, density[None], r_max=1.0)
    >>> geom = WcsGeom.create((0, 0), frame="galactic", binsz=0.1, npix=(10, 8))
    >>> cut = make_cutout(geom, 0, 0, "galactic", radius=0, k=4, full=True)
    >>> npred = point_true(0.0, 0.0, cut, psf, np.array([1e10]))
    >>> npred.shape, round(float(npred.sum() / 1e10), 2)
    ((1, 8, 10), 1.0)
    """
    d2r = np.pi / 180.0
    chord = chord_length(lon0 * d2r, lat0 * d2r, cut.lon.ravel() * d2r,
                         cut.lat.ravel() * d2r) / d2r
    x = spline_pixels(psf.of_chord(), chord, cut.solid_angle.ravel(), cut.k, cut.shape)
    return x * (exposure if np.ndim(exposure) == 3 else exposure[:, None, None])


def extended_true(density, cut: Cutout, exposure, kernel=None, into=None):
    """Counts per unit flux of an extended source: ``(E, ny, nx)``.

    ``into``: ``((ny, nx), (sy, sx))`` when ``cut`` is a box inside a larger cutout of
    shape ``(ny, nx)`` (``exposure`` and ``kernel`` belong to the larger one): the
    brightness is sampled only in the box, zero around it, then convolved.

    ``density`` is the surface brightness (sr-1) at the sub-pixel centres, shape
    ``(ny*k, nx*k)`` or ``(E, ny*k, nx*k)``; ``exposure`` is ``(E, ny, nx)``; ``kernel``
    ``(E, ky, kx)`` is the PSF on the pixel grid (None: no PSF).

    Examples
    --------
    A brightness uniform over the map, normalised to unit flux, and unit exposure:

    >>> geom = WcsGeom.create((0, 0), frame="galactic", binsz=0.1, npix=(10, 8))
    >>> cut = make_cutout(geom, 0, 0, "galactic", radius=0, k=2, full=True)
    >>> density = np.full(cut.lon.shape, 1 / cut.solid_angle.sum())
    >>> npred = extended_true(density, cut, np.ones((1, 8, 10)))
    >>> npred.shape, round(float(npred.sum()), 6)
    ((1, 8, 10), 1.0)
    """
    x = bin_subpixels(density * cut.solid_angle, cut.k, cut.shape)
    shape = cut.shape
    if into is not None:
        shape, (sy, sx) = into
        x = _embed(x, shape, sy, sx)
    x = x * exposure
    return x if kernel is None else convolve(x, kernel, shape)


def _embed(x, shape, sy, sx):
    """``x`` (..., h, w) placed at ``[..., sy, sx]`` of zeros (..., *shape)."""
    if xp(x).symbolic:
        import pytensor.tensor as pt

        x = pt.as_tensor_variable(x)
        lead = [x.shape[i] for i in range(x.ndim - 2)]
        return pt.set_subtensor(pt.zeros((*lead, *shape))[..., sy, sx], x)
    out = np.zeros((*np.shape(x)[:-2], *shape))
    out[..., sy, sx] = x
    return out


def convolve(x, kernel, shape=None):
    """Per-plane 2D convolution of ``(E, ny, nx)`` with ``(E, ky, kx)``, same size output.

    Through FFTs in both numpy and PyTensor (a direct convolution with PSF kernels of
    a few degrees costs ~100x more). In PyTensor, ``kernel`` must be a numpy array (its
    transform is precomputed) and ``shape`` the ``(ny, nx)`` of ``x``.

    Examples
    --------
    >>> kernel = np.full((1, 3, 3), 1 / 9)
    >>> image = np.zeros((1, 5, 5))
    >>> image[0, 2, 2] = 1.0
    >>> out = convolve(image, kernel)
    >>> out.shape, round(float(out.sum()), 6), round(float(out[0, 1, 1] * 9), 6)
    ((1, 5, 5), 1.0, 1.0)
    >>> import pytensor.tensor as pt
    >>> convolve(pt.tensor3("x"), kernel, (5, 5)).type  # the same in a graph
    TensorType(float64, shape=(1, 5, 5))
    """
    if not xp(x, kernel).symbolic:
        from scipy.signal import fftconvolve

        return fftconvolve(x, kernel, mode="same", axes=(-2, -1))
    from .fftconv import fft_convolve

    return fft_convolve(x, kernel, shape)


def psf_kernel(psf: RadialSpline, pixel_size: float, radius: float, k: int = 5) -> np.ndarray:
    """PSF kernels ``(E, n, n)`` on a pixel grid, integrated over ``k x k`` sub-pixels.

    Each plane sums to 1 (flux conserving); the grid is the flat-sky approximation
    around the source, accurate for kernels of a few degrees.

    Examples
    --------
    >>> rad = np.linspace(0, 1, 101)
    >>> psf = RadialSpline(rad, np.exp(-0.5 * (rad / 0.1) ** 2)[None], r_max=1.0)
    >>> kernel = psf_kernel(psf, pixel_size=0.1, radius=0.3)
    >>> kernel.shape, round(float(kernel.sum()), 6), int(kernel[0].argmax())  # peak: centre
    ((1, 7, 7), 1.0, 24)
    """
    half = max(int(np.ceil(radius / pixel_size)), 1)
    n = 2 * half + 1
    offs = ((np.arange(n * k) + 0.5) / k - n / 2) * pixel_size
    dx, dy = np.meshgrid(offs, offs)
    r = np.hypot(dx, dy).ravel()
    x = psf(r).reshape((-1, n * k, n * k))
    kern = bin_subpixels(x, k, (n, n))
    return kern / kern.sum(axis=(-2, -1), keepdims=True)


def bilinear(image_stack: np.ndarray, x: float, y: float) -> np.ndarray:
    """Bilinear interpolation of ``(E, ny, nx)`` at 0-based pixel (x, y), clipped to the map."""
    ny, nx = image_stack.shape[-2:]
    x = float(np.clip(x, 0, nx - 1))
    y = float(np.clip(y, 0, ny - 1))
    x0, y0 = min(int(x), nx - 2) if nx > 1 else 0, min(int(y), ny - 2) if ny > 1 else 0
    fx, fy = (x - x0 if nx > 1 else 0.0), (y - y0 if ny > 1 else 0.0)
    x1, y1 = min(x0 + 1, nx - 1), min(y0 + 1, ny - 1)
    s = image_stack
    return ((1 - fx) * (1 - fy) * s[..., y0, x0] + fx * (1 - fy) * s[..., y0, x1]
            + (1 - fx) * fy * s[..., y1, x0] + fx * fy * s[..., y1, x1])
