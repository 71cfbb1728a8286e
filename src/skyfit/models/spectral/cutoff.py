"""Cut-off power laws: :class:`ExpCutoffPowerLawSpectralModel` and
:class:`SuperExpCutoffPowerLaw4FGLDR3SpectralModel`.

Their integrals use Gauss-Legendre quadrature in log energy
(:func:`skyfit.models.spectral.quadrature.integrate_log`).
"""

from __future__ import annotations

from typing import ClassVar

from skyfit._math import xp
from skyfit.models.base import Model
from skyfit.models.parameter import Parameter

from ._util import expm1_minus_x_over_x2
from .quadrature import integrate_log

__all__ = ["ExpCutoffPowerLawSpectralModel", "SuperExpCutoffPowerLaw4FGLDR3SpectralModel"]


class ExpCutoffPowerLawSpectralModel(Model):
    r"""Power law with an exponential cutoff.

    .. math::
        \phi(E) = \phi_0 \left(\frac{E}{E_0}\right)^{-\Gamma}
        \exp\left(-(\lambda E)^{\alpha}\right)

    Parameters (canonical units): ``index`` :math:`\Gamma` (1.5), ``amplitude``
    :math:`\phi_0` (1e-12 cm-2 s-1 TeV-1), ``reference`` :math:`E_0` (1 TeV, frozen),
    ``lambda_`` :math:`\lambda` (0.1 TeV-1), ``alpha`` :math:`\alpha` (1, frozen).

    Examples
    --------
    >>> pars = ExpCutoffPowerLawSpectralModel().canonical_values()
    >>> round(float(ExpCutoffPowerLawSpectralModel.evaluate(10.0, **pars)) * 1e12, 12)
    0.011633369385
    >>> flux = ExpCutoffPowerLawSpectralModel.integral(1.0, 2.0, **pars)
    """

    tag: ClassVar[str] = "ExpCutoffPowerLawSpectralModel"
    aliases: ClassVar[tuple[str, ...]] = ("ecpl", "ExpCutoffPowerLaw")
    default_parameters: ClassVar[tuple[Parameter, ...]] = (
        Parameter("index", 1.5),
        Parameter("amplitude", 1e-12, "cm-2 s-1 TeV-1", meta={"interp": "log"}),
        Parameter("reference", 1.0, "TeV", frozen=True),
        Parameter("lambda_", 0.1, "TeV-1"),
        Parameter("alpha", 1.0, frozen=True),
    )

    @staticmethod
    def evaluate(energy, index, amplitude, reference, lambda_, alpha):
        """Differential flux in cm-2 s-1 TeV-1 (energies in TeV, ``lambda_`` in TeV-1)."""
        m = xp(energy, index, amplitude, reference, lambda_, alpha)
        pwl = amplitude * m.power(energy / reference, -index)
        return pwl * m.exp(-m.power(energy * lambda_, alpha))

    @staticmethod
    def integral(energy_min, energy_max, index, amplitude, reference, lambda_, alpha):
        """Bin integral in cm-2 s-1 by Gauss-Legendre quadrature in log energy."""
        pars = dict(index=index, amplitude=amplitude, reference=reference,
                    lambda_=lambda_, alpha=alpha)
        return integrate_log(
            ExpCutoffPowerLawSpectralModel.evaluate, energy_min, energy_max, pars
        )


class SuperExpCutoffPowerLaw4FGLDR3SpectralModel(Model):
    r"""Super-exponential cutoff power law of 4FGL-DR3 (Fermi ``PLSuperExpCutoff4``).

    With :math:`x = E/E_0`, :math:`a` = ``expfactor``, :math:`\Gamma_1` = ``index_1``,
    :math:`\Gamma_2` = ``index_2``:

    .. math::
        \phi(E) = \phi_0 \, x^{-\Gamma_1 + a/\Gamma_2}
        \exp\left(\frac{a}{\Gamma_2^2}\left(1 - x^{\Gamma_2}\right)\right)
        = \phi_0 \, x^{-\Gamma_1} \exp\left(-a \ln^2 x \; h(\Gamma_2 \ln x)\right),

    with :math:`h(u) = (e^u - 1 - u)/u^2`. The second form (used here) is exact and
    smooth everywhere, including :math:`\Gamma_2 \to 0`; Gammapy switches to a
    third-order expansion of :math:`h` for :math:`|\Gamma_2 \ln x| < 10^{-2}`, which
    agrees with it to about :math:`10^{-8} a \ln^2 x` there.

    Parameters (canonical units): ``amplitude`` :math:`\phi_0` (1e-12 cm-2 s-1 TeV-1),
    ``reference`` :math:`E_0` (1 TeV, frozen), ``expfactor`` :math:`a` (1e-2),
    ``index_1`` (1.5), ``index_2`` (2).

    Examples
    --------
    >>> pars = SuperExpCutoffPowerLaw4FGLDR3SpectralModel().canonical_values()
    >>> float(SuperExpCutoffPowerLaw4FGLDR3SpectralModel.evaluate(1.0, **pars))
    1e-12
    """

    tag: ClassVar[str] = "SuperExpCutoffPowerLaw4FGLDR3SpectralModel"
    aliases: ClassVar[tuple[str, ...]] = ("secpl-4fgl-dr3", "SuperExpCutoffPowerLaw4FGLDR3")
    default_parameters: ClassVar[tuple[Parameter, ...]] = (
        Parameter("amplitude", 1e-12, "cm-2 s-1 TeV-1", meta={"interp": "log"}),
        Parameter("reference", 1.0, "TeV", frozen=True),
        Parameter("expfactor", 1e-2),
        Parameter("index_1", 1.5),
        Parameter("index_2", 2.0),
    )

    @staticmethod
    def evaluate(energy, amplitude, reference, expfactor, index_1, index_2):
        """Differential flux in cm-2 s-1 TeV-1 (energies in TeV)."""
        m = xp(energy, amplitude, reference, expfactor, index_1, index_2)
        log_x = m.log(energy / reference)
        exponent = -index_1 * log_x - expfactor * log_x**2 * expm1_minus_x_over_x2(
            index_2 * log_x
        )
        return amplitude * m.exp(exponent)

    @staticmethod
    def integral(energy_min, energy_max, amplitude, reference, expfactor, index_1, index_2):
        """Bin integral in cm-2 s-1 by Gauss-Legendre quadrature in log energy."""
        pars = dict(amplitude=amplitude, reference=reference, expfactor=expfactor,
                    index_1=index_1, index_2=index_2)
        return integrate_log(
            SuperExpCutoffPowerLaw4FGLDR3SpectralModel.evaluate, energy_min, energy_max, pars
        )
