"""Support of each free parameter and the map to an unconstrained sampling variable.

NUTS works on unconstrained variables of order-one scale. Every free parameter ``x`` is
sampled through a variable ``y`` chosen from its support (its prior's support intersected
with the parameter's own ``[min, max]``; log-interpolated parameters such as amplitudes
and norms are positive):

==================  ==============================================  ======================
support             ``x(y)``                                        used for
==================  ==============================================  ======================
``[lo, hi]``        ``lo + (hi - lo) sigmoid(y)``                   Uniform, bounded
``[lo, hi]``, log   ``exp(ln lo + ln(hi / lo) sigmoid(y))``         LogUniform
``[lo, inf)``       ``lo + exp(y)``                                 HalfNormal, LogNormal,
                                                                    positive parameters
``(-inf, hi]``      ``hi - exp(y)``                                 upper bound only
``(-inf, inf)``     ``loc + scale y``                               Gaussian priors
==================  ==============================================  ======================

The prior density itself is not changed by the map: PyMC adds ``ln |dx/dy|``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pymc.logprob.transforms import Transform

from .._math import xp
from ..models.priors import (
    GaussianPrior,
    GeneralizedGaussianPrior,
    HalfNormalPrior,
    LogNormalPrior,
    LogUniformPrior,
    UniformPrior,
)

__all__ = ["Support", "SupportTransform", "support_of", "to_unconstrained"]


@dataclass(frozen=True)
class Support:
    """Where a parameter lives and how to reach it from an unconstrained ``y``.

    Attributes
    ----------
    lo, hi : float
        Bounds (``-inf`` / ``inf`` when open).
    log : bool
        Interpolate between finite bounds in ``ln x`` (log-uniform priors).
    loc, scale : float
        Location and width of the prior (used for the affine map of unbounded parameters,
        and to place the unbounded ends of half-open ones).

    Examples
    --------
    >>> support = Support(0.0, 1.0)
    >>> support.kind, support.inside(0.0), support.inside(0.5)  # a MAP on a bound moves in
    ('interval', 1e-06, 0.5)
    >>> Support(lo=0.0).kind, Support().kind
    ('lower', 'affine')
    """

    lo: float = -math.inf
    hi: float = math.inf
    log: bool = False
    loc: float = 0.0
    scale: float = 1.0

    @property
    def kind(self) -> str:
        finite_lo, finite_hi = math.isfinite(self.lo), math.isfinite(self.hi)
        if finite_lo and finite_hi:
            return "log-interval" if self.log else "interval"
        if finite_lo:
            return "lower"
        if finite_hi:
            return "upper"
        return "affine"

    def inside(self, x: float) -> float:
        """``x`` moved strictly inside the support (a MAP may sit on a bound)."""
        lo, hi = self.lo, self.hi
        if math.isfinite(lo) and math.isfinite(hi):
            eps = 1e-6 * ((math.log(hi / lo)) if self.log else (hi - lo))
            if self.log:
                return math.exp(min(max(math.log(max(x, lo)), math.log(lo) + eps),
                                    math.log(hi) - eps))
            return min(max(x, lo + eps), hi - eps)
        pad = 1e-6 * max(abs(self.scale), abs(x), 1e-300)
        if math.isfinite(lo):
            return max(x, lo + pad)
        if math.isfinite(hi):
            return min(x, hi - pad)
        return x


def support_of(par, mv_moments: tuple[float, float] | None = None) -> Support | None:
    """The :class:`Support` of a free parameter, or None when it has no proper prior.

    Parameters
    ----------
    par : Parameter
        The parameter (its ``prior``, ``min``, ``max``, ``meta["interp"]`` are read).
    mv_moments : (mean, sd), optional
        Marginal moments from a multivariate Gaussian prior covering the parameter.

    Examples
    --------
    >>> from skyfit.models import Parameter
    >>> support_of(Parameter("alpha", 2.0, min=1, max=4)).kind
    'interval'
    >>> support_of(Parameter("amplitude", 1e-12, prior=LogUniformPrior(min=1e-14, max=1e-10))).kind
    'log-interval'
    >>> support_of(Parameter("index", 2.0)) is None
    True
    """
    prior = par.prior
    lo = -math.inf if math.isnan(par.min) else par.min
    hi = math.inf if math.isnan(par.max) else par.max
    if par.meta.get("interp") == "log":  # amplitudes, norms: positive
        lo = max(lo, 0.0)
    log = False
    loc, scale = par.value, abs(par.value) or 1.0
    if isinstance(prior, UniformPrior | LogUniformPrior):
        lo, hi = max(lo, prior.min), min(hi, prior.max)
        log = isinstance(prior, LogUniformPrior)
    elif isinstance(prior, LogNormalPrior):
        lo = max(lo, 0.0)
        log = True
    elif isinstance(prior, HalfNormalPrior):
        lo, scale = max(lo, 0.0), prior.sigma
    elif isinstance(prior, GaussianPrior | GeneralizedGaussianPrior):
        loc, scale = prior.mu, prior.sigma
    elif prior is not None:
        raise TypeError(f"parameter {par.name!r}: no sampling support for {type(prior)}")
    elif mv_moments is not None:
        loc, scale = mv_moments
    elif not (math.isfinite(lo) and math.isfinite(hi)):
        return None
    if hi <= lo:
        raise ValueError(f"parameter {par.name!r}: empty support [{lo}, {hi}] from its "
                         "bounds and prior")
    return Support(lo, hi, log and lo > 0, float(loc), float(scale))


class SupportTransform(Transform):
    """PyMC transform between a parameter on its :class:`Support` and an unconstrained y.

    ``forward`` maps the parameter to ``y``, ``backward`` maps ``y`` back, and
    ``log_jac_det`` is ``ln |dx/dy|``, all in closed form.

    Examples
    --------
    >>> import pytensor.tensor as pt
    >>> t = SupportTransform(Support(1.0, 4.0))
    >>> float(t.backward(pt.constant(0.0)).eval())
    2.5
    """

    name = "support"
    ndim_supp = 0

    def __init__(self, support: Support) -> None:
        self.support = support

    def forward(self, value, *inputs):
        """``y(x)``; works on PyTensor variables and plain floats alike."""
        log = xp(value).log
        s = self.support
        kind = s.kind
        if kind == "interval":
            return log(value - s.lo) - log(s.hi - value)
        if kind == "log-interval":
            lv = log(value)
            return log(lv - math.log(s.lo)) - log(math.log(s.hi) - lv)
        if kind == "lower":
            return log(value - s.lo)
        if kind == "upper":
            return log(s.hi - value)
        return (value - s.loc) / s.scale

    def backward(self, value, *inputs):
        import pytensor.tensor as pt

        s = self.support
        kind = s.kind
        if kind == "interval":
            return s.lo + (s.hi - s.lo) * pt.sigmoid(value)
        if kind == "log-interval":
            llo, lhi = math.log(s.lo), math.log(s.hi)
            return pt.exp(llo + (lhi - llo) * pt.sigmoid(value))
        if kind == "lower":
            return s.lo + pt.exp(value)
        if kind == "upper":
            return s.hi - pt.exp(value)
        return s.loc + s.scale * value

    def log_jac_det(self, value, *inputs):
        import pytensor.tensor as pt

        s = self.support
        kind = s.kind
        if kind in ("interval", "log-interval"):
            width = math.log(s.hi / s.lo) if kind == "log-interval" else s.hi - s.lo
            out = math.log(width) - pt.softplus(-value) - pt.softplus(value)
            if kind == "log-interval":
                out = out + pt.log(self.backward(value))
            return out
        if kind in ("lower", "upper"):
            return value
        return pt.zeros_like(value) + math.log(s.scale)


def to_unconstrained(support: Support, x: float) -> float:
    """Numeric ``y(x)`` (for start points), after moving ``x`` inside the support.

    Examples
    --------
    The middle of an interval maps to 0 (``sigmoid(0) = 1/2``), ``lo + 1`` of a half-open
    support too (``lo + exp(0)``):

    >>> round(to_unconstrained(Support(1.0, 4.0), 2.5), 12)
    0.0
    >>> round(to_unconstrained(Support(lo=0.0), 1.0), 12)
    0.0
    """
    return float(SupportTransform(support).forward(support.inside(float(x))))

