"""The forward model: npred per dataset as a PyTensor graph, and the Cash statistic."""

from .likelihood import Likelihood
from .npred import DatasetPredictor
from .stat import cash

__all__ = ["DatasetPredictor", "Likelihood", "cash"]
