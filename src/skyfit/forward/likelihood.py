"""The compiled likelihood of several datasets: one PyTensor graph of the free parameters.

``Likelihood(datasets, models)`` builds, once, the graph from the vector of free
parameter values (in each parameter's own unit, in ``models.parameters`` order) to the
total statistic ``sum_datasets sum_bins cash(n, npred) + sum_priors -2 w ln p``, and
compiles value, value-and-gradient and (on first use) Hessian functions of it.
"""

from __future__ import annotations

import os
import warnings

import numpy as np

from .npred import DatasetPredictor
from .stat import TRUNCATION_VALUE, cash

__all__ = ["Likelihood"]


class Likelihood:
    """Total statistic of ``datasets`` under ``models`` and its derivatives.

    Parameters
    ----------
    datasets : list of MapDataset
    models : Models
        The models; parameter objects are shared, so frozen flags and values are read
        from them at construction (the structure), and free values are passed as ``theta``.
    priors : bool
        Add ``-2 * weight * ln prior`` of the free parameters' priors and of the joint
        priors in ``models.priors`` that involve a free parameter (MAP).
    mode : str
        PyTensor compilation mode (default: ``$SKYFIT_PYTENSOR_MODE`` or ``"CVM"``, the C
        backend: fastest to run on CPU; ``"FAST_COMPILE"`` compiles in a fraction of the
        time and runs ~10-30x slower, good for tests and one-off evaluations;
        ``"JAX"`` compiles the same graph with JAX, on a GPU where JAX sees one, else on
        the CPU, in float64: see :mod:`skyfit.forward.jax_ops`; ``pip install
        'skyfit[jax]'``).

    Notes
    -----
    Frozen parameter values are compile-time constants; free ones are the input vector.
    Changing which parameters are frozen, or the value of a frozen one, needs a new
    ``Likelihood`` (``MapFit`` and ``MapDataset`` take care of that).

    Examples
    --------
    One free parameter, the background norm, on a tiny synthetic dataset:

    >>> from skyfit.datasets.synthetic import synthetic_dataset
    >>> from skyfit.models import FoVBackgroundModel, Models
    >>> ds = synthetic_dataset(npix=(4, 4), name="toy")
    >>> ds.counts.data[...] = 1
    >>> like = Likelihood([ds], Models([FoVBackgroundModel("toy")]))
    >>> [p.name for p in like.free]
    ['norm']
    >>> value, grad = like.value_and_grad([2.0])  # compiles once, on first use
    >>> bool(np.isclose(value, cash(ds.counts.data, 2 * ds.background.data).sum()))
    True
    >>> # d/dnorm of 2 (norm B - N ln(norm B)) summed over bins, at norm = 2: 2 B - N
    >>> bool(np.isclose(grad[0], 2 * ds.background.data.sum() - ds.counts.data.sum()))
    True
    """

    def __init__(self, datasets, models, priors: bool = True, mode: str | None = None) -> None:
        import pytensor
        import pytensor.tensor as pt

        self.datasets = list(datasets)
        self.models = models
        if hasattr(models, "check_datasets"):
            models.check_datasets([d.name for d in self.datasets])
            models.check_values()
        self.parameters = _unique(p for m in models for p in _model_parameters(m))
        self.free = [p for p in self.parameters if not p.frozen]
        index = {id(p): i for i, p in enumerate(self.free)}
        self.theta = theta = pt.dvector("theta")

        def value_of(par):
            i = index.get(id(par))
            return par.value if i is None else theta[i]

        self.predictors = [DatasetPredictor(d, models, lambda p: id(p) in index)
                           for d in self.datasets]
        self.npred_vars = [p.npred(value_of) for p in self.predictors]
        terms, lowest = [], []
        self._masks = []
        # the counts enter as shared variables, so update_counts() needs no recompilation:
        # per dataset the nonzero fitted counts and their positions among the fitted bins
        self._counts = []
        n_fitted = 0
        for ds, npred in zip(self.datasets, self.npred_vars, strict=True):
            mask = _mask(ds)
            self._masks.append(mask)
            counts, where = _nonzero_counts(ds, mask)
            n_nz = pytensor.shared(counts, name=f"counts[{ds.name}]")
            where = pytensor.shared(where, name=f"nonzero[{ds.name}]")
            self._counts.append((n_nz, where))
            mu = pt.as_tensor_variable(npred).ravel()
            fitted = None if mask is None else mask.ravel()
            n_fitted += ds.counts.data.size if fitted is None else int(fitted.sum())
            # npred is floored at 1e-25, as in Gammapy: optimisers may cross negative
            # predictions (e.g. an unbounded amplitude) on their way; a result there is
            # caught by min_npred() (MapFit reports it as a failed fit)
            terms.append(_cash_sum(mu, fitted, n_nz, where))
            lowest.append(mu.min() if fitted is None else
                          pt.switch(fitted, mu, np.inf).min())
        if self.datasets and n_fitted == 0:
            raise ValueError("no bins to fit: every dataset is fully masked (check "
                             "mask_safe and mask_fit)")
        total = pt.add(*terms) if terms else pt.constant(0.0)
        # the smallest fitted npred, an output of the value function (no extra compile)
        self._min_npred = pt.min(pt.stack(lowest)) if lowest else pt.constant(np.inf)
        if priors:
            for par in self.free:
                if par.prior is not None:
                    total = total + par.prior.stat(value_of(par))
            for prior in getattr(models, "priors", []):  # joint priors over several
                pars = [models.parameter(name) for name in prior.names]
                if any(id(p) in index for p in pars):
                    total = total + prior.stat(pt.stack([pt.as_tensor_variable(
                        value_of(p), dtype="float64") for p in pars]))
        self.total = total
        self.mode = mode or os.environ.get("SKYFIT_PYTENSOR_MODE", "CVM")
        self._fns = {}
        self.counts_version = 0  # incremented by update_counts()

    # -- compiled functions (built on first use, then reused) -------------------------
    def _fn(self, key):
        import pytensor

        if key not in self._fns:
            if key == "value":
                outs = [self.total, self._min_npred]
            elif key == "value_grad":
                outs = [self.total, pytensor.grad(self.total, self.theta,
                                               disconnected_inputs="ignore")]
            elif key == "hessian":
                from pytensor.gradient import jacobian
                from pytensor.graph.replace import graph_replace

                # counts as constants here: with the shared variables the vectorised
                # Jacobian of the gradient needs an order of magnitude more memory
                total = graph_replace(self.total, {
                    c: pytensor.tensor.constant(c.get_value())
                    for pair in self._counts for c in pair})
                g = pytensor.grad(total, self.theta, disconnected_inputs="ignore")
                # a static length keeps every shape of the vectorised graph constant
                # (the JAX backend needs that)
                g = pytensor.tensor.specify_shape(g, (self.n_free,))
                outs = jacobian(g, self.theta, vectorize=True)
            elif key == "npred":
                outs = list(self.npred_vars)
            else:  # pragma: no cover
                raise KeyError(key)
            _register_backend(self.mode)
            with warnings.catch_warnings():
                # the FFT ops' gradients leave shapes that PyTensor checks at run time;
                # JAX drops such checks, with a warning of no use here
                warnings.filterwarnings("ignore", "Skipping Assert.*shape error",
                                        UserWarning)
                self._fns[key] = pytensor.function([self.theta], outs, mode=self.mode,
                                                  on_unused_input="ignore")
            # inputs always come through _theta (contiguous float64, checked shape):
            # skip PyTensor's per-call input validation (~5 us of a ~90 us Crab call)
            self._fns[key].trust_input = True
        return self._fns[key]

    @property
    def n_free(self) -> int:
        return len(self.free)

    def current_theta(self) -> np.ndarray:
        return np.array([p.value for p in self.free], dtype=float)

    def value(self, theta=None) -> float:
        return float(self._fn("value")(self._theta(theta))[0])

    def value_and_grad(self, theta=None) -> tuple[float, np.ndarray]:
        value, grad = self._fn("value_grad")(self._theta(theta))
        return float(value), np.asarray(grad)

    def hessian(self, theta=None, exact: bool = False) -> np.ndarray:
        """Hessian of the total statistic.

        By default from central differences of the exact gradient (2 n gradient calls,
        relative accuracy ~1e-7, symmetrised); ``exact=True`` compiles the symbolic
        second derivatives instead (exact, but compiling them takes minutes for models
        with free source positions or shapes).
        """
        theta = self._theta(theta)
        if exact:
            return np.asarray(self._fn("hessian")(theta))
        n = theta.size
        steps = 1e-5 * np.where(theta != 0, np.abs(theta), 1.0)
        hess = np.empty((n, n))
        for i in range(n):
            up, down = theta.copy(), theta.copy()
            up[i] += steps[i]
            down[i] -= steps[i]
            hess[:, i] = (self.value_and_grad(up)[1] - self.value_and_grad(down)[1]) / (
                2 * steps[i])
        return 0.5 * (hess + hess.T)

    def update_counts(self) -> None:
        """Re-read the observed counts of the datasets into the compiled functions.

        For simulations: replace ``dataset.counts`` (same shape), then call this instead
        of building a new ``Likelihood``; nothing is recompiled (except the exact Hessian
        of ``hessian(exact=True)``, rebuilt on its next use).
        """
        for ds, mask, pair in zip(self.datasets, self._masks, self._counts, strict=True):
            for shared, value in zip(pair, _nonzero_counts(ds, mask), strict=True):
                shared.set_value(value)
        self.counts_version += 1
        self._fns.pop("hessian", None)

    def out_of_reach(self) -> list[str]:
        """Free sources that moved (at the models' current values) beyond the region
        their sampling was planned for when this likelihood was built; the fit has to
        be built again around the new values (``MapFit`` does so on its next call)."""
        return sorted({name for p in self.predictors for name in p.out_of_reach()})

    def min_npred(self, theta=None) -> float:
        """Smallest predicted counts over the fitted bins of all datasets (computed with
        the value, so checking it costs no extra compilation)."""
        return float(self._fn("value")(self._theta(theta))[1])

    def npred(self, theta=None) -> list[np.ndarray]:
        return [np.asarray(x) for x in self._fn("npred")(self._theta(theta))]

    def stat_per_bin(self, theta=None) -> list[np.ndarray]:
        """Cash statistic per bin of each dataset (0 outside the fit mask)."""
        out = []
        for ds, mu, mask in zip(self.datasets, self.npred(theta), self._masks, strict=True):
            stat = cash(np.asarray(ds.counts.data, float), mu)
            out.append(stat if mask is None else np.where(mask, stat, 0.0))
        return out

    def _theta(self, theta) -> np.ndarray:
        if theta is None:
            return self.current_theta()
        theta = np.ascontiguousarray(theta, dtype=np.float64)
        if theta.shape != (self.n_free,):
            raise ValueError(f"expected {self.n_free} free parameter values, got shape "
                             f"{theta.shape}")
        return theta


