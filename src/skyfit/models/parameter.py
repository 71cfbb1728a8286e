"""Model parameters: a value with a unit, bounds, a frozen flag, an error and a prior.

Values are stored in the unit they were given in (as Gammapy does, so a model file
round-trips exactly); the forward model converts them to its canonical units with
:meth:`Parameter.factor_to`.
"""

from __future__ import annotations

import copy
import functools
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import astropy.units as u

__all__ = ["Parameter", "Parameters"]


@dataclass
class Parameter:
    """A model parameter.

    Parameters
    ----------
    name : str
        Name within its model (``"amplitude"``, ``"lon_0"``).
    value : float
        Current value, in ``unit``.
    unit : str
        Unit string understood by astropy (``""`` for dimensionless).
    min, max : float
        Bounds in ``unit``; ``nan`` means unbounded.
    frozen : bool
        Frozen parameters are constants of the fit.
    error : float
        1-sigma error in ``unit`` (written by fits).
    prior : object or None
        Prior distribution (see :mod:`skyfit.models.priors`), or None.
    meta : dict
        Extra keys read from a model file (``interp``, ``scale_method``...) kept for round trips.

    Examples
    --------
    >>> p = Parameter("amplitude", 1e-12, "cm-2 s-1 TeV-1")
    >>> p.factor_to("m-2 s-1 TeV-1")
    10000.0
    >>> p.is_free
    True
    """

    name: str
    value: float
    unit: str = ""
    min: float = math.nan
    max: float = math.nan
    frozen: bool = False
    error: float = 0.0
    prior: Any = None
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.value = float(self.value)
        self.min = float(self.min)
        self.max = float(self.max)
        self.error = float(self.error)
        self.frozen = bool(self.frozen)
        try:
            self.unit = _unit_string(self.unit)
        except ValueError:
            raise ValueError(f"parameter {self.name!r}: invalid unit {self.unit!r} "
                             "(astropy cannot parse it)") from None
        if isinstance(self.prior, dict):  # a prior YAML entry (Gammapy's layout)
            from .priors import prior_from_dict

            self.prior = prior_from_dict(self.prior, where=f"parameter {self.name!r}")
        _check_bounds(self.name, self.min, self.max)

    @property
    def is_free(self) -> bool:
        return not self.frozen

    @property
    def quantity(self) -> u.Quantity:
        return u.Quantity(self.value, self.unit)

    def factor_to(self, unit: str) -> float:
        """Multiplicative factor converting values of this parameter to ``unit``.

        Examples
        --------
        >>> Parameter("sigma", 6.0, "arcmin").factor_to("deg")
        0.1
        """
        try:
            return _factor(self.unit, unit)
        except u.UnitConversionError as exc:
            raise u.UnitConversionError(
                f"parameter {self.name!r} has unit {self.unit!r}, which cannot be "
                f"converted to {unit!r}"
            ) from exc

    def copy(self) -> Parameter:
        """An independent deep copy (prior and ``meta`` included).

        Examples
        --------
        >>> p = Parameter("index", 2.0)
        >>> q = p.copy()
        >>> q.value = 3.0
        >>> p.value, q.value
        (2.0, 3.0)
        """
        return copy.deepcopy(self)


def _check_bounds(name: str, lo: float, hi: float) -> None:
    if not math.isnan(lo) and not math.isnan(hi) and lo > hi:
        raise ValueError(f"parameter {name!r}: min ({lo}) is larger than max ({hi})")


def _unit_string(unit) -> str:
    if unit is None:
        return ""
    if isinstance(unit, u.UnitBase):
        return unit.to_string()
    text = str(unit).strip()
    if text:
        u.Unit(text)  # validate early, with astropy's message
    return text


class Parameters:
    """An ordered collection of :class:`Parameter` with lookup by name.

    Examples
    --------
    >>> pars = Parameters([Parameter("index", 2.0), Parameter("amplitude", 1e-12)])
    >>> pars["index"].value
    2.0
    >>> [p.name for p in pars.free_parameters]
    ['index', 'amplitude']
    """

    def __init__(self, parameters: Iterable[Parameter] = ()) -> None:
        self._parameters = list(parameters)

    def __iter__(self) -> Iterator[Parameter]:
        return iter(self._parameters)

    def __len__(self) -> int:
        return len(self._parameters)

    def __getitem__(self, key: int | str) -> Parameter:
        if isinstance(key, str):
            for par in self._parameters:
                if par.name == key:
                    return par
            raise KeyError(f"no parameter named {key!r}; have {self.names}")
        return self._parameters[key]

    def __setitem__(self, key: int | str, par: Parameter) -> None:
        """Replace a parameter (by index or name), e.g. to share one between models."""
        if isinstance(key, str):
            key = self.names.index(self[key].name)
        self._parameters[key] = par

    def __contains__(self, key: str | Parameter) -> bool:
        if isinstance(key, Parameter):
            return any(p is key for p in self._parameters)
        return key in self.names

    @property
    def names(self) -> list[str]:
        return [p.name for p in self._parameters]

    @property
    def free_parameters(self) -> Parameters:
        return Parameters(p for p in self._parameters if p.is_free)

    @property
    def values(self) -> list[float]:
        return [p.value for p in self._parameters]

    def __repr__(self) -> str:
        rows = ", ".join(f"{p.name}={p.value:g}{' ' + p.unit if p.unit else ''}" for p in self)
        return f"Parameters({rows})"


@functools.lru_cache(maxsize=256)
def _factor(unit: str, to: str) -> float:
    """``unit`` in units of ``to`` (astropy parses unit strings slowly: ~0.4 ms each)."""
    return float(u.Unit(unit).to(u.Unit(to)))
