r"""Round sources seen through a radial PSF: their brightness profile after the PSF.

A circular disk or Gaussian of frozen size, seen through the PSF at its position, is
again radially symmetric: its predicted counts at a pixel depend only on the pixel's
distance :math:`d` from the centre. :func:`convolved_profile` computes that profile once
per PSF energy; the forward model then evaluates it at every sub-pixel like a point
source's PSF (:func:`~skyfit.forward.response.point_true`): exact, smooth in position,
with no convolution in the graph.

With :math:`P(r)` the PSF density and :math:`f(s)` the source brightness (both sr-1,
radii in deg, flat sky around the source),

.. math::
    g(d) = \int_0^\infty r\,P(r)\,A(d, r)\,dr, \qquad
    A(d, r) = \int_0^{2\pi} f\left(\sqrt{d^2 + r^2 + 2 d r\cos\varphi}\right)d\varphi,

the ring average :math:`A` in closed form:

- disk of radius :math:`R` and smooth edge (:class:`DiskSpatialModel`): the edge
  :math:`\frac12\mathrm{erfc}(k(s - R)/(wR))` is a mixture of sharp disks of radii
  :math:`R' \sim N(R, (wR/\sqrt2 k)^2)` (Gauss-Hermite nodes); a sharp disk of radius
  :math:`R'` covers the arc :math:`2\arccos\frac{d^2 + r^2 - R'^2}{2 d r}` of each ring,
  so :math:`g = f_0 [2\pi C(R' - d) + \int_{|d-R'|}^{d+R'} r P(r)\,\mathrm{arc}\,dr]` with
  :math:`C` the PSF's cumulative; the arc integral is taken in :math:`r = c - h\cos t`,
  which removes its square-root end points (Gauss-Legendre in :math:`t`);
- Gaussian (:class:`GaussianSpatialModel`, :math:`f = N e^{-(1-\cos s)/2a}`,
  :math:`a = 1 - \cos\sigma`): :math:`A = 2\pi N e^{-(d^2+r^2)/4a} I_0(d r / 2a)`,
  integrated in :math:`r` by Gauss-Legendre on panels finer than the PSF core and
  :math:`\sigma`.

The flat-sky geometry errs by ~:math:`\theta^2/12` relative at radius :math:`\theta`
(~1e-4 at 2 deg), well inside the PSF tables' own accuracy.
"""

from __future__ import annotations

import numpy as np

from ..models.spatial.sphere import DEG
from .radial import RadialSpline

__all__ = ["convolved_profile", "is_round"]

_HERMITE = np.polynomial.hermite_e.hermegauss(16)  # nodes, weights for N(0, 1)
_ARC_NODES = np.polynomial.legendre.leggauss(192)
_PANEL_NODES = np.polynomial.legendre.leggauss(8)


def is_round(spatial) -> bool:
    """Whether ``spatial`` is a circular disk or Gaussian whose size, shape and edge are
    frozen (its position may be free): :func:`convolved_profile` then applies.

    Decided by the parameters' ``frozen`` flags, not by what a particular fit frees, so
    that ``dataset.npred()`` and every fit of the same models compute the same counts.
    A free size goes through the FFT convolution on the pixel grid instead (see
    :func:`~skyfit.forward.response.extended_true`), which smooths the rim by about a
    pixel more: compare the statistics of models with the size frozen in both, or free
    in both.

    Examples
    --------
    >>> from skyfit.models.spatial import DiskSpatialModel
    >>> disk = DiskSpatialModel(r_0=0.3)
    >>> is_round(disk)  # r_0 is free by default
    False
    >>> disk.parameters["r_0"].frozen = True
    >>> is_round(disk)
    True
    """
    kind = type(spatial).__name__
    sizes = {"DiskSpatialModel": ("r_0", "e", "phi", "edge_width"),
             "GaussianSpatialModel": ("sigma", "e", "phi")}.get(kind)
    if sizes is None:
        return False
    pars = spatial.parameters
    return pars["e"].value == 0 and all(pars[name].frozen for name in sizes)


