"""Generalised Gaussian: :class:`GeneralizedGaussianSpatialModel`."""

from __future__ import annotations

from typing import ClassVar

from skyfit._math import xp
from skyfit.models.parameter import Parameter

from .core import SpatialModel, lat_parameter, lon_parameter
from .gaussian import eccentricity_parameter, phi_parameter
from .sphere import DEG, effective_radius, floats, sky_offset

__all__ = ["GeneralizedGaussianSpatialModel"]


class GeneralizedGaussianSpatialModel(SpatialModel):
    r"""Generalised Gaussian, optionally elliptical (Gammapy's formula).

    With :math:`\theta` the angular separation from ``(lon_0, lat_0)`` and
    :math:`r_\mathrm{eff}` the radius, in the direction of the position, of the ellipse
    of semi-axes :math:`r_0` and :math:`b = r_0\sqrt{1-e^2}` (major axis at position
    angle :math:`\phi`, east of north),

    .. math::
        \phi(\theta) = \frac{1}{2\pi\, r_0\, b\, \eta\, \Gamma(2\eta)}
        \exp\left[-\left(\frac{\theta}{r_\mathrm{eff}}\right)^{1/\eta}\right].

    :math:`\eta = 1/2` is a Gaussian of :math:`\sigma = r_0/\sqrt 2`, :math:`\eta = 1` a
    Laplace profile, :math:`\eta \to 0` a disk. The normalisation is the small-angle one
    (as in Gammapy): exact on the plane, low by a relative :math:`\sim r_0^2` (rad) on the
    sphere, so large models integrate to slightly less than 1.

    Parameters (canonical units): ``lon_0``, ``lat_0`` (0 deg), ``r_0`` (1 deg), ``eta``
    (0.5, in [0.01, 1]), ``e`` (0, in [0, 1], frozen), ``phi`` (0 deg, frozen).

    Examples
    --------
    >>> model = GeneralizedGaussianSpatialModel(r_0=0.3, eta=0.25)
    >>> round(model.evaluation_radius, 12)
    0.9
    >>> float(GeneralizedGaussianSpatialModel.evaluate(0.0, 0.3, **model.canonical_values())) > 0
    True
    """

    tag: ClassVar[str] = "GeneralizedGaussianSpatialModel"
    aliases: ClassVar[tuple[str, ...]] = ("gauss-general",)
    default_parameters: ClassVar[tuple[Parameter, ...]] = (
        lon_parameter(),
        lat_parameter(),
        Parameter("r_0", 1.0, "deg"),
        Parameter("eta", 0.5, "", min=0.01, max=1.0),
        eccentricity_parameter(),
        phi_parameter(),
    )

    @property
    def evaluation_radius(self) -> float:
        """:math:`r_0 (1 + 8\\eta)` (deg), as Gammapy."""
        return self._deg("r_0") * (1.0 + 8.0 * self.parameters["eta"].value)

    @staticmethod
    def evaluate(lon, lat, lon_0, lat_0, r_0, eta, e, phi):
        """Surface brightness (sr-1); angles in deg. Formula in the class docstring."""
        r_0, eta, e, phi = floats(r_0, eta, e, phi)
        m = xp(lon, lat, lon_0, lat_0, r_0, eta, e, phi)
        offset = sky_offset(lon, lat, lon_0, lat_0)
        r_0r = r_0 * DEG
        minor, r_eff = effective_radius(r_0r, e, phi * DEG, offset)
        z = offset.sep / r_eff
        positive = z > 0
        # z ** (1 / eta) with a finite gradient (zero) at the centre, also w.r.t. eta
        power = m.where(positive, m.exp(m.log(m.where(positive, z, 1.0)) / eta), 0.0)
        norm = 1.0 / (2.0 * m.pi * minor * r_0r * eta * m.gamma(2.0 * eta))
        return norm * m.exp(-power)
