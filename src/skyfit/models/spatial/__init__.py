"""Spatial models (Gammapy's spatial family) and their registry.

Each model is a :class:`~skyfit.models.base.Model` with a ``frame`` (``"icrs"`` or
``"galactic"``), a class flag ``is_point`` and an ``evaluation_radius`` (deg). The
analytic models have a pure ``evaluate(lon, lat, **pars)`` (``lon``/``lat`` and angle
parameters in deg, result in sr-1) working on numpy arrays and PyTensor variables alike;
:class:`TemplateSpatialModel` interpolates a sky map (numpy only).

Examples
--------
>>> from skyfit.models.spatial import spatial_model_from_tag
>>> spatial_model_from_tag("gauss").__name__
'GaussianSpatialModel'
"""

from __future__ import annotations

from .constant import ConstantSpatialModel
from .core import SpatialModel
from .disk import DiskSpatialModel
from .gaussian import GaussianSpatialModel
from .gengauss import GeneralizedGaussianSpatialModel
from .point import PointSpatialModel
from .shell import Shell2SpatialModel, ShellSpatialModel
from .template import TemplateSpatialModel

__all__ = [
    "SPATIAL_MODELS",
    "ConstantSpatialModel",
    "DiskSpatialModel",
    "GaussianSpatialModel",
    "GeneralizedGaussianSpatialModel",
    "PointSpatialModel",
    "Shell2SpatialModel",
    "ShellSpatialModel",
    "SpatialModel",
    "TemplateSpatialModel",
    "spatial_model_from_tag",
]

_CLASSES: tuple[type[SpatialModel], ...] = (
    PointSpatialModel,
    GaussianSpatialModel,
    GeneralizedGaussianSpatialModel,
    DiskSpatialModel,
    ShellSpatialModel,
    Shell2SpatialModel,
    ConstantSpatialModel,
    TemplateSpatialModel,
)

SPATIAL_MODELS: dict[str, type[SpatialModel]] = {
    name: cls for cls in _CLASSES for name in (cls.tag, *cls.aliases)
}
"""Gammapy type names and aliases (``"gauss"``, ``"disk"``...) mapped to classes."""


def spatial_model_from_tag(tag: str) -> type[SpatialModel]:
    """The spatial model class for a Gammapy type name or alias.

    Raises
    ------
    ValueError
        If the tag is unknown; the message lists the known tags.

    Examples
    --------
    >>> spatial_model_from_tag("gauss").__name__
    'GaussianSpatialModel'
    >>> spatial_model_from_tag("PointSpatialModel")(lon_0=1.0, frame="galactic")
    PointSpatialModel(Parameters(lon_0=1 deg, lat_0=0 deg), frame='galactic')
    """
    try:
        return SPATIAL_MODELS[tag]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown spatial model type {tag!r}; known: {', '.join(SPATIAL_MODELS)}"
        ) from None
