"""The PyMC model of datasets and models, built from the fit's own PyTensor graph.

:func:`build_model` builds :class:`skyfit.forward.Likelihood` (without priors) and replaces
its input vector ``theta`` by PyMC variables, one per free parameter, with
:func:`pytensor.graph.replace.graph_replace`, which uses the PyMC variables themselves
(``clone_replace`` would copy them); the forward model is not written twice. The
Poisson log-likelihood of the fitted bins (``mask_safe & mask_fit``) is ``-cash / 2 -
ln n!``: the fit statistic up to a constant. Where no predicted count can be negative
(:func:`counts_stay_non_negative`) it enters as one ``pm.Potential`` of the statistic
itself, computed like the fit's on the bins with counts (the gradient of an npred cube
costs several times more); the samplers add the pointwise values ArviZ needs for LOO per
draw. Otherwise (or with ``counts_as_data``) each dataset adds one observed
``pm.Poisson`` over its fitted bins, which floors the predicted counts as the fit does.
Priors enter as one ``pm.Potential`` made
by the same ``Prior.stat`` code that MAP fits use (``ln p = -stat / 2``, Gammapy's
weights included), and each parameter is sampled on an unconstrained variable chosen by
:func:`skyfit.bayes.transforms.support_of`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.special import gammaln

from ..forward import Likelihood
from ..forward.stat import TRUNCATION_VALUE
from ..models import Models
from .transforms import Support, SupportTransform, support_of

__all__ = ["LOG_LIKELIHOOD", "BayesModel", "MissingPriorError", "build_model",
           "counts_stay_non_negative", "model_layout", "parameter_names"]


class MissingPriorError(ValueError):
    """Free parameters that have neither a prior nor finite bounds.

    Examples
    --------
    >>> from skyfit.datasets.synthetic import synthetic_dataset
    >>> from skyfit.models import FoVBackgroundModel
    >>> ds = synthetic_dataset(npix=(4, 4), energy_edges=[0.1, 1, 10],
    ...                        energy_true_edges=[0.05, 0.5, 5, 20])
    >>> models = Models([FoVBackgroundModel("synthetic")])
    >>> try:
    ...     build_model([ds], models)  # the norm has no prior and no bounds
    ... except MissingPriorError as exc:
    ...     print(exc)  # doctest: +ELLIPSIS
    sampling needs a prior for every free parameter; ...: ['synthetic-bkg.norm']. ...
    """


@dataclass
class BayesModel:
    """A PyMC model and what is needed to read its draws back as skyfit parameters.

    Attributes
    ----------
    model : pymc.Model
        Free parameters (named :attr:`names`), the likelihood (see :attr:`pointwise`) and
        the ``log_prior`` potential.
    likelihood : Likelihood
        The forward graph the model was cloned from (``priors=False``), with compiled
        npred functions for posterior predictive checks.
    names : list of str
        Posterior variable names, aligned with ``likelihood.free``: the short parameter
        name where it is unique in the models, else the qualified name.
    qualified : list of str
        Qualified names (``"<component>.<parameter>"``), aligned with :attr:`names`.
    supports : list of Support or None
        Support and sampling transform of each free parameter (None: no proper prior).
    observed : list of str
        Observed-variable name per dataset (the dataset name, ``counts_<name>`` if that
        clashes with a parameter name).
    bins : list of ndarray
        Flat indices (into the ``(energy, lat, lon)`` cube) of the fitted bins per dataset.
    counts : list of ndarray
        Observed counts in those bins.
    pointwise : bool
        How :attr:`model` holds the likelihood. True: one observed Poisson per dataset
        (named :attr:`observed`, dimension ``"<observed>_bin"``) over its npred cube, as
        PyMC's pointwise log-likelihood needs. False (:func:`build_model` chooses it
        where :func:`counts_stay_non_negative`): the same log-likelihood summed, from
        the fit's statistic (the bins with counts, no npred cube; several times faster
        per gradient), as the potential :data:`LOG_LIKELIHOOD`; the samplers then add
        the pointwise values per draw themselves.

    Examples
    --------
    Made by :func:`build_model`, or without the PyMC model by :func:`model_layout`:

    >>> from skyfit.datasets.synthetic import synthetic_dataset
    >>> from skyfit.models import FoVBackgroundModel
    >>> ds = synthetic_dataset(npix=(4, 4), energy_edges=[0.1, 1, 10],
    ...                        energy_true_edges=[0.05, 0.5, 5, 20])
    >>> models = Models([FoVBackgroundModel("synthetic")])
    >>> bm = model_layout([ds], models)
    >>> isinstance(bm, BayesModel), bm.names, bm.qualified, bm.observed
    (True, ['norm'], ['synthetic-bkg.norm'], ['synthetic'])
    >>> bm.start_dict({"synthetic-bkg.norm": 2.0})
    {'norm': 2.0}
    """

    model: object
    likelihood: Likelihood
    names: list[str]
    qualified: list[str]
    supports: list[Support | None]
    observed: list[str]
    bins: list[np.ndarray]
    counts: list[np.ndarray] = field(repr=False)
    pointwise: bool = True

    @property
    def free(self) -> list:
        return self.likelihood.free

    def start_dict(self, start=None) -> dict[str, float]:
        """Start values by variable name, moved strictly inside each support.

        ``start``: None (current parameter values), a vector aligned with :attr:`names`
        (e.g. a MAP ``theta``), or a dict keyed by variable name or qualified name;
        parameters missing from the dict keep their current value.
        """
        values = [p.value for p in self.free]
        if start is not None and not isinstance(start, dict):
            start = np.asarray(start, dtype=float).reshape(-1)
            if start.size != len(values):
                raise ValueError(f"start has {start.size} values; the model has "
                                 f"{len(values)} free parameters {self.names}")
            values = list(start)
        elif isinstance(start, dict):
            for key, value in start.items():
                values[self._index(key)] = float(value)
        return {n: (v if s is None else s.inside(v))
                for n, s, v in zip(self.names, self.supports, values, strict=True)}

    def _index(self, key) -> int:
        for i, (name, qname) in enumerate(zip(self.names, self.qualified, strict=True)):
            if key == name or key == qname:
                return i
        raise KeyError(f"start: {key!r} is not a free parameter; free parameters are "
                       f"{self.names}")


def parameter_names(models: Models, free) -> tuple[list[str], list[str]]:
    """Readable unique names and qualified names of ``free`` parameters.

    Examples
    --------
    >>> from skyfit.models import FoVBackgroundModel
    >>> models = Models([FoVBackgroundModel("d")])
    >>> parameter_names(models, [models.parameter("norm")])
    (['norm'], ['d-bkg.norm'])
    """
    by_id = {id(p): (n, q) for p, n, q in zip(models.parameters, models.parameter_names(),
                                              models.qualified_names(), strict=True)}
    pairs = [by_id[id(p)] for p in free]
    return [n for n, _ in pairs], [q for _, q in pairs]


def build_model(datasets, models, *, mode: str | None = None,
                counts_as_data: bool = False) -> BayesModel:
    """Build the PyMC model of ``datasets`` under ``models`` from the forward graph.

    Parameters
    ----------
    datasets : list of MapDataset
        Datasets with integer counts.
    models : Models
        Models with the free parameters to sample; their priors are used (a free
        parameter without a prior but with finite ``[min, max]`` gets a uniform one).
    mode : str, optional
        PyTensor mode of the :class:`Likelihood` helper functions (npred for checks).
    counts_as_data : bool
        Hold the counts in ``pm.Data`` containers named ``"<observed>_counts"``, so new
        counts can be swapped in without rebuilding or recompiling (``pm.set_data``,
        nutpie's ``CompiledModel.with_data``), e.g. for simulation-based calibration;
        the likelihood is then the observed Poisson variables (``pointwise``).

    Raises
    ------
    MissingPriorError
        Free parameters without a prior and without finite bounds (all listed).

    Examples
    --------
    >>> from skyfit.datasets.synthetic import synthetic_dataset
    >>> from skyfit.models import FoVBackgroundModel
    >>> ds = synthetic_dataset(npix=(4, 4), energy_edges=[0.1, 1, 10],
    ...                        energy_true_edges=[0.05, 0.5, 5, 20])
    >>> models = Models([FoVBackgroundModel("synthetic")])
    >>> models.parameter("norm").min, models.parameter("norm").max = 0.1, 10
    >>> bm = build_model([ds], models)
    >>> bm.names, bm.observed, bm.supports[0].kind, bm.pointwise
    (['norm'], ['synthetic'], 'interval', False)
    """
    import pymc as pm
    import pytensor.tensor as pt
    from pytensor.graph.replace import graph_replace

    from ..forward.numba_ops import register_numba

    register_numba()  # PyMC and nutpie compile the graph with Numba
    bm = model_layout(datasets, models, mode=mode)
    missing = [q for q, s in zip(bm.qualified, bm.supports, strict=True) if s is None]
    if missing:
        raise MissingPriorError(
            "sampling needs a prior for every free parameter; these have no prior and no "
            f"finite [min, max]: {missing}. Give each a prior (e.g. parameter.prior = "
            "UniformPrior(min=..., max=...)), set finite min and max, or freeze it.")
    like = bm.likelihood
    bm.pointwise = counts_as_data or not counts_stay_non_negative(models, bm.free,
                                                                  bm.supports)
    coords = {f"{obs}_bin": b for obs, b in zip(bm.observed, bm.bins, strict=True)}
    with pm.Model(coords=coords) as model:
        # no initval here (PyMC's model transforms refuse them): pass start_dict() to
        # pm.sample as ``initvals``
        xs = [pm.Flat(name, transform=SupportTransform(s))
              for name, s in zip(bm.names, bm.supports, strict=True)]
        if bm.pointwise:  # one observed Poisson per dataset, over its npred cube
            npreds = graph_replace(like.npred_vars, {like.theta: pt.stack(xs)},
                                   strict=True)
            for npred, flat, n, obs in zip(npreds, bm.bins, bm.counts, bm.observed,
                                           strict=True):
                mu = pt.maximum(pt.as_tensor_variable(npred).ravel()[flat],
                                TRUNCATION_VALUE)
                data = (pm.Data(f"{obs}_counts", n, dims=f"{obs}_bin") if counts_as_data
                        else n)
                pm.Poisson(obs, mu=mu, observed=data, dims=f"{obs}_bin")
        else:  # the fit's statistic: bins with counts and sums, no npred cube
            total = graph_replace(like.total, {like.theta: pt.stack(xs),
                                               **like.constant_counts()}, strict=False)
            log_n_factorial = sum(float(gammaln(n + 1.0).sum()) for n in bm.counts)
            pm.Potential(LOG_LIKELIHOOD, -0.5 * total - log_n_factorial)
        log_prior = _log_prior(like.models, bm.free, xs)
        if log_prior is not None:
            pm.Potential("log_prior", log_prior)
    bm.model = model
    return bm


LOG_LIKELIHOOD = "poisson_log_likelihood"
"""Name of the potential that holds the Poisson log-likelihood when the model has no
observed variables (:attr:`BayesModel.pointwise` False)."""

SIGN_PARAMETERS = ("amplitude", "const", "norm")
"""The parameters that set the sign of skyfit's spectral models and background factors
(each scales a positive shape)."""


def counts_stay_non_negative(models: Models, free, supports) -> bool:
    """Whether no predicted count can be negative anywhere in the prior support: every
    :data:`SIGN_PARAMETERS` parameter (free: the lower end of its support; frozen: its
    value) is >= 0. Then the Poisson log-likelihood of the fitted bins is, up to the
    constant ``-sum ln n!``, minus half the fit's statistic, computed on the bins with
    counts (Gammapy's floor on the predicted counts never applies to the others).

    Examples
    --------
    >>> from skyfit.models import FoVBackgroundModel
    >>> models = Models([FoVBackgroundModel("d")])
    >>> norm = models.parameter("norm")
    >>> counts_stay_non_negative(models, [norm], [Support(0.0, 10.0)])
    True
    >>> counts_stay_non_negative(models, [norm], [Support(-1.0, 10.0)])
    False
    """
    lower = {id(p): (s.lo if s is not None else -math.inf)
             for p, s in zip(free, supports, strict=True)}
    return all(lower.get(id(par), par.value) >= 0 for par in models.parameters
               if par.name in SIGN_PARAMETERS)


def model_layout(datasets, models, *, mode: str | None = None) -> BayesModel:
    """A :class:`BayesModel` without the PyMC model (``model=None``; supports may be None).

    Everything :func:`build_model` needs except the priors check: the forward graph, the
    names, the fitted bins and counts. Used for Laplace draws, which need no priors.

    Examples
    --------
    >>> from skyfit.datasets.synthetic import synthetic_dataset
    >>> from skyfit.models import FoVBackgroundModel
    >>> ds = synthetic_dataset(npix=(4, 4), energy_edges=[0.1, 1, 10],
    ...                        energy_true_edges=[0.05, 0.5, 5, 20])
    >>> models = Models([FoVBackgroundModel("synthetic")])
    >>> layout = model_layout([ds], models)
    >>> layout.model is None, layout.supports  # no prior, no bounds: no support
    (True, [None])
    >>> layout.bins[0].shape, layout.counts[0].dtype  # 2 energies x 4 x 4 pixels
    ((32,), dtype('int64'))
    """
    if not isinstance(models, Models):
        models = Models(models)
    like = Likelihood(datasets, models, priors=False, mode=mode)
    free = like.free
    if not free:
        raise ValueError("no free parameters to sample")
    names, qualified = parameter_names(models, free)
    mv = _multivariate_moments(models, free)
    supports = [support_of(p, mv.get(id(p))) for p in free]
    observed = [ds.name if ds.name not in names else f"counts_{ds.name}"
                for ds in like.datasets]
    if len(set(observed)) != len(observed):
        raise ValueError(f"dataset names must be unique, got {observed}")
    bins, counts = [], []
    for ds, mask in zip(like.datasets, like._masks, strict=True):
        data = np.asarray(ds.counts.data, float).ravel()
        flat = np.arange(data.size) if mask is None else np.flatnonzero(mask)
        n = data[flat]
        if not np.array_equal(n, np.round(n)) or (n < 0).any():
            raise ValueError(f"dataset {ds.name!r}: counts must be non-negative integers "
                             "for the Poisson likelihood")
        bins.append(flat)
        counts.append(n.astype(np.int64))
    return BayesModel(None, like, names, qualified, supports, observed, bins, counts)


def _multivariate_moments(models: Models, free) -> dict[int, tuple[float, float]]:
    """Marginal (mean, sd) of parameters covered by a multivariate Gaussian prior."""
    out = {}
    for prior in getattr(models, "priors", []):
        for i, name in enumerate(prior.names):
            par = models.parameter(name)
            if any(par is p for p in free):
                out[id(par)] = (float(prior.mean[i]), math.sqrt(prior.covariance[i, i]))
    return out


def _log_prior(models: Models, free, xs):
    """``-stat / 2`` of all priors on free parameters, as a PyTensor scalar (or None)."""
    import pytensor.tensor as pt

    terms = [-0.5 * p.prior.stat(x) for p, x in zip(free, xs, strict=True)
             if p.prior is not None]
    for prior in getattr(models, "priors", []):
        pars = [models.parameter(name) for name in prior.names]
        values = []
        for par in pars:
            i = next((k for k, p in enumerate(free) if p is par), None)
            values.append(pt.constant(par.value, dtype="float64") if i is None else xs[i])
        terms.append(-0.5 * prior.stat(pt.stack(values)))
    return pt.add(*terms) if terms else None
