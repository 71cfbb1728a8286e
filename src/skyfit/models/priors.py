"""Prior distributions for model parameters, compatible with Gammapy's prior YAML.

Each one-dimensional prior has a pure ``logpdf(x, **pars)`` staticmethod that works on
numpy values and PyTensor variables alike (through :func:`skyfit._math.xp`), a ``tag``
(Gammapy's type name where Gammapy has the prior) and a ``weight``. Following Gammapy,
the fit statistic adds ``stat(x) = -2 * weight * logpdf(x)`` for each prior.

Uniform and log-uniform priors are constant inside ``[min, max]`` and ``-inf`` outside,
so their ``stat`` is ``+inf`` outside (Gammapy does the same); their gradient is zero.

A prior is attached to one parameter with ``Parameter.prior``; in YAML it is written as
Gammapy does: ``{type, parameters: [{name, value, unit}], weight}``.

:class:`MultivariateGaussianPrior` (skyfit only) acts on several parameters together,
named by their qualified names (``"<component>.<parameter>"``). It lives in a top-level
``priors:`` list of the models YAML file, which Gammapy ignores::

    priors:
    -   type: MultivariateGaussianPrior
        names: [Crab Nebula.alpha, Crab Nebula.beta]
        mean: [2.16, -0.026]
        covariance: [[0.0016, 0.0], [0.0, 0.0005]]
        weight: 1

Examples
--------
>>> prior = GaussianPrior(mu=2.0, sigma=0.1)
>>> round(float(prior.stat(2.0)), 4)
-2.7673
>>> UniformPrior(min=1, max=4).stat(5.0)
inf
"""

from __future__ import annotations

import copy
import math
from typing import Any, ClassVar

import numpy as np

from .._math import xp

__all__ = [
    "PRIORS",
    "GaussianPrior",
    "GeneralizedGaussianPrior",
    "HalfNormalPrior",
    "LogNormalPrior",
    "LogUniformPrior",
    "MultivariateGaussianPrior",
    "Prior",
    "UniformPrior",
    "prior_from_dict",
]

_LOG_2PI = math.log(2.0 * math.pi)


