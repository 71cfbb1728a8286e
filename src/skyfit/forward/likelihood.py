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
from .stat import cash

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
        self._counts = []  # shared variables, so update_counts() needs no recompilation
        for ds, npred in zip(self.datasets, self.npred_vars, strict=True):
            mask = _mask(ds)
            self._masks.append(mask)
            counts = pytensor.shared(_fit_counts(ds, mask), name=f"counts[{ds.name}]")
            self._counts.append(counts)
            mu = pt.as_tensor_variable(npred).ravel()
            if mask is not None:
                mu = mu[np.flatnonzero(mask)]
            # npred is floored at 1e-25 inside cash, as Gammapy does: optimisers may cross
            # negative predictions (e.g. an unbounded amplitude) on their way; a result
            # there is caught by min_npred() (MapFit reports it as a failed fit)
            terms.append(cash(counts, mu).sum())
            lowest.append(mu.min() if (mask is None or mask.any()) else pt.constant(np.inf))
        if self.datasets and sum(c.get_value().size for c in self._counts) == 0:
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
                    c: pytensor.tensor.constant(c.get_value()) for c in self._counts})
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
            if "NUMBA" in str(self.mode).upper():
                from .csr import register_numba

                register_numba()
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
        for ds, mask, counts in zip(self.datasets, self._masks, self._counts, strict=True):
            counts.set_value(_fit_counts(ds, mask))
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
    """Register skyfit's JAX translations of its ops when ``mode`` compiles through JAX.

    Imports :mod:`skyfit.forward.jax_ops` (and so JAX) only then: other modes never
    import JAX.
    """
    from pytensor.compile.mode import get_mode
    from pytensor.link.jax.linker import JAXLinker

    if isinstance(get_mode(mode).linker, JAXLinker):
        from . import jax_ops  # noqa: F401


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


def _fit_counts(dataset, mask) -> np.ndarray:
    counts = np.asarray(dataset.counts.data, float).ravel()
    return counts if mask is None else counts[np.flatnonzero(mask)]


def _mask(dataset):
    mask = getattr(dataset, "mask", None)
    if mask is None:
        return None
    return np.asarray(getattr(mask, "data", mask), bool)
