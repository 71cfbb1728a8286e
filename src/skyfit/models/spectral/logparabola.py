"""The log-parabola spectral model, :class:`LogParabolaSpectralModel` (natural log)."""

from __future__ import annotations

from typing import ClassVar

from skyfit._math import xp
from skyfit.models.base import Model
from skyfit.models.parameter import Parameter

from .quadrature import integrate_log

__all__ = ["LogParabolaSpectralModel"]


class LogParabolaSpectralModel(Model):
    r"""Log parabola, with the natural logarithm as in Gammapy.

    .. math::
        \phi(E) = \phi_0 \left(\frac{E}{E_0}\right)^{-\alpha - \beta \ln(E/E_0)}

    Parameters (canonical units): ``amplitude`` :math:`\phi_0` (1e-12 cm-2 s-1 TeV-1),
    ``reference`` :math:`E_0` (10 TeV, frozen), ``alpha`` (2), ``beta`` (1). A catalogue
    curvature in :math:`\log_{10}` converts as :math:`\beta = \beta_{10} / \ln 10`.

    Examples
    --------
    >>> pars = dict(amplitude=1e-12, reference=10.0, alpha=2.0, beta=1.0)
    >>> float(LogParabolaSpectralModel.evaluate(10.0, **pars))
    1e-12
    >>> flux = LogParabolaSpectralModel.integral(1.0, 10.0, **pars)
    """

    tag: ClassVar[str] = "LogParabolaSpectralModel"
    aliases: ClassVar[tuple[str, ...]] = ("lp", "LogParabola")
    default_parameters: ClassVar[tuple[Parameter, ...]] = (
        Parameter("amplitude", 1e-12, "cm-2 s-1 TeV-1", meta={"interp": "log"}),
        Parameter("reference", 10.0, "TeV", frozen=True),
        Parameter("alpha", 2.0),
        Parameter("beta", 1.0),
    )

    @staticmethod
    def evaluate(energy, amplitude, reference, alpha, beta):
        """Differential flux in cm-2 s-1 TeV-1 (energies in TeV)."""
        m = xp(energy, amplitude, reference, alpha, beta)
        xx = energy / reference
        return amplitude * m.power(xx, -alpha - beta * m.log(xx))

    @staticmethod
    def integral(energy_min, energy_max, amplitude, reference, alpha, beta):
        """Bin integral in cm-2 s-1 by Gauss-Legendre quadrature in log energy."""
        pars = dict(amplitude=amplitude, reference=reference, alpha=alpha, beta=beta)
        return integrate_log(LogParabolaSpectralModel.evaluate, energy_min, energy_max, pars)