class Prior:
    """Base class of one-dimensional priors.

    Parameters
    ----------
    weight : float
        Multiplies the prior's contribution to the statistic (Gammapy's ``weight``).
    **values : float
        Prior parameters (see the class's ``default_values``).

    Examples
    --------
    Every prior adds ``-2 * weight * logpdf`` to the fit statistic:

    >>> prior = GaussianPrior(mu=2.0, sigma=0.5, weight=2)
    >>> isinstance(prior, Prior), prior.mu
    (True, 2.0)
    >>> round(prior.stat(2.5) - prior.stat(2.0), 6)
    2.0
    >>> prior.to_dict()["parameters"][0]
    {'name': 'mu', 'value': 2.0, 'unit': ''}
    """

    tag: ClassVar[str] = ""
    default_values: ClassVar[dict[str, float]] = {}
    positive: ClassVar[tuple[str, ...]] = ()  # parameters that must be > 0

    def __init__(self, weight: float = 1, **values: float) -> None:
        unknown = set(values) - set(self.default_values)
        if unknown:
            raise TypeError(
                f"{type(self).__name__} has no parameter(s) {sorted(unknown)}; "
                f"its parameters are {list(self.default_values)}"
            )
        vals = {k: float(values.get(k, v)) for k, v in self.default_values.items()}
        self.__dict__["values"] = vals
        self.units: dict[str, str] = dict.fromkeys(vals, "")
        self.weight = weight
        self._validate()

    def _validate(self) -> None:
        v, name = self.values, type(self).__name__
        for key in self.positive:
            if not v[key] > 0:
                raise ValueError(f"{name}: {key} must be > 0, got {v[key]}")
        if "min" in v and not v["max"] > v["min"]:
            raise ValueError(f"{name}: max ({v['max']}) must exceed min ({v['min']})")

    def __getattr__(self, name: str) -> float:
        values = self.__dict__.get("values", {})
        if name in values:
            return values[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    @staticmethod
    def logpdf(x, **pars):  # pragma: no cover - abstract
        raise NotImplementedError

    def stat(self, value):
        """Contribution to the fit statistic: ``-2 * weight * logpdf(value)``."""
        return _plain(-2 * self.weight * type(self).logpdf(value, **self.values))

    def copy(self) -> Prior:
        return copy.deepcopy(self)

    def __eq__(self, other: object) -> bool:
        return (
            type(other) is type(self)
            and self.values == other.values
            and self.units == other.units
            and float(self.weight) == float(other.weight)
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        pars = ", ".join(f"{k}={v:g}" for k, v in self.values.items())
        return f"{type(self).__name__}({pars}, weight={self.weight:g})"

    def to_dict(self) -> dict[str, Any]:
        """Gammapy's prior entry: ``{type, parameters: [{name, value, unit}], weight}``."""
        pars = [{"name": k, "value": v, "unit": self.units[k]} for k, v in self.values.items()]
        return {"type": self.tag, "parameters": pars, "weight": _number(self.weight)}

    @classmethod
    def from_dict(cls, data: dict, where: str = "") -> Prior:
        """Create from Gammapy's prior entry (missing prior parameters take defaults)."""
        where = f" in {where}" if where else ""
        entries = data.get("parameters") or []
        values, units = {}, {}
        for entry in entries:
            name = entry.get("name")
            if name not in cls.default_values:
                raise ValueError(
                    f"{cls.tag}{where}: unknown prior parameter {name!r}; "
                    f"expected {list(cls.default_values)}"
                )
            values[name] = float(entry.get("value", cls.default_values[name]))
            units[name] = str(entry.get("unit", "") or "")
        prior = cls(weight=data.get("weight", 1), **values)
        prior.units.update(units)
        return prior


def _number(value):
    value = float(value)
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


def _plain(value):
    """A Python float for numeric scalars; arrays and PyTensor variables unchanged."""
    from .._math import is_symbolic

    if not is_symbolic(value) and np.ndim(value) == 0:
        return float(value)
    return value


def _f64(*values):
    """Numbers as float64 arrays (PyTensor would make exact floats float32 constants)."""
    from .._math import is_symbolic

    return tuple(v if is_symbolic(v) else np.asarray(v, dtype=np.float64) for v in values)


class GaussianPrior(Prior):
    """Normal prior with mean ``mu`` and standard deviation ``sigma``.

    Examples
    --------
    >>> round(float(GaussianPrior.logpdf(0.0, mu=0.0, sigma=1.0)), 6)
    -0.918939
    """

    tag = "GaussianPrior"
    default_values: ClassVar[dict[str, float]] = {"mu": 0.0, "sigma": 1.0}
    positive = ("sigma",)

    @staticmethod
    def logpdf(x, mu, sigma):
        mu, sigma = _f64(mu, sigma)
        m = xp(x, mu, sigma)
        z = (x - mu) / sigma
        return -0.5 * z * z - m.log(sigma) - 0.5 * _LOG_2PI


class UniformPrior(Prior):
    """Uniform prior on ``[min, max]``: ``-log(max - min)`` inside, ``-inf`` outside.

    Examples
    --------
    >>> float(UniformPrior.logpdf(0.5, min=0.0, max=2.0)) == -math.log(2.0)
    True
    """

    tag = "UniformPrior"
    default_values: ClassVar[dict[str, float]] = {"min": 0.0, "max": 1.0}

    @staticmethod
    def logpdf(x, min, max):
        min, max = _f64(min, max)
        m = xp(x, min, max)
        inside = (x >= min) & (x <= max)
        return m.where(inside, -m.log(max - min) + 0 * x, -np.inf)


class LogUniformPrior(Prior):
    """Log-uniform prior on ``[min, max]`` (``min > 0``): ``1 / (x log(max/min))`` inside.

    Examples
    --------
    >>> round(float(LogUniformPrior.logpdf(1.0, min=0.1, max=10.0)), 6)
    -1.52718
    """

    tag = "LogUniformPrior"
    default_values: ClassVar[dict[str, float]] = {"min": 1e-14, "max": 1e-10}
    positive = ("min",)

    @staticmethod
    def logpdf(x, min, max):
        min, max = _f64(min, max)
        m = xp(x, min, max)
        inside = (x >= min) & (x <= max)
        xs = m.where(inside, x, min)  # keeps the log finite outside
        return m.where(inside, -m.log(xs) - m.log(m.log(max / min)), -np.inf)


class LogNormalPrior(Prior):
    """Log-normal prior: ``log(x)`` is normal with mean ``mu`` and width ``sigma``.

    Examples
    --------
    >>> round(float(LogNormalPrior.logpdf(1.0, mu=0.0, sigma=1.0)), 6)
    -0.918939
    """

    tag = "LogNormalPrior"
    default_values: ClassVar[dict[str, float]] = {"mu": 0.0, "sigma": 1.0}
    positive = ("sigma",)

    @staticmethod
    def logpdf(x, mu, sigma):
        mu, sigma = _f64(mu, sigma)
        m = xp(x, mu, sigma)
        inside = x > 0
        lx = m.log(m.where(inside, x, 1.0))
        z = (lx - mu) / sigma
        return m.where(inside, -0.5 * z * z - lx - m.log(sigma) - 0.5 * _LOG_2PI, -np.inf)


class HalfNormalPrior(Prior):
    """Half-normal prior on ``x >= 0`` with scale ``sigma`` (``-inf`` for ``x < 0``).

    Examples
    --------
    >>> round(float(HalfNormalPrior.logpdf(0.0, sigma=1.0)), 6)
    -0.225791
    """

    tag = "HalfNormalPrior"
    default_values: ClassVar[dict[str, float]] = {"sigma": 1.0}
    positive = ("sigma",)

    @staticmethod
    def logpdf(x, sigma):
        (sigma,) = _f64(sigma)
        m = xp(x, sigma)
        z = x / sigma
        value = 0.5 * math.log(2.0 / math.pi) - m.log(sigma) - 0.5 * z * z
        return m.where(x >= 0, value, -np.inf)


class GeneralizedGaussianPrior(Prior):
    """Gammapy's generalized Gaussian: ``gennorm(beta=1/eta, loc=mu, scale=sigma*sqrt(2))``.

    Examples
    --------
    >>> round(float(GeneralizedGaussianPrior.logpdf(0.0, mu=0.0, sigma=1.0, eta=0.5)), 6)
    -0.918939
    """

    tag = "GeneralizedGaussianPrior"
    default_values: ClassVar[dict[str, float]] = {"mu": 0.0, "sigma": 1.0, "eta": 0.5}
    positive = ("sigma", "eta")

    @staticmethod
    def logpdf(x, mu, sigma, eta):
        mu, sigma, eta = _f64(mu, sigma, eta)
        m = xp(x, mu, sigma, eta)
        beta = 1.0 / eta
        scale = sigma * math.sqrt(2.0)
        norm = m.log(beta / (2.0 * scale)) - m.gammaln(1.0 / beta)
        return norm - m.power(m.abs((x - mu) / scale), beta)


class MultivariateGaussianPrior:
    """Joint normal prior over several parameters (skyfit only).

    Parameters
    ----------
    names : list of str
        Qualified parameter names (``"<component>.<parameter>"``) or unique short names.
    mean : array_like, shape (n,)
        Mean vector, in the parameters' units.
    covariance : array_like, shape (n, n)
        Covariance matrix (symmetric positive definite, numeric).
    weight : float
        Multiplies the statistic contribution.

    Examples
    --------
    >>> prior = MultivariateGaussianPrior(["a", "b"], [0.0, 0.0], [[1.0, 0.0], [0.0, 1.0]])
    >>> round(float(prior.stat([0.0, 0.0])), 6)
    3.675754
    """

    tag: ClassVar[str] = "MultivariateGaussianPrior"

    def __init__(self, names, mean, covariance, weight: float = 1) -> None:
        self.names = [str(n) for n in names]
        self.mean = np.asarray(mean, dtype=float).reshape(-1)
        self.covariance = np.asarray(covariance, dtype=float)
        n = len(self.names)
        if self.mean.shape != (n,) or self.covariance.shape != (n, n):
            raise ValueError(
                f"MultivariateGaussianPrior over {n} parameters needs mean of shape ({n},) "
                f"and covariance ({n}, {n}); got {self.mean.shape} and {self.covariance.shape}"
            )
        if not np.allclose(self.covariance, self.covariance.T):
            raise ValueError("MultivariateGaussianPrior: covariance is not symmetric")
        try:
            np.linalg.cholesky(self.covariance)
        except np.linalg.LinAlgError as exc:
            raise ValueError(
                "MultivariateGaussianPrior: covariance is not positive definite"
            ) from exc
        self.weight = weight

    @staticmethod
    def logpdf(x, mean, covariance):
        """Log density; ``x`` a vector (numpy or PyTensor), ``covariance`` numeric."""
        cov = np.asarray(covariance, dtype=float)
        prec = np.linalg.inv(cov)
        logdet = float(np.linalg.slogdet(cov)[1])
        if isinstance(x, list | tuple):
            m = xp(*x)
            x = m.stack(list(x)) if m.symbolic else np.asarray(x, dtype=float)
        m = xp(x, mean)
        d = x - mean
        if m.symbolic:
            import pytensor.tensor as pt

            quad = pt.dot(d, pt.dot(prec, d))
        else:
            quad = float(d @ prec @ d)
        return -0.5 * quad - 0.5 * logdet - 0.5 * len(cov) * _LOG_2PI

    def stat(self, values):
        """``-2 * weight * logpdf(values)``, ``values`` in the order of ``names``."""
        return _plain(-2 * self.weight * self.logpdf(values, self.mean, self.covariance))

    def copy(self) -> MultivariateGaussianPrior:
        return copy.deepcopy(self)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, MultivariateGaussianPrior)
            and self.names == other.names
            and np.array_equal(self.mean, other.mean)
            and np.array_equal(self.covariance, other.covariance)
            and float(self.weight) == float(other.weight)
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"MultivariateGaussianPrior(names={self.names}, weight={self.weight:g})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.tag,
            "names": list(self.names),
            "mean": [float(v) for v in self.mean],
            "covariance": [[float(v) for v in row] for row in self.covariance],
            "weight": _number(self.weight),
        }

    @classmethod
    def from_dict(cls, data: dict, where: str = "") -> MultivariateGaussianPrior:
        missing = [k for k in ("names", "mean", "covariance") if k not in data]
        if missing:
            where = f" in {where}" if where else ""
            raise ValueError(f"MultivariateGaussianPrior{where} lacks key(s) {missing}")
        return cls(data["names"], data["mean"], data["covariance"], data.get("weight", 1))


#: Prior classes by their ``tag`` (the ``type`` of a prior entry in model YAML).
PRIORS: dict[str, type] = {
    cls.tag: cls
    for cls in (
        GaussianPrior,
        UniformPrior,
        LogUniformPrior,
        LogNormalPrior,
        HalfNormalPrior,
        GeneralizedGaussianPrior,
        MultivariateGaussianPrior,
    )
}


def prior_from_dict(data: dict, where: str = ""):
    """Create a prior from its YAML entry (``type`` selects the class in :data:`PRIORS`).

    Examples
    --------
    >>> prior_from_dict({"type": "UniformPrior", "parameters": [{"name": "min", "value": 1},
    ...                  {"name": "max", "value": 4}], "weight": 1})
    UniformPrior(min=1, max=4, weight=1)
    """
    place = f" in {where}" if where else ""
    if not isinstance(data, dict) or "type" not in data:
        raise ValueError(f"prior entry{place} must be a mapping with a 'type', got {data!r}")
    cls = PRIORS.get(data["type"])
    if cls is None:
        raise ValueError(
            f"unknown prior type {data['type']!r}{place}; known types: {sorted(PRIORS)}"
        )
    return cls.from_dict(data, where=where)
