"""The compiled likelihood of several datasets: one PyTensor graph of the free parameters.

``Likelihood(datasets, models)`` builds, once, the graph from the vector of free
parameter values (in each parameter's own unit, in ``models.parameters`` order) to the
total statistic ``sum_datasets sum_bins cash(n, npred) + sum_priors -2 w ln p``, and
compiles value, value-and-gradient and (on first use) Hessian functions of it. The
statistic is computed without the npred cubes (:mod:`skyfit.forward.fitted`: sums over
the fitted bins and values at the bins with counts); ``npred_vars`` builds the cubes
for ``npred()``, the Bayesian model, and the statistic where a background factor or a
spectral bin integral is negative (there Gammapy's floor on npred needs the cube).
"""

from __future__ import annotations

import os
import warnings

import numpy as np

from .countslog import counts_log_sum
from .fitted import FittedBins
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
        backend: fastest to run on CPU; one C module per function where PyTensor's plain
        C linker can run the graph, e.g. spectral fits of fixed-position sources, else one
        per operation, see :mod:`skyfit.forward.linker`; ``"FAST_COMPILE"`` compiles in a
        fraction of the time and runs ~10-30x slower, good for one-off evaluations;
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
        self._index = index = {id(p): i for i, p in enumerate(self.free)}
        self.theta = theta = pt.dvector("theta")
        # one scalar variable per free parameter, the graph's only view of theta: the
        # gradient is taken with respect to these and stacked (theta[i] per use would
        # leave an IncSubtensor of a zero vector per parameter in the gradient)
        self._scalars = [theta[i] for i in range(len(self.free))]

        def value_of(par):
            i = index.get(id(par))
            return par.value if i is None else self._scalars[i]

        self.predictors = [DatasetPredictor(d, models, lambda p: id(p) in index)
                           for d in self.datasets]
        self._value_of = value_of
        self._npred_vars = None
        terms, lowest_factors = [], []
        self._masks = []
        # per dataset: its FittedBins and, as shared variables (update_counts() needs no
        # recompilation), the nonzero fitted counts and the arrays at their bins
        self._fitted = []
        self._counts = []
        n_fitted = 0
        for ds, predictor in zip(self.datasets, self.predictors, strict=True):
            mask = _mask(ds)
            self._masks.append(mask)
            n_fitted += ds.counts.data.size if mask is None else int(mask.sum())
            bins = FittedBins(predictor, mask)
            counts, where = _nonzero_counts(ds, mask)
            shared = {"counts": pytensor.shared(counts, name=f"counts[{ds.name}]")}
            shared.update({k: pytensor.shared(v, name=f"{k}[{ds.name}]")
                           for k, v in bins.arrays(where).items()})
            self._fitted.append(bins)
            self._counts.append(shared)
            total, at_counts, lowest = bins.build(value_of, shared)
            lowest_factors.append(lowest)
            terms.append(2.0 * (total - counts_log_sum(shared["counts"], at_counts)))
        if self.datasets and n_fitted == 0:
            raise ValueError("no bins to fit: every dataset is fully masked (check "
                             "mask_safe and mask_fit)")
        total = sum(terms[1:], terms[0]) if terms else pt.constant(0.0)
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
        # npred is floored at 1e-25, as in Gammapy (optimisers may cross negative
        # predictions, e.g. an unbounded amplitude, on their way; a result there is caught
        # by min_npred(), and MapFit reports it as a failed fit). In the logarithm above
        # the floor is in the graph; in the sum of npred it needs the cubes: a separate
        # function (_floor_excess), called only where a factor (background factor,
        # spectral bin integral) is negative, below 0 here. (An ifelse in the graph did
        # not stay lazy: PyTensor's rewrites merged its gradient into the main one.)
        self._lowest = (pt.min(pt.stack(lowest_factors)) if lowest_factors
                        else pt.constant(np.inf, dtype="float64"))
        self.mode = mode or os.environ.get("SKYFIT_PYTENSOR_MODE", "CVM")
        self._fns = {}
        self.counts_version = 0  # incremented by update_counts()

    # -- compiled functions (built on first use, then reused) -------------------------
    def _fn(self, key):
        import pytensor

        if key not in self._fns:
            grad = self._grad  # of a scalar, with respect to theta
            if key == "value":
                outs = [self.total, self._lowest]
            elif key == "value_grad":
                outs = [self.total, grad(self.total), self._lowest]
            elif key == "floor":
                excess = self._floor_excess()
                outs = [excess, grad(excess)]
            elif key in ("hessian", "floor_hessian"):
                from pytensor.gradient import jacobian
                from pytensor.graph.replace import graph_replace

                total = self.total if key == "hessian" else self._floor_excess()
                # counts as constants here: with the shared variables the vectorised
                # Jacobian of the gradient needs an order of magnitude more memory
                g = graph_replace(grad(total), self.constant_counts())
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
                self._fns[key] = pytensor.function([self.theta], outs,
                                                  mode=_compile_mode(self.mode, key),
                                                  on_unused_input="ignore")
            # inputs always come through _theta (contiguous float64, checked shape):
            # skip PyTensor's per-call input validation (a few us of a ~15 us Crab call)
            self._fns[key].trust_input = True
        return self._fns[key]

    def constant_counts(self) -> dict:
        """The graph's shared count arrays (and their bins) mapped to constants of their
        current values, for :func:`~pytensor.graph.replace.graph_replace`: a graph
        without them (e.g. a Bayesian model's) no longer follows
        :meth:`update_counts`."""
        import pytensor.tensor as pt

        return {c: pt.constant(c.get_value()) for shared in self._counts
                for c in shared.values()}

    def _grad(self, expr):
        """Gradient of the scalar ``expr`` with respect to ``theta``, one vector."""
        import pytensor
        import pytensor.tensor as pt

        if not self._scalars:
            return pytensor.grad(expr, wrt=self.theta, disconnected_inputs="ignore")
        return pt.stack(pytensor.grad(expr, wrt=self._scalars, disconnected_inputs="ignore"))

    @property
    def n_free(self) -> int:
        return len(self.free)

    def current_theta(self) -> np.ndarray:
        return np.array([p.value for p in self.free], dtype=float)

    def _floor_excess(self):
        """``2 sum_fitted max(1e-25 - npred, 0)`` over all datasets (from the cubes): what
        Gammapy's floor adds to the statistic where npred is below 1e-25."""
        return 2.0 * sum(bins.floor_excess(npred) for bins, npred in
                         zip(self._fitted, self.npred_vars, strict=True))

    def value(self, theta=None) -> float:
        theta = self._theta(theta)
        value, lowest = self._fn("value")(theta)
        if lowest < 0:
            value = value + self._fn("floor")(theta)[0]
        return float(value)

    @property
    def npred_vars(self) -> list:
        """The npred cube of each dataset as a PyTensor variable of ``theta`` (built on
        first use: the statistic itself needs no cube, see :mod:`.fitted`)."""
        if self._npred_vars is None:
            self._npred_vars = [p.npred(self._value_of) for p in self.predictors]
        return self._npred_vars

    def value_and_grad(self, theta=None) -> tuple[float, np.ndarray]:
        theta = self._theta(theta)
        value, grad, lowest = self._fn("value_grad")(theta)
        if lowest < 0:
            excess, excess_grad = self._fn("floor")(theta)
            value, grad = value + excess, grad + excess_grad
        return float(value), np.asarray(grad)

    def hessian(self, theta=None, exact: bool = False) -> np.ndarray:
        """Hessian of the total statistic.

        By default from forward differences of the exact gradient (``n + 1`` gradient
        calls, steps of 1e-6 of each value; relative accuracy ~1e-6, symmetrised: far
        below what errors are quoted to, and half the cost of central differences, the
        covariance's main cost on large fits); ``exact=True`` compiles the symbolic
        second derivatives instead (exact, but compiling them takes minutes for models
        with free source positions or shapes).
        """
        theta = self._theta(theta)
        if exact:
            hess = np.asarray(self._fn("hessian")(theta))
            if self._fn("value")(theta)[1] < 0:
                hess = hess + np.asarray(self._fn("floor_hessian")(theta))
            return hess
        n = theta.size
        steps = 1e-6 * np.where(theta != 0, np.abs(theta), 1.0)
        grad = self.value_and_grad(theta)[1]
        hess = np.empty((n, n))
        for i in range(n):
            up = theta.copy()
            up[i] += steps[i]
            hess[:, i] = (self.value_and_grad(up)[1] - grad) / steps[i]
        return 0.5 * (hess + hess.T)

    def update_counts(self) -> None:
        """Re-read the observed counts of the datasets into the compiled functions.

        For simulations: replace ``dataset.counts`` (same shape), then call this instead
        of building a new ``Likelihood``; nothing is recompiled (except the exact Hessian
        of ``hessian(exact=True)``, rebuilt on its next use).
        """
        for ds, mask, bins, shared in zip(self.datasets, self._masks, self._fitted,
                                          self._counts, strict=True):
            counts, where = _nonzero_counts(ds, mask)
            for key, value in {"counts": counts, **bins.arrays(where)}.items():
                shared[key].set_value(value)
        self.counts_version += 1
        self._fns.pop("hessian", None)
        self._fns.pop("floor_hessian", None)

    def out_of_reach(self) -> list[str]:
        """Free sources that moved (at the models' current values) beyond the region
        their sampling was planned for when this likelihood was built; the fit has to
        be built again around the new values (``MapFit`` does so on its next call)."""
        return sorted({name for p in self.predictors for name in p.out_of_reach()})

    def may_be_negative(self, theta=None) -> bool:
        """Whether npred can be negative somewhere: some background factor or spectral
        bin integral is negative, or a precomputed map has negative values (one call of
        the compiled value function; see :meth:`min_npred` for the value)."""
        return bool(self._fn("value")(self._theta(theta))[1] < 0)

    def min_npred(self, theta=None) -> float:
        """Smallest predicted counts over the fitted bins of all datasets (a numpy
        evaluation of the cubes: nothing is compiled for it)."""
        theta = self._theta(theta)

        def value_of(par):
            i = self._index.get(id(par))
            return par.value if i is None else float(theta[i])

        lowest = np.inf
        for predictor, mask in zip(self.predictors, self._masks, strict=True):
            npred = np.asarray(predictor.npred(value_of), float)
            fitted = npred if mask is None else npred[mask]
            if fitted.size:
                lowest = min(lowest, float(fitted.min()))
        return lowest

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


