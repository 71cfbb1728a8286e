"""Bayesian inference: PyMC NUTS from the fit's PyTensor graph, Laplace draws, ArviZ reports.

The only skyfit package that imports PyMC and ArviZ (matplotlib only inside
:func:`report`). ``import skyfit`` and ``import skyfit.fit`` never import it.

* :func:`build_model` -- the PyMC model (same forward graph as the fit, Poisson likelihood
  per dataset, priors from the parameters);
* :func:`sample` -- NUTS (nutpie where installed, else PyMC) -> ArviZ ``DataTree``;
* :func:`laplace` -- Gaussian draws at the MAP in the same layout;
* :func:`report` -- Markdown diagnostics report with PNG figures;
* :func:`compare` -- PSIS-LOO / WAIC model comparison;
* :func:`cli_sample` -- the ``skyfit sample`` command line (MAP, NUTS, Laplace, report).
"""

from .cli import cli_sample, map_estimate
from .compare import compare, joint_log_likelihood, waic
from .model import BayesModel, MissingPriorError, build_model
from .report import diagnostics, report
from .sampling import laplace, sample

__all__ = [
    "BayesModel",
    "MissingPriorError",
    "build_model",
    "cli_sample",
    "compare",
    "diagnostics",
    "joint_log_likelihood",
    "laplace",
    "map_estimate",
    "report",
    "sample",
    "waic",
]
