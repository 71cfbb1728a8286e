"""Projected thin shells: :class:`ShellSpatialModel` and :class:`Shell2SpatialModel`."""

from __future__ import annotations

from typing import ClassVar

from skyfit._math import xp
from skyfit.models.parameter import Parameter

from .core import SpatialModel, lat_parameter, lon_parameter
from .sphere import DEG, floats, sky_offset

__all__ = ["Shell2SpatialModel", "ShellSpatialModel", "shell_profile"]


def _sqrt_positive(m, q):
    """sqrt(max(q, 0)) with a finite (zero) gradient where q <= 0."""
    positive = q > 0
    return m.where(positive, m.sqrt(m.where(positive, q, 1.0)), 0.0)


def shell_profile(sep, r_in, r_out):
    r"""Projected uniform-emissivity shell between radii ``r_in`` and ``r_out`` (rad).

    .. math::
        \phi(\theta) = \frac{3}{2\pi(r_\mathrm{out}^3 - r_\mathrm{in}^3)}
        \left(\sqrt{\max(r_\mathrm{out}^2 - \theta^2, 0)}
        - \sqrt{\max(r_\mathrm{in}^2 - \theta^2, 0)}\right)

    (sr-1; the small-angle normalisation, as in Gammapy).

    Examples
    --------
    Brightest at the inner radius, zero outside the outer one:

    >>> import numpy as np
    >>> sep = np.radians([0.0, 0.5, 1.0, 2.0])
    >>> shell_profile(sep, np.radians(0.5), np.radians(1.0)).round(1)
    array([ 895.7, 1551.3,    0. ,    0. ])
    """
    sep, r_in, r_out = floats(sep, r_in, r_out)
    m = xp(sep, r_in, r_out)
    sep2 = sep * sep
    norm = 3.0 / (2.0 * m.pi * (r_out**3 - r_in**3))
    return norm * (_sqrt_positive(m, r_out**2 - sep2) - _sqrt_positive(m, r_in**2 - sep2))


class ShellSpatialModel(SpatialModel):
    r"""Projection of a uniformly emitting spherical shell, by inner radius and width.

    .. math::
        \phi(\theta) = \frac{3}{2\pi(r_\mathrm{out}^3 - r_\mathrm{in}^3)}
        \begin{cases}
        \sqrt{r_\mathrm{out}^2 - \theta^2} - \sqrt{r_\mathrm{in}^2 - \theta^2}
            & \theta < r_\mathrm{in} \\
        \sqrt{r_\mathrm{out}^2 - \theta^2} & r_\mathrm{in} \le \theta \le r_\mathrm{out} \\
        0 & \theta > r_\mathrm{out}
        \end{cases}

    with :math:`r_\mathrm{in}` = ``radius``, :math:`r_\mathrm{out}` = ``radius + width``
    and :math:`\theta` the angular separation (rad). Small-angle normalisation, as in
    Gammapy. Continuous, but with infinite slope in :math:`\theta` at both radii.

    Parameters (canonical units): ``lon_0``, ``lat_0`` (0 deg), ``radius`` (1 deg),
    ``width`` (0.2 deg).

    Examples
    --------
    >>> model = ShellSpatialModel(radius=0.5, width=0.1)
    >>> round(model.evaluation_radius, 12)
    0.6
    >>> float(ShellSpatialModel.evaluate(0.0, 0.7, **model.canonical_values()))
    0.0
    """

    tag: ClassVar[str] = "ShellSpatialModel"
    aliases: ClassVar[tuple[str, ...]] = ("shell",)
    default_parameters: ClassVar[tuple[Parameter, ...]] = (
        lon_parameter(),
        lat_parameter(),
        Parameter("radius", 1.0, "deg"),
        Parameter("width", 0.2, "deg"),
    )

    @property
    def evaluation_radius(self) -> float:
        """Outer radius ``radius + width`` (deg), as Gammapy."""
        return self._deg("radius") + self._deg("width")

    @property
    def sampling_scale(self) -> float:
        """Sub-pixel size (deg) that resolves the shell's sharp rims: a quarter of its width
        (at most ``radius / 40``)."""
        width, radius = self._deg("width"), self._deg("radius")
        return max(min(width / 4.0, radius / 40.0), 1e-6)

    @staticmethod
    def evaluate(lon, lat, lon_0, lat_0, radius, width):
        """Surface brightness (sr-1); angles in deg. Formula in the class docstring."""
        offset = sky_offset(lon, lat, lon_0, lat_0)
        return shell_profile(offset.sep, radius * DEG, (radius + width) * DEG)


class Shell2SpatialModel(SpatialModel):
    r"""Projected shell parametrised by outer radius and relative width.

    Same profile as :class:`ShellSpatialModel` with :math:`r_\mathrm{out} = r_0` and
    :math:`r_\mathrm{in} = (1 - \eta)\, r_0`.

    Parameters (canonical units): ``lon_0``, ``lat_0`` (0 deg), ``r_0`` (1 deg), ``eta``
    (0.2, in [0.02, 1]).

    Examples
    --------
    >>> model = Shell2SpatialModel(r_0=0.5, eta=0.2)
    >>> model.evaluation_radius
    0.5
    >>> float(Shell2SpatialModel.evaluate(0.0, 0.45, **model.canonical_values())) > 0
    True
    """

    tag: ClassVar[str] = "Shell2SpatialModel"
    aliases: ClassVar[tuple[str, ...]] = ("shell2",)
    default_parameters: ClassVar[tuple[Parameter, ...]] = (
        lon_parameter(),
        lat_parameter(),
        Parameter("r_0", 1.0, "deg"),
        Parameter("eta", 0.2, "", min=0.02, max=1.0),
    )

    @property
    def evaluation_radius(self) -> float:
        """Outer radius ``r_0`` (deg), as Gammapy."""
        return self._deg("r_0")

    @staticmethod
    def evaluate(lon, lat, lon_0, lat_0, r_0, eta):
        """Surface brightness (sr-1); angles in deg. Formula in the class docstring."""
        offset = sky_offset(lon, lat, lon_0, lat_0)
        return shell_profile(offset.sep, (1.0 - eta) * r_0 * DEG, r_0 * DEG)
