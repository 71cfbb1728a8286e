r"""How many nodes a radial source's pixels need: Gauss-Legendre rules per pixel, their
number chosen from the profile itself.

A point source's PSF (or a round source's profile after it) is integrated over each
pixel by a product rule of ``m x m`` nodes (:meth:`~skyfit.maps.WcsGeom.pixel_grid`
with ``rule="gauss"``). Gauss-Legendre nodes integrate smooth profiles far better than
as many evenly spaced ones (on the Fermi-LAT Galactic-centre disks, 3 x 3 nodes are ~5x
closer to 16 x 16 nodes than 4 x 4 midpoints are); a PSF's sharp peak needs more of them.
:func:`core_nodes` takes the fewest that meet a tolerance on the profile at hand, per
band of distance from the source (near the peak, on its flanks), with the source at
several places in its pixel, against a 12 x 12-node reference on a flat sky:

.. math::
    \max_{t,\,j} \frac{|I^{(m)}_{tj} - I^{(12)}_{tj}|}{\max_k I^{(12)}_{tk}} \le
    \mathrm{tol}, \qquad I^{(m)}_{tj} = a^2 \sum_{u,v=1}^{m} w_u w_v\,
    S_t\big(|x_j + a\,(\xi_u, \xi_v) - s|\big),

with :math:`a` the pixel size, :math:`(\xi, w)` the rule's nodes and weights on the
unit interval centred on 0, :math:`S_t` the profile of energy plane :math:`t`, and
:math:`j` the band's pixels, :math:`k` all pixels tested (three rows and three
diagonals through the source's pixel).
The forward model (:mod:`skyfit.forward.npred`) samples each band's pixels, in boxes
large enough for the source to move, with the nodes found here.
"""

from __future__ import annotations

import warnings

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


def core_nodes(spline, pixel: float, bands, tol: float = QUADRATURE_TOLERANCE,
               most: int = 12) -> list[int]:
    """For each band ``(near, far)`` of distances (deg) from the source, the fewest
    Gauss-Legendre nodes per pixel side (at most ``most``) whose integrals of every
    profile of ``spline`` (:class:`~skyfit.forward.radial.RadialSpline`, radii in deg)
    over the band's pixels (of ``pixel`` deg) are within ``tol`` of the plane's
    brightest pixel, wherever the source is in its own pixel.

    Examples
    --------
    A Gaussian PSF of 0.1 deg on 0.05 deg pixels needs 2 x 2 nodes per pixel near its
    peak and one beyond two widths; one of 0.01 deg (a fifth of a pixel) needs more:

    >>> from skyfit.forward.radial import RadialSpline
    >>> rad = np.linspace(0, 1, 401)
    >>> gauss = lambda s: RadialSpline(rad, np.exp(-0.5 * (rad / s) ** 2)[None], 1.0)
    >>> core_nodes(gauss(0.1), 0.05, [(0.0, 0.1), (0.2, 0.4)])
    [2, 1]
    >>> core_nodes(gauss(0.01), 0.05, [(0.0, 0.02)])
    [5]
    """
    far = max(b for _, b in bands)
    centres = _test_pixels(int(np.ceil(far / pixel)) + 1)
    reference = [_pixel_integrals(spline, pixel, centres, p, _REFERENCE_NODES)
                 for p in _PLACES]
    peaks = [np.maximum(ref.max(axis=1, keepdims=True), 1e-300) for ref in reference]
    # each pixel's centre's distance from the source, wherever it is put in its pixel
    distance = [np.hypot(*(centres - p).T) * pixel for p in _PLACES]
    nodes = []
    for near, far in bands:
        inside = [(d >= near) & (d <= far) for d in distance]

        def worst(m, inside=inside):
            return max((float(np.max(np.abs(_pixel_integrals(spline, pixel, centres[i], p, m)
                                            - ref[:, i]) / peak)) if i.any() else 0.0)
                       for p, ref, peak, i in zip(_PLACES, reference, peaks, inside,
                                                  strict=True))

        m = next((m for m in range(1, most + 1) if worst(m) <= tol), None)
        if m is None:
            warnings.warn(f"a radial profile's pixel integrals between {near:.3g} and "
                          f"{far:.3g} deg from the source are {worst(most):.1e} of the "
                          f"brightest pixel off with {most} x {most} nodes per pixel, above "
                          f"the tolerance {tol:g}: its PSF is sharp against the "
                          f"{pixel:.3g} deg pixels", stacklevel=2)
            m = most
        nodes.append(m)
    return nodes
