"""The thin class shared by spectral and spatial model families.

A model is a pure function (``evaluate``, a ``staticmethod``) plus a
:class:`~skyfit.models.parameter.Parameters` instance holding the current values.
Each concrete class declares

* ``tag``: the Gammapy type name (``"PowerLawSpectralModel"``), used in model YAML;
* ``aliases``: short names also accepted when reading (``"PowerLaw"``, ``"pl"``);
* ``default_parameters``: a tuple of :class:`Parameter` templates, in Gammapy's order,
  whose ``unit`` is the *canonical* unit the pure function expects;
* ``evaluate(...)``: the formula, working on numpy arrays and PyTensor variables
  (use :func:`skyfit._math.xp`).
"""

from __future__ import annotations

from typing import ClassVar

from .parameter import Parameter, Parameters

__all__ = ["Model"]


class Model:
    """Base class of the spectral and spatial models: a pure formula plus its parameters.

    Parameters
    ----------
    **values : float, Quantity or Parameter
        Initial values by parameter name; the others take the ``default_parameters``.

    Examples
    --------
    A one-parameter spectral model:

    >>> class Flat(Model):
    ...     tag = "Flat"
    ...     default_parameters = (Parameter("level", 1e-12, "cm-2 s-1 TeV-1"),)
    ...
    ...     @staticmethod
    ...     def evaluate(energy, level):
    ...         return level + 0 * energy
    >>> import astropy.units as u
    >>> flat = Flat(level=2e-8 * u.Unit("m-2 s-1 TeV-1"))
    >>> flat.parameters["level"].unit
    '1 / (TeV s m2)'
    >>> f"{flat.canonical_values()['level']:.3g}"
    '2e-12'
    """

    tag: ClassVar[str] = ""
    aliases: ClassVar[tuple[str, ...]] = ()
    default_parameters: ClassVar[tuple[Parameter, ...]] = ()

    def __init__(self, **values) -> None:
        pars = [p.copy() for p in self.default_parameters]
        names = {p.name for p in pars}
        unknown = set(values) - names
        if unknown:
            raise TypeError(
                f"{type(self).__name__} has no parameter(s) {sorted(unknown)}; "
                f"its parameters are {[p.name for p in pars]}"
            )
        for par, default in zip(pars, self.default_parameters, strict=True):
            if par.name in values:
                _assign(par, values[par.name])
                par.factor_to(default.unit)  # a clear UnitConversionError now, not in a fit
        self.parameters = Parameters(pars)

    def canonical_values(self, values: dict | None = None) -> dict:
        """Parameter values converted to the canonical units of ``evaluate``.

        ``values`` maps names to (possibly symbolic) values in the parameters' own units;
        missing names take the current values.
        """
        out = {}
        for par, default in zip(self.parameters, self.default_parameters, strict=True):
            value = par.value if values is None or par.name not in values else values[par.name]
            factor = par.factor_to(default.unit) if par.unit != default.unit else 1.0
            out[par.name] = value * factor if factor != 1.0 else value
        return out

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.parameters!r})"


def _assign(par: Parameter, value) -> None:
    """Set a parameter from a float, an astropy Quantity or a Parameter."""
    if isinstance(value, Parameter):
        par.value, par.unit = value.value, value.unit
        par.min, par.max, par.frozen = value.min, value.max, value.frozen
        par.error, par.prior, par.meta = value.error, value.prior, dict(value.meta)
        return
    if hasattr(value, "unit") and hasattr(value, "value"):
        par.value, par.unit = float(value.value), value.unit.to_string()
        return
    par.value = float(value)
