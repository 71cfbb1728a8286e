"""Gaussian on the sphere: :class:`GaussianSpatialModel`."""

from __future__ import annotations

from typing import ClassVar

from skyfit._math import xp
from skyfit.models.parameter import Parameter

from .core import SpatialModel, lat_parameter, lon_parameter
from .sphere import DEG, effective_radius, floats, sky_offset

__all__ = ["GaussianSpatialModel", "eccentricity_parameter", "phi_parameter"]


def eccentricity_parameter() -> Parameter:
    """Gammapy's ``e`` template: 0, in [0, 1], frozen.

    Examples
    --------
    >>> par = eccentricity_parameter()
    >>> par.name, par.value, (par.min, par.max), par.frozen
    ('e', 0.0, (0.0, 1.0), True)
    """
    return Parameter("e", 0.0, "", min=0.0, max=1.0, frozen=True)


def phi_parameter() -> Parameter:
    """Gammapy's ``phi`` template: 0 deg, in [-180, 180], frozen.

    Examples
    --------
    >>> par = phi_parameter()
    >>> par.name, par.unit, (par.min, par.max), par.frozen
    ('phi', 'deg', (-180.0, 180.0), True)
    """
    return Parameter("phi", 0.0, "deg", min=-180.0, max=180.0, frozen=True)


class GaussianSpatialModel(SpatialModel):
    r"""Two-dimensional Gaussian on the sphere, optionally elliptical (Gammapy's formula).

    With :math:`\theta` the angular separation from ``(lon_0, lat_0)``,

    .. math::
        \phi(\theta) = N \exp\left(-\frac{1 - \cos\theta}{2 A}\right),
        \qquad A = 1 - \cos\sigma_\mathrm{eff},

    where for :math:`e = 0`, :math:`\sigma_\mathrm{eff} = \sigma` and
    :math:`N = 1 / (4\pi A (1 - e^{-1/A}))` (exact normalisation on the sphere, for
    any :math:`\sigma`); for :math:`e > 0`, :math:`\sigma_\mathrm{eff}` is the radius of
    the ellipse of semi-axes :math:`\sigma` and :math:`\sigma\sqrt{1-e^2}` (major axis at
    position angle :math:`\phi`, east of north) in the direction of the position (see
    :func:`~skyfit.models.spatial.sphere.effective_radius`) and
    :math:`N = 1 / (2\pi\sigma^2\sqrt{1-e^2})` (the small-angle normalisation, as in
    Gammapy; so the normalisation jumps by a relative :math:`\sim\sigma^2/12` at
    :math:`e = 0`).

    Parameters (canonical units): ``lon_0``, ``lat_0`` (0 deg), ``sigma`` (1 deg, >= 0),
    ``e`` (0, in [0, 1], frozen), ``phi`` (0 deg, frozen).

    Examples
    --------
    >>> model = GaussianSpatialModel(lon_0=10.0, lat_0=-5.0, sigma=0.2)
    >>> model.evaluation_radius
    1.0
    >>> value = GaussianSpatialModel.evaluate(10.0, -5.0, **model.canonical_values())
    >>> round(float(value) * 2 * 3.141592653589793 * (0.2 * 3.141592653589793 / 180) ** 2, 5)
    1.0
    """

    tag: ClassVar[str] = "GaussianSpatialModel"
    aliases: ClassVar[tuple[str, ...]] = ("gauss",)
    default_parameters: ClassVar[tuple[Parameter, ...]] = (
        lon_parameter(),
        lat_parameter(),
        Parameter("sigma", 1.0, "deg", min=0.0),
        eccentricity_parameter(),
        phi_parameter(),
    )

    @property
    def evaluation_radius(self) -> float:
        """5 sigma (deg), as Gammapy."""
        return 5.0 * self._deg("sigma")

    @staticmethod
    def evaluate(lon, lat, lon_0, lat_0, sigma, e, phi):
        """Surface brightness (sr-1); angles in deg. Formula in the class docstring."""
        sigma, e, phi = floats(sigma, e, phi)
        m = xp(lon, lat, lon_0, lat_0, sigma, e, phi)
        offset = sky_offset(lon, lat, lon_0, lat_0)
        sigma_r = sigma * DEG
        minor, sigma_eff = effective_radius(sigma_r, e, phi * DEG, offset)
        a_eff = 2.0 * m.sin(0.5 * sigma_eff) ** 2
        a_0 = 2.0 * m.sin(0.5 * sigma_r) ** 2
        norm_round = 1.0 / (4.0 * m.pi * a_0 * -m.expm1(-1.0 / a_0))
        norm_elliptical = 1.0 / (2.0 * m.pi * sigma_r * minor)
        norm = m.where(e > 0, norm_elliptical, norm_round)
        return norm * m.exp(-0.5 * offset.one_minus_cos / a_eff)
