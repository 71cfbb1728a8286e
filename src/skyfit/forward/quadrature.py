r"""How many nodes a radial source's pixels need: Gauss-Legendre rules per pixel, their
number chosen from the profile itself.

A point source's PSF (or a round source's profile after it) is integrated over each
pixel by a product rule of ``m x m`` nodes (:meth:`~skyfit.maps.WcsGeom.pixel_grid`
with ``rule="gauss"``). Gauss-Legendre nodes integrate smooth profiles far better than
as many evenly spaced ones (on the Fermi-LAT Galactic-centre disks, 3 x 3 nodes are ~5x
closer to a brute force than 4 x 4 midpoints); a PSF's sharp peak needs more of them.
:func:`core_nodes` takes the fewest that meet a tolerance on the profile at hand, with
the source at several places in its pixel, against a 12 x 12-node reference on a flat
sky:

.. math::
    \max_{t,\,j} \frac{|I^{(m)}_{tj} - I^{(12)}_{tj}|}{\max_j I^{(12)}_{tj}} \le
    \mathrm{tol}, \qquad I^{(m)}_{tj} = a^2 \sum_{u,v=1}^{m} w_u w_v\,
    S_t\big(|x_j + a\,(\xi_u, \xi_v) - s|\big),

with :math:`a` the pixel size, :math:`(\xi, w)` the rule's nodes and weights on the
unit interval centred on 0, and :math:`S_t` the profile of energy plane :math:`t`.
"""

from __future__ import annotations

import numpy as np

from ..maps.geom import pixel_nodes

__all__ = ["QUADRATURE_TOLERANCE", "core_nodes"]

#: the largest error of a pixel's integral allowed, as a fraction of the plane's
#: brightest pixel (the source anywhere in its pixel)
QUADRATURE_TOLERANCE = 5e-3
_REFERENCE_NODES = 12
#: where in its pixel the source is put to test a rule (pixel units from the centre)
_PLACES = ((0.0, 0.0), (0.5, 0.0), (0.5, 0.5), (0.3, 0.1))


def _test_pixels(reach: int) -> np.ndarray:
    """``(n, 2)`` pixel centres (pixel units) where a rule is tested: three rows and
    three diagonals through the source's pixel, ``reach`` pixels each way (a radial
    profile's steep parts, seen along a pixel's side and along its diagonal)."""
    i = np.arange(-reach, reach + 1)
    rows = [np.stack([i, np.full_like(i, d)], 1) for d in (-1, 0, 1)]
    diagonals = [np.stack([i, i + d], 1) for d in (-1, 0, 1)]
    return np.concatenate(rows + diagonals).astype(float)


def _pixel_integrals(spline, pixel: float, centres, place, m: int) -> np.ndarray:
    """``(T, n)``: the profiles integrated over the pixels of size ``pixel`` deg centred
    at ``centres`` ``(n, 2)`` (pixel units), the source ``place`` pixels from the
    origin, by ``m x m`` Gauss-Legendre nodes (flat sky)."""
    x, w = pixel_nodes(m, "gauss")
    px = (centres[:, 0, None, None] + x[None, :, None] - place[0]) * pixel
    py = (centres[:, 1, None, None] + x[None, None, :] - place[1]) * pixel
    values = spline(np.hypot(px, py).ravel()).reshape(-1, len(centres), m, m)
    return np.einsum("tnab,a,b->tn", values, w, w) * pixel**2


def core_nodes(spline, pixel: float, reach: float, tol: float = QUADRATURE_TOLERANCE,
               most: int = 12) -> int:
    """The fewest Gauss-Legendre nodes per pixel side (at most ``most``) whose pixel
    integrals of every profile of ``spline`` (:class:`~skyfit.forward.radial.
    RadialSpline`, radii in deg) are within ``tol`` of each plane's brightest pixel,
    wherever the source is in its pixel of ``pixel`` deg, on the pixels within ``reach``
    deg of it (where the profile is steep).

    Examples
    --------
    A Gaussian PSF of 0.1 deg on 0.05 deg pixels needs 2 x 2 nodes per pixel, one of
    0.01 deg (a fifth of a pixel) needs more:

    >>> from skyfit.forward.radial import RadialSpline
    >>> rad = np.linspace(0, 1, 401)
    >>> gauss = lambda s: RadialSpline(rad, np.exp(-0.5 * (rad / s) ** 2)[None], 1.0)
    >>> core_nodes(gauss(0.1), 0.05, 0.2), core_nodes(gauss(0.01), 0.05, 0.02)
    (2, 5)
    """
    centres = _test_pixels(int(np.ceil(reach / pixel)) + 1)
    reference = [_pixel_integrals(spline, pixel, centres, p, _REFERENCE_NODES)
                 for p in _PLACES]
    for m in range(1, most + 1):
        worst = max(float(np.max(np.abs(_pixel_integrals(spline, pixel, centres, p, m) - ref)
                                 / np.maximum(ref.max(axis=1, keepdims=True), 1e-300)))
                    for p, ref in zip(_PLACES, reference, strict=True))
        if worst <= tol:
            return m
    return most
