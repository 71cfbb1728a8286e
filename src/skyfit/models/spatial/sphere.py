"""Geometry on the unit sphere for spatial models, for numpy arrays and PyTensor variables.

The functions follow astropy's formulas (Vincenty's angular separation and the position
angle east of north) so that values agree with Gammapy to rounding, and they are written
to keep gradients finite everywhere: at the source centre (zero separation, undefined
position angle) the separation and the position angle get a zero gradient instead of NaN.

Examples
--------
>>> import numpy as np
>>> from skyfit.models.spatial.sphere import angular_separation, position_angle
>>> round(float(np.rad2deg(angular_separation(0.0, 0.0, np.pi / 2, 0.0))), 12)
90.0
>>> round(float(np.rad2deg(position_angle(0.0, 0.0, 0.0, 0.1))), 12)
0.0
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from skyfit._math import is_symbolic, xp

__all__ = [
    "DEG",
    "SkyOffset",
    "angular_separation",
    "chord_length",
    "effective_radius",
    "floats",
    "position_angle",
    "sky_offset",
]

DEG = np.pi / 180.0
"""Radians per degree."""


def floats(*args) -> tuple:
    """Numeric arguments as float64 arrays; PyTensor variables unchanged.

    PyTensor turns a Python float that float32 represents exactly (``0.75``, ``1.0``)
    into a float32 constant, so ``pt.sqrt(1 - e**2)`` with ``e = 0.5`` would be computed
    in single precision; converting numeric inputs first keeps every graph in float64.

    Examples
    --------
    >>> import pytensor.tensor as pt
    >>> x = pt.dscalar("x")
    >>> one, y = floats(1, x)
    >>> one.dtype, y is x
    (dtype('float64'), True)
    """
    return tuple(a if is_symbolic(a) else np.asarray(a, dtype=np.float64) for a in args)


class SkyOffset(NamedTuple):
    """Offset of positions from a centre, all in radians (or dimensionless).

    Attributes
    ----------
    sep : array or tensor
        Angular separation (rad); its gradient is zero at the centre.
    one_minus_cos : array or tensor
        :math:`1 - \\cos(\\mathrm{sep})`, computed as :math:`2\\,\\mathrm{hav}` (accurate
        and smooth at small separations).
    cos_pa, sin_pa : array or tensor
        Cosine and sine of the position angle of the position seen from the centre
        (east of north); at the centre itself they are 1 and 0 (position angle 0, as
        astropy's ``arctan2(0, 0)``).

    Examples
    --------
    >>> offset = sky_offset(1.0, 0.0, 0.0, 0.0)  # 1 deg east of the centre
    >>> isinstance(offset, SkyOffset), round(float(np.degrees(offset.sep)), 6)
    (True, 1.0)
    >>> float(offset.cos_pa), float(offset.sin_pa)
    (0.0, 1.0)
    """

    sep: Any
    one_minus_cos: Any
    cos_pa: Any
    sin_pa: Any


def _components(lon, lat, lon_0, lat_0):
    """North (x), east (y) components and the cosine (d) of the offset; radians in."""
    lon, lat, lon_0, lat_0 = floats(lon, lat, lon_0, lat_0)
    m = xp(lon, lat, lon_0, lat_0)
    dlon = lon - lon_0
    sin_lat, cos_lat = m.sin(lat), m.cos(lat)
    sin_lat_0, cos_lat_0 = m.sin(lat_0), m.cos(lat_0)
    cos_dlon = m.cos(dlon)
    y = m.sin(dlon) * cos_lat
    x = cos_lat_0 * sin_lat - sin_lat_0 * cos_lat * cos_dlon
    d = sin_lat_0 * sin_lat + cos_lat_0 * cos_lat * cos_dlon
    return m, x, y, d


def _safe_norm(m, x, y):
    """(nonzero mask, sqrt(x^2 + y^2) with a zero gradient where it vanishes, safe divisor)."""
    rho2 = x * x + y * y
    nonzero = rho2 > 0
    root = m.sqrt(m.where(nonzero, rho2, 1.0))
    return nonzero, m.where(nonzero, root, 0.0), root


def angular_separation(lon_0, lat_0, lon, lat):
    """Angular separation (rad) between two positions given in radians (Vincenty's formula).

    Symmetric in its two positions; gradients are finite (zero) at zero separation.

    Examples
    --------
    >>> sep = angular_separation(0.0, 0.0, np.radians(3.0), np.radians(4.0))
    >>> round(float(np.degrees(sep)), 4)  # a little less than 5 on the sphere
    4.9985
    """
    m, x, y, d = _components(lon, lat, lon_0, lat_0)
    _, rho, _ = _safe_norm(m, x, y)
    return m.arctan2(rho, d)


def chord_length(lon_0, lat_0, lon, lat):
    """Chord between two positions on the unit sphere, ``2 sin(separation / 2)`` (radians in).

    Where ``(lon, lat)`` are fixed numpy arrays (the sub-pixels of a cutout) and only the
    centre is a PyTensor variable, this costs one square root per position, against the
    several trigonometric functions of :func:`angular_separation`; profiles tabulated
    against the chord (:meth:`skyfit.forward.radial.RadialSpline.of_chord`) use it. The
    differences of unit vectors keep full relative precision at small separations, and
    the gradient is zero where the positions coincide.

    Examples
    --------
    >>> c = chord_length(0.0, 0.0, np.radians(3.0), np.radians(4.0))
    >>> round(float(np.degrees(2 * np.arcsin(c / 2))), 4)
    4.9985
    """
    m = xp(lon_0, lat_0, lon, lat)
    cos_lat = m.cos(lat)
    cos_lat_0 = m.cos(lat_0)
    dx = cos_lat * m.cos(lon) - cos_lat_0 * m.cos(lon_0)
    dy = cos_lat * m.sin(lon) - cos_lat_0 * m.sin(lon_0)
    dz = m.sin(lat) - m.sin(lat_0)
    q = dx * dx + dy * dy + dz * dz
    nonzero = q > 0
    return m.where(nonzero, m.sqrt(m.where(nonzero, q, 1.0)), 0.0)


def position_angle(lon_0, lat_0, lon, lat):
    """Position angle (rad, east of north) of ``(lon, lat)`` seen from ``(lon_0, lat_0)``.

    Same convention as :func:`astropy.coordinates.position_angle`, but not wrapped to
    [0, 2 pi): the result lies in (-pi, pi]. It is 0 where the two positions coincide.

    Examples
    --------
    North, east and west of the origin:

    >>> lon, lat = np.radians([0.0, 1.0, -1.0]), np.radians([1.0, 0.0, 0.0])
    >>> np.degrees(position_angle(0.0, 0.0, lon, lat)).round(6)
    array([  0.,  90., -90.])
    """
    m, x, y, _ = _components(lon, lat, lon_0, lat_0)
    nonzero, _, _ = _safe_norm(m, x, y)
    return m.arctan2(m.where(nonzero, y, 0.0), m.where(nonzero, x, 1.0))


def sky_offset(lon, lat, lon_0, lat_0) -> SkyOffset:
    """Offset of ``(lon, lat)`` from the centre ``(lon_0, lat_0)``, all inputs in deg.

    Returns a :class:`SkyOffset` of separation, :math:`1-\\cos` separation and the cosine
    and sine of the position angle. Longitudes wrap naturally (only trigonometric
    functions of the longitude difference are used).

    Examples
    --------
    >>> offset = sky_offset([0.0, 359.0], [1.0, 0.0], 0.0, 0.0)  # north; 1 deg west
    >>> np.degrees(offset.sep).round(6), offset.sin_pa.round(6)
    (array([1., 1.]), array([ 0., -1.]))
    """
    lon, lat, lon_0, lat_0 = floats(lon, lat, lon_0, lat_0)
    lon_r, lat_r, lon_0r, lat_0r = lon * DEG, lat * DEG, lon_0 * DEG, lat_0 * DEG
    m, x, y, d = _components(lon_r, lat_r, lon_0r, lat_0r)
    nonzero, rho, safe = _safe_norm(m, x, y)
    sep = m.arctan2(rho, d)
    half_dlat = m.sin(0.5 * (lat_r - lat_0r))
    half_dlon = m.sin(0.5 * (lon_r - lon_0r))
    hav = half_dlat * half_dlat + m.cos(lat_r) * m.cos(lat_0r) * half_dlon * half_dlon
    cos_pa = m.where(nonzero, x / safe, 1.0)
    sin_pa = m.where(nonzero, y / safe, 0.0)
    return SkyOffset(sep=sep, one_minus_cos=2.0 * hav, cos_pa=cos_pa, sin_pa=sin_pa)


def effective_radius(major, e, phi, offset: SkyOffset):
    r"""Radius of an ellipse in the direction of each position (Gammapy's ``compute_sigma_eff``).

    .. math::
        b = a\sqrt{1-e^2},\qquad
        r_\mathrm{eff} = \frac{a b}{\sqrt{a^2\sin^2(\phi-\phi_0) + b^2\cos^2(\phi-\phi_0)}}

    with :math:`\phi_0` the position angle of the position seen from the centre and
    :math:`\phi` the position angle of the major axis (east of north).

    Parameters
    ----------
    major : float or tensor
        Semi-major axis :math:`a` (rad).
    e : float or tensor
        Eccentricity, :math:`0 \le e < 1`.
    phi : float or tensor
        Position angle of the major axis (rad).
    offset : SkyOffset
        From :func:`sky_offset`.

    Returns
    -------
    minor, r_eff : array or tensor
        Semi-minor axis :math:`b` and effective radius (rad).

    Examples
    --------
    Major axis north-south (``phi = 0``): the radius is ``a`` to the north, ``b`` to the
    east.

    >>> offset = sky_offset([0.0, 1.0], [1.0, 0.0], 0.0, 0.0)
    >>> minor, r_eff = effective_radius(np.radians(1.0), 0.8, 0.0, offset)
    >>> round(float(np.degrees(minor)), 6), np.degrees(r_eff).round(6)
    (0.6, array([1. , 0.6]))
    """
    major, e, phi = floats(major, e, phi)
    m = xp(major, e, phi, *offset)
    minor = major * m.sqrt(1.0 - e * e)
    sin_phi, cos_phi = m.sin(phi), m.cos(phi)
    sin_d = sin_phi * offset.cos_pa - cos_phi * offset.sin_pa
    cos_d = cos_phi * offset.cos_pa + sin_phi * offset.sin_pa
    denom = m.sqrt((major * sin_d) ** 2 + (minor * cos_d) ** 2)
    return minor, major * minor / denom
