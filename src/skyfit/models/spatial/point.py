"""Point source: :class:`PointSpatialModel`."""

from __future__ import annotations

from typing import ClassVar

from skyfit.models.parameter import Parameter

from .core import SpatialModel, lat_parameter, lon_parameter

__all__ = ["PointSpatialModel"]


class PointSpatialModel(SpatialModel):
    r"""Point source at ``(lon_0, lat_0)``.

    .. math::
        \phi(\mathrm{lon}, \mathrm{lat}) = \delta(\hat n - \hat n_0)

    Parameters (canonical units): ``lon_0`` (0 deg), ``lat_0`` (0 deg, in [-90, 90]).
    A point has no surface brightness to sample: the forward model evaluates the PSF
    profile at each pixel around the position instead (``is_point`` is True), so
    :meth:`evaluate` raises.

    Examples
    --------
    >>> model = PointSpatialModel(lon_0=83.63, lat_0=22.01)
    >>> model.is_point, model.evaluation_radius, model.frame
    (True, 0.0, 'icrs')
    """

    tag: ClassVar[str] = "PointSpatialModel"
    aliases: ClassVar[tuple[str, ...]] = ("point",)
    default_parameters: ClassVar[tuple[Parameter, ...]] = (lon_parameter(), lat_parameter())
    is_point: ClassVar[bool] = True

    @property
    def evaluation_radius(self) -> float:
        """0 deg: a point has no extension (the PSF sets the cutout)."""
        return 0.0

    @staticmethod
    def evaluate(lon, lat, lon_0, lat_0):
        """Not defined: a point source is a delta function on the sphere.

        Raises
        ------
        NotImplementedError
            Always; the forward model convolves points by evaluating the PSF profile at
            the angular distance of each pixel from ``(lon_0, lat_0)``.
        """
        raise NotImplementedError(
            "PointSpatialModel has no surface brightness (it is a delta function); "
            "points are handled by the forward model, which evaluates the PSF profile "
            "at each pixel (check `model.is_point` before calling `evaluate`)"
        )
