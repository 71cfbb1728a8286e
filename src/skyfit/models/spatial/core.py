"""Shared base class of the spatial models."""

from __future__ import annotations

from typing import ClassVar

from skyfit.models.base import Model
from skyfit.models.parameter import Parameter

__all__ = ["FRAMES", "SpatialModel", "lat_parameter", "lon_parameter"]

FRAMES = ("icrs", "galactic")


def lon_parameter() -> Parameter:
    """Gammapy's ``lon_0`` template: 0 deg, unbounded.

    Examples
    --------
    >>> par = lon_parameter()
    >>> par.name, par.value, par.unit, par.min, par.max
    ('lon_0', 0.0, 'deg', nan, nan)
    """
    return Parameter("lon_0", 0.0, "deg")


def lat_parameter() -> Parameter:
    """Gammapy's ``lat_0`` template: 0 deg, bounded to [-90, 90].

    Examples
    --------
    >>> par = lat_parameter()
    >>> par.name, par.unit, par.min, par.max
    ('lat_0', 'deg', -90.0, 90.0)
    """
    return Parameter("lat_0", 0.0, "deg", min=-90.0, max=90.0)


class SpatialModel(Model):
    """Base of the spatial models: a :class:`~skyfit.models.base.Model` with a frame.

    Parameters
    ----------
    frame : {"icrs", "galactic"}
        Frame of ``lon_0``/``lat_0`` and of the ``lon``/``lat`` passed to ``evaluate``.
    **values
        Parameter values (floats in the default unit, Quantities or Parameters).

    Examples
    --------
    >>> from skyfit.models.spatial import GaussianSpatialModel
    >>> model = GaussianSpatialModel(lon_0=184.56, lat_0=-5.79, sigma=0.2)
    >>> isinstance(model, SpatialModel), model.frame, model.is_point
    (True, 'icrs', False)
    >>> round(model.evaluation_radius, 3)
    1.0
    """

    is_point: ClassVar[bool] = False

    def __init__(self, frame: str = "icrs", **values) -> None:
        super().__init__(**values)
        frame = str(frame).lower()
        if frame not in FRAMES:
            raise ValueError(f"unknown frame {frame!r}; use one of {FRAMES}")
        self.frame = frame

    @property
    def evaluation_radius(self) -> float:
        """Radius (deg) around ``lon_0``/``lat_0`` beyond which emission is negligible."""
        raise NotImplementedError

    def _deg(self, name: str) -> float:
        """Current value of an angle parameter in deg."""
        par = self.parameters[name]
        return par.value * par.factor_to("deg")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.parameters!r}, frame={self.frame!r})"