def convolved_profile(spatial, psf: RadialSpline) -> RadialSpline:
    """The brightness of a round source after the PSF, per PSF energy: a RadialSpline
    in deg, sr-1 (formulas in the module docstring), reaching the source's evaluation
    radius plus the PSF's. Its ``core_radius`` is the PSF's.

    Examples
    --------
    A 0.5 deg disk through a 0.1 deg Gaussian PSF keeps its flux, and its brightness
    at the centre:

    >>> from skyfit.models.spatial import DiskSpatialModel
    >>> rad = np.linspace(0, 0.6, 121)
    >>> density = np.exp(-0.5 * (rad / 0.1) ** 2) / (2 * np.pi * np.radians(0.1) ** 2)
    >>> psf = RadialSpline(rad, density[None], r_max=0.6)
    >>> psf.core_radius = 0.15
    >>> disk = DiskSpatialModel(r_0=0.5, frame="galactic")
    >>> g = convolved_profile(disk, psf)
    >>> d = np.linspace(0, g.r_max, 4001)
    >>> flux = np.sum(g(d)[0] * 2 * np.pi * d) * (d[1] - d[0]) * np.radians(1) ** 2
    >>> f0 = 1 / (2 * np.pi * (1 - np.cos(np.radians(0.5))))
    >>> round(float(flux), 4), round(float(g(np.array([0.0]))[0, 0] / f0), 4)
    (1.0, 1.0)
    """
    pars = spatial.canonical_values()
    size = float(spatial.evaluation_radius)
    core = float(psf.core_radius)
    extent = size + psf.r_max
    nodes = int(np.clip(np.ceil(extent / (core / 10.0)), 400, 4000))
    d = np.linspace(0.0, extent, nodes + 1)
    if type(spatial).__name__ == "DiskSpatialModel":
        values = _disk(d, pars["r_0"], pars["edge_width"], psf)
    else:
        values = _gaussian(d, pars["sigma"], psf, core)
    profile = RadialSpline(d, values, r_max=extent, nodes=nodes)
    profile.core_radius = core
    return profile


def _disk(d, radius, edge_width, psf):
    """Disk of radius ``radius`` deg and Gammapy's smooth edge through ``psf``: (N, D)."""
    from ..models.spatial.disk import EDGE_WIDTH_95, elliptical_cap_solid_angle

    f0 = 1.0 / float(elliptical_cap_solid_angle(radius * DEG, radius * DEG))
    sigma = edge_width * radius / (np.sqrt(2.0) * EDGE_WIDTH_95)
    cum_r, cum = _cumulative(psf)
    x, w = _HERMITE
    t, wt = _ARC_NODES
    t = 0.5 * np.pi * (t + 1.0)  # Gauss-Legendre on [0, pi]
    wt = 0.5 * np.pi * wt
    total = 0.0
    for xj, wj in zip(x, w / w.sum(), strict=True):
        rj = max(radius + sigma * xj, 0.0)
        inner = np.stack([np.interp(np.maximum(rj - d, 0.0), cum_r, c) for c in cum])
        lo, hi = np.abs(d - rj), d + rj
        c, h = 0.5 * (lo + hi), 0.5 * (hi - lo)  # h = min(d, rj)
        r = c[:, None] - h[:, None] * np.cos(t)[None, :]  # (D, T)
        with np.errstate(divide="ignore", invalid="ignore"):
            cos_arc = (d[:, None] ** 2 + r**2 - rj**2) / (2.0 * d[:, None] * r)
        arc = 2.0 * np.arccos(np.clip(np.nan_to_num(cos_arc, nan=1.0), -1.0, 1.0))
        weight = r * arc * (h[:, None] * np.sin(t)[None, :]) * wt  # (D, T)
        dens = psf(r.ravel()).reshape((-1, *r.shape))  # (N, D, T)
        ring = np.einsum("ndt,dt->nd", dens, weight)
        total = total + wj * (2.0 * np.pi * inner + ring)
    return f0 * DEG**2 * total


def _gaussian(d, sigma, psf, core):
    """Circular Gaussian of ``sigma`` deg (Gammapy's form on the sphere) through ``psf``."""
    from scipy.special import i0e

    a = 1.0 - np.cos(sigma * DEG)  # rad^2
    norm = 1.0 / (4.0 * np.pi * a * -np.expm1(-1.0 / a))
    step = 0.5 * min(core, sigma)
    edges = np.linspace(0.0, psf.r_max, int(np.ceil(psf.r_max / step)) + 1)
    x, w = _PANEL_NODES
    half = 0.5 * np.diff(edges)[:, None]
    r = ((edges[:-1, None] + edges[1:, None]) / 2 + half * x[None, :]).ravel()
    wr = (half * w[None, :]).ravel()
    dr, rr = d[:, None] * DEG, r[None, :] * DEG
    ring = 2.0 * np.pi * norm * np.exp(-((dr - rr) ** 2) / (4.0 * a)) * i0e(dr * rr / (2.0 * a))
    dens = psf(r)  # (N, R)
    return DEG**2 * np.einsum("nr,dr->nd", dens * (r * wr)[None, :], ring)


def _cumulative(psf: RadialSpline):
    """``C(rho) = int_0^rho r P(r) dr`` (deg^2 sr-1) on a fine grid, per PSF energy."""
    r = np.linspace(0.0, psf.r_max, 20001)
    y = r * psf(r)
    steps = 0.5 * (y[:, 1:] + y[:, :-1]) * (r[1] - r[0])
    return r, np.concatenate([np.zeros((y.shape[0], 1)), np.cumsum(steps, axis=1)], axis=1)