def _compile_mode(mode, key: str = "value"):
    """PyTensor ``mode`` for the function ``key``, without the sparse ``local_usmm`` rewrite
    (skyfit's graphs have no sparse dot, and that rewrite's check reads
    ``config.blas__ldflags``, whose first read probes for a BLAS library: ~0.3 s of a
    warm-cache first fit). ``"CVM"``, the default, links the statistic's value and
    gradient functions with :class:`~skyfit.forward.linker.WholeGraphCLinker` (one C
    module for the whole graph where possible); the functions of npred cubes (npred, the
    floor term) and the exact Hessian keep PyTensor's CVM linker, which frees
    intermediate arrays after each call (the plain C linker keeps them all: cubes, or one
    row per parameter). That value+gradient function includes the rewrite that gives
    each free radial source's value and gradient in one pass (:mod:`.radialfused`, C
    only). Other PyTensor modes
    (``"FAST_COMPILE"``, ``"NUMBA"``, ``"JAX"``; in PyTensor 3 ``"FAST_RUN"`` is Numba)
    are used as they are."""
    # importing pytensor.sparse registers local_usmm (PyTensor's rewrites import it
    # anyway); excluding the rewrite before it is registered makes its registration fail
    import pytensor.sparse  # noqa: F401
    from pytensor.compile.mode import get_mode

    chosen = get_mode(mode).excluding("local_usmm")
    if mode == "CVM" and key in ("value", "value_grad"):
        from .linker import WholeGraphCLinker
        from .radialfused import FUSE_TAG

        if key == "value_grad":  # each free radial source's value and gradient in one pass
            chosen = chosen.including(FUSE_TAG)
        chosen = type(chosen)(linker=WholeGraphCLinker(), optimizer=chosen.optimizer)
    return chosen


def _register_backend(mode) -> None:
    """Register skyfit's translations of its ops for the backend ``mode`` compiles with:
    JAX (imports :mod:`skyfit.forward.jax_ops`, and so JAX) or Numba
    (:func:`~skyfit.forward.numba_ops.register_numba`). Other modes import neither.
    """
    from pytensor.compile.mode import get_mode

    linker = type(get_mode(mode).linker).__name__
    if linker == "JAXLinker":
        from . import jax_ops  # noqa: F401
    elif linker == "NumbaLinker":
        from .numba_ops import register_numba

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


def _mask(dataset):
    mask = getattr(dataset, "mask", None)
    if mask is None:
        return None
    return np.asarray(getattr(mask, "data", mask), bool)
