"""Sky models: parameters, spectral and spatial families, SkyModel, backgrounds, YAML I/O.

Examples
--------
>>> from skyfit.models import FoVBackgroundModel, Models
>>> models = Models([FoVBackgroundModel("Fermi-LAT")])
>>> models.parameter("norm").value
1.0
"""

from __future__ import annotations

from .base import Model
from .collection import Models
from .io import ModelFileError, models_from_dict, models_to_dict, read_models, write_models
from .parameter import Parameter, Parameters
from .priors import (
    PRIORS,
    GaussianPrior,
    GeneralizedGaussianPrior,
    HalfNormalPrior,
    LogNormalPrior,
    LogUniformPrior,
    MultivariateGaussianPrior,
    Prior,
    UniformPrior,
    prior_from_dict,
)
from .sky import FoVBackgroundModel, SkyModel
from .spatial import *  # noqa: F403
from .spatial import SPATIAL_MODELS, spatial_model_from_tag
from .spatial import __all__ as _spatial_all
from .spectral import *  # noqa: F403
from .spectral import SPECTRAL_MODELS, spectral_model_from_tag
from .spectral import __all__ as _spectral_all

__all__ = [
    "PRIORS",
    "SPATIAL_MODELS",
    "SPECTRAL_MODELS",
    "FoVBackgroundModel",
    "GaussianPrior",
    "GeneralizedGaussianPrior",
    "HalfNormalPrior",
    "LogNormalPrior",
    "LogUniformPrior",
    "Model",
    "ModelFileError",
    "Models",
    "MultivariateGaussianPrior",
    "Parameter",
    "Parameters",
    "Prior",
    "SkyModel",
    "UniformPrior",
    "models_from_dict",
    "models_to_dict",
    "prior_from_dict",
    "read_models",
    "spatial_model_from_tag",
    "spectral_model_from_tag",
    "write_models",
]
__all__ += [n for n in (*_spectral_all, *_spatial_all) if n not in __all__]
