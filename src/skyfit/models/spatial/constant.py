"""Isotropic emission: :class:`ConstantSpatialModel`."""

from __future__ import annotations

import math
from typing import ClassVar

from skyfit._math import xp
from skyfit.models.parameter import Parameter

from .core import SpatialModel
from .sphere import floats

__all__ = ["ConstantSpatialModel"]


class ConstantSpatialModel(SpatialModel):
    r"""Spatially constant (isotropic) surface brightness.

    .. math::
        \phi(\mathrm{lon}, \mathrm{lat}) = v

    Parameters (canonical units): ``value`` :math:`v` (1 sr-1, frozen). As in Gammapy it
    is not normalised (``value = 1/(4 pi)`` integrates to 1 over the sphere), and it has
    no position: :attr:`evaluation_radius` is ``inf`` (no cutout, evaluate everywhere).

    Examples
    --------
    >>> import numpy as np
    >>> model = ConstantSpatialModel(value=2.0)
    >>> ConstantSpatialModel.evaluate(np.zeros(2), np.zeros(2), **model.canonical_values())
    array([2., 2.])
    """

    tag: ClassVar[str] = "ConstantSpatialModel"
    aliases: ClassVar[tuple[str, ...]] = ("const",)
    default_parameters: ClassVar[tuple[Parameter, ...]] = (
        Parameter("value", 1.0, "sr-1", frozen=True),
    )

    @property
    def evaluation_radius(self) -> float:
        """``inf``: the model covers the whole sky (Gammapy uses None)."""
        return math.inf

    @staticmethod
    def evaluate(lon, lat, value):
        """Surface brightness ``value`` (sr-1) at every position (broadcast to ``lon``)."""
        lon, lat, value = floats(lon, lat, value)
        m = xp(lon, lat, value)
        return value * m.ones_like(lon + lat)
