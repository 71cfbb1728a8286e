"""Broken power laws: :class:`BrokenPowerLawSpectralModel` (analytic integral) and
:class:`SmoothBrokenPowerLawSpectralModel` (quadrature)."""

from __future__ import annotations

from typing import ClassVar

from skyfit._math import xp
from skyfit.models.base import Model
from skyfit.models.parameter import Parameter

from ._util import powerlaw_integral
from .quadrature import integrate_log

__all__ = ["BrokenPowerLawSpectralModel", "SmoothBrokenPowerLawSpectralModel"]

_LOG = {"interp": "log"}


class BrokenPowerLawSpectralModel(Model):
    r"""Broken power law, continuous at the break.

    .. math::
        \phi(E) = \phi_0 \times \begin{cases}
            (E/E_b)^{-\Gamma_1} & E < E_b \\
            (E/E_b)^{-\Gamma_2} & E \ge E_b
        \end{cases}

    Parameters (canonical units): ``index1`` (2), ``index2`` (2), ``amplitude``
    :math:`\phi_0` (1e-12 cm-2 s-1 TeV-1), ``ebreak`` :math:`E_b` (1 TeV).

    Examples
    --------
    >>> pars = dict(index1=1.0, index2=3.0, amplitude=1.0, ebreak=2.0)
    >>> float(BrokenPowerLawSpectralModel.integral(1.0, 4.0, **pars))  # 2 ln 2 + 3/4
    2.136294361119891
    """

    tag: ClassVar[str] = "BrokenPowerLawSpectralModel"
    aliases: ClassVar[tuple[str, ...]] = ("bpl", "BrokenPowerLaw")
    default_parameters: ClassVar[tuple[Parameter, ...]] = (
        Parameter("index1", 2.0),
        Parameter("index2", 2.0),
        Parameter("amplitude", 1e-12, "cm-2 s-1 TeV-1", meta=dict(_LOG)),
        Parameter("ebreak", 1.0, "TeV"),
    )

    @staticmethod
    def evaluate(energy, index1, index2, amplitude, ebreak):
        """Differential flux in cm-2 s-1 TeV-1 (energies in TeV)."""
        m = xp(energy, index1, index2, amplitude, ebreak)
        x = energy / ebreak
        return amplitude * m.where(energy < ebreak, m.power(x, -index1), m.power(x, -index2))

    @staticmethod
    def integral(energy_min, energy_max, index1, index2, amplitude, ebreak):
        r"""Analytic bin integral in cm-2 s-1, also for bins straddling the break.

        The bin is split into :math:`[\min(E_1, E_b), \min(E_2, E_b)]` (index 1) and
        :math:`[\max(E_1, E_b), \max(E_2, E_b)]` (index 2); an empty piece contributes
        exactly 0 with a finite gradient. The result is continuously differentiable in
        ``ebreak``; the split uses one ``where`` per edge so that the gradient is right
        also when a bin edge equals ``ebreak`` exactly.
        """
        m = xp(energy_min, energy_max, index1, index2, amplitude, ebreak)
        below_min = energy_min < ebreak
        below_max = energy_max < ebreak
        low = powerlaw_integral(
            m.where(below_min, energy_min, ebreak),
            m.where(below_max, energy_max, ebreak),
            index1,
            ebreak,
        )
        high = powerlaw_integral(
            m.where(below_min, ebreak, energy_min),
            m.where(below_max, ebreak, energy_max),
            index2,
            ebreak,
        )
        return amplitude * (low + high)


class SmoothBrokenPowerLawSpectralModel(Model):
    r"""Smoothly broken power law (Gammapy's definition).

    .. math::
        \phi(E) = \phi_0 \left(\frac{E}{E_0}\right)^{-\Gamma_1}
        \left(1 + \left(\frac{E}{E_b}\right)^{(\Gamma_2 - \Gamma_1)/\beta'}\right)^{-\beta'},
        \quad \beta' = \beta \, \mathrm{sign}(\Gamma_2 - \Gamma_1)

    As in Gammapy, the break factor is exactly 1 when :math:`\beta' = 0` (in particular
    for :math:`\Gamma_1 = \Gamma_2`), so the model jumps there by :math:`2^{\pm\beta}`.

    Parameters (canonical units): ``index1`` (2), ``index2`` (2), ``amplitude``
    :math:`\phi_0` (1e-12 cm-2 s-1 TeV-1), ``ebreak`` :math:`E_b` (1 TeV), ``reference``
    :math:`E_0` (1 TeV, frozen), ``beta`` (1, frozen).

    Examples
    --------
    >>> pars = dict(index1=1.0, index2=3.0, amplitude=1.0, ebreak=1.0, reference=1.0, beta=1.0)
    >>> float(SmoothBrokenPowerLawSpectralModel.evaluate(1.0, **pars))
    0.5
    """

    tag: ClassVar[str] = "SmoothBrokenPowerLawSpectralModel"
    aliases: ClassVar[tuple[str, ...]] = ("sbpl", "SmoothBrokenPowerLaw")
    default_parameters: ClassVar[tuple[Parameter, ...]] = (
        Parameter("index1", 2.0),
        Parameter("index2", 2.0),
        Parameter("amplitude", 1e-12, "cm-2 s-1 TeV-1", meta=dict(_LOG)),
        Parameter("ebreak", 1.0, "TeV"),
        Parameter("reference", 1.0, "TeV", frozen=True),
        Parameter("beta", 1.0, frozen=True),
    )

    @staticmethod
    def evaluate(energy, index1, index2, amplitude, ebreak, reference, beta):
        """Differential flux in cm-2 s-1 TeV-1 (energies in TeV)."""
        m = xp(energy, index1, index2, amplitude, ebreak, reference, beta)
        diff = index2 - index1
        signed_beta = beta * m.where(diff > 0, 1.0, m.where(diff < 0, -1.0, 0.0))
        active = m.abs(signed_beta) > 0
        safe_beta = m.where(active, signed_beta, 1.0)
        brk = m.power(1.0 + m.power(energy / ebreak, diff / safe_beta), -safe_beta)
        pwl = amplitude * m.power(energy / reference, -index1)
        return pwl * m.where(active, brk, 1.0)

    @staticmethod
    def integral(energy_min, energy_max, index1, index2, amplitude, ebreak, reference, beta):
        """Bin integral in cm-2 s-1 by Gauss-Legendre quadrature in log energy."""
        pars = dict(index1=index1, index2=index2, amplitude=amplitude, ebreak=ebreak,
                    reference=reference, beta=beta)
        return integrate_log(
            SmoothBrokenPowerLawSpectralModel.evaluate, energy_min, energy_max, pars
        )