def _register_backend(mode) -> None:
    """Register skyfit's translations of its ops for the backend ``mode`` compiles with:
    JAX (imports :mod:`skyfit.forward.jax_ops`, and so JAX) or Numba
    (:func:`~skyfit.forward.csr.register_numba`). Other modes import neither.
    """
    from pytensor.compile.mode import get_mode

    linker = type(get_mode(mode).linker).__name__
    if linker == "JAXLinker":
        from . import jax_ops  # noqa: F401
    elif linker == "NumbaLinker":
        from .csr import register_numba

        register_numba()


def _model_parameters(model):
    for part in ("spatial_model", "spectral_model"):
        sub = getattr(model, part, None)
        if sub is not None:
            yield from sub.parameters


def _unique(pars):
    seen, out = set(), []
    for p in pars:
        if id(p) not in seen:
            seen.add(id(p))
            out.append(p)
    return out


def _nonzero_counts(dataset, mask) -> tuple[np.ndarray, np.ndarray]:
    """The nonzero fitted counts and their flat indices in the dataset's npred."""
    counts = np.asarray(dataset.counts.data, float).ravel()
    fitted = counts > 0 if mask is None else (counts > 0) & mask.ravel()
    where = np.flatnonzero(fitted)
    return counts[where], where.astype(np.int64)


def _cash_sum(mu, fitted, n_nonzero, where):
    r"""Total Cash statistic :math:`2 \sum_i (\mu_i - n_i \ln \mu_i)` over the fitted bins,
    with the logarithm taken only where :math:`n_i > 0`.

    ``mu``: the flat npred; ``fitted``: boolean mask of the fitted bins (None: all);
    ``n_nonzero``, ``where``: the nonzero fitted counts and their flat indices. Equal to
    ``cash(n, mu)[fitted].sum()`` (same 1e-25 floor on ``mu``), but gamma-ray counts
    cubes are mostly empty (7 % of the Fermi-LAT Crab bins and 4 % of the Galactic-centre
    bins have counts): the logarithm was most of an evaluation, and the mask is a
    multiplication fused with the sum instead of a copy of the fitted bins.
    """
    import pytensor.tensor as pt

    floored = pt.maximum(mu, TRUNCATION_VALUE)
    total = floored.sum() if fitted is None else (floored * fitted).sum()
    return 2.0 * (total - (n_nonzero * pt.log(floored[where])).sum())


def _mask(dataset):
    mask = getattr(dataset, "mask", None)
    if mask is None:
        return None
    return np.asarray(getattr(mask, "data", mask), bool)
