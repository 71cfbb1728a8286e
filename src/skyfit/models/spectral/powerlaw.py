"""Power-law spectral models: :class:`PowerLawSpectralModel`, :class:`PowerLaw2SpectralModel`
and :class:`PowerLawNormSpectralModel`.

All integrals are analytic and smooth at index 1 (see
:func:`skyfit.models.spectral._util.powerlaw_integral`).
"""

from __future__ import annotations

from typing import ClassVar

from skyfit._math import xp
from skyfit.models.base import Model
from skyfit.models.parameter import Parameter

from ._util import powerlaw_integral

__all__ = ["PowerLaw2SpectralModel", "PowerLawNormSpectralModel", "PowerLawSpectralModel"]

_LOG = {"interp": "log"}


class PowerLawSpectralModel(Model):
    r"""Power law.

    .. math::
        \phi(E) = \phi_0 \left(\frac{E}{E_0}\right)^{-\Gamma}

    Parameters (canonical units): ``index`` :math:`\Gamma` (2.0), ``amplitude``
    :math:`\phi_0` (1e-12 cm-2 s-1 TeV-1), ``reference`` :math:`E_0` (1 TeV, frozen).

    Examples
    --------
    >>> model = PowerLawSpectralModel(index=2.5)
    >>> float(PowerLawSpectralModel.evaluate(1.0, **model.canonical_values()))
    1e-12
    >>> round(float(PowerLawSpectralModel.integral(1.0, 10.0, 1.0, 1e-12, 1.0)) / 1e-12, 10)
    2.302585093
    """

    tag: ClassVar[str] = "PowerLawSpectralModel"
    aliases: ClassVar[tuple[str, ...]] = ("pl", "PowerLaw")
    default_parameters: ClassVar[tuple[Parameter, ...]] = (
        Parameter("index", 2.0),
        Parameter("amplitude", 1e-12, "cm-2 s-1 TeV-1", meta=dict(_LOG)),
        Parameter("reference", 1.0, "TeV", frozen=True),
    )

    @staticmethod
    def evaluate(energy, index, amplitude, reference):
        r"""Differential flux :math:`\phi_0 (E/E_0)^{-\Gamma}` in cm-2 s-1 TeV-1 (E in TeV)."""
        m = xp(energy, index, amplitude, reference)
        return amplitude * m.power(energy / reference, -index)

    @staticmethod
    def integral(energy_min, energy_max, index, amplitude, reference):
        r"""Analytic bin integral in cm-2 s-1.

        .. math::
            F = \phi_0 E_0 \frac{x_2^{1-\Gamma} - x_1^{1-\Gamma}}{1-\Gamma},
            \quad x_i = E_i / E_0,

        evaluated smoothly through :math:`\Gamma = 1` (where it is
        :math:`\phi_0 E_0 \ln(E_2/E_1)`).
        """
        return amplitude * powerlaw_integral(energy_min, energy_max, index, reference)


class PowerLaw2SpectralModel(Model):
    r"""Power law normalised by its integral flux between ``emin`` and ``emax``.

    .. math::
        \phi(E) = F_0 \frac{(1-\Gamma)\,E^{-\Gamma}}{E_{0,\max}^{1-\Gamma} - E_{0,\min}^{1-\Gamma}}

    Parameters (canonical units): ``amplitude`` :math:`F_0` (1e-12 cm-2 s-1), ``index``
    :math:`\Gamma` (2), ``emin`` (0.1 TeV, frozen), ``emax`` (100 TeV, frozen). Unlike
    Gammapy's formula, this one is finite and smooth at :math:`\Gamma = 1`.

    Examples
    --------
    >>> pars = PowerLaw2SpectralModel().canonical_values()
    >>> flux = PowerLaw2SpectralModel.integral(0.1, 100.0, **pars)
    >>> round(float(flux) / 1e-12, 12)
    1.0
    """

    tag: ClassVar[str] = "PowerLaw2SpectralModel"
    aliases: ClassVar[tuple[str, ...]] = ("pl-2", "PowerLaw2")
    default_parameters: ClassVar[tuple[Parameter, ...]] = (
        Parameter("amplitude", 1e-12, "cm-2 s-1", meta=dict(_LOG)),
        Parameter("index", 2.0),
        Parameter("emin", 0.1, "TeV", frozen=True),
        Parameter("emax", 100.0, "TeV", frozen=True),
    )

    @staticmethod
    def evaluate(energy, amplitude, index, emin, emax):
        """Differential flux in cm-2 s-1 TeV-1 (energies in TeV)."""
        m = xp(energy, amplitude, index, emin, emax)
        norm = powerlaw_integral(emin, emax, index, emax)
        return amplitude * m.power(energy / emax, -index) / norm

    @staticmethod
    def integral(energy_min, energy_max, amplitude, index, emin, emax):
        r"""Analytic bin integral in cm-2 s-1.

        .. math::
            F = F_0 \frac{E_2^{1-\Gamma} - E_1^{1-\Gamma}}{E_{0,\max}^{1-\Gamma}
            - E_{0,\min}^{1-\Gamma}}
        """
        top = powerlaw_integral(energy_min, energy_max, index, emax)
        return amplitude * top / powerlaw_integral(emin, emax, index, emax)


class PowerLawNormSpectralModel(Model):
    r"""Dimensionless power law, a spectral correction (e.g. of a background template).

    .. math::
        \phi(E) = \mathrm{norm} \left(\frac{E}{E_0}\right)^{-\mathrm{tilt}}

    Parameters (canonical units): ``tilt`` (0, frozen), ``norm`` (1), ``reference``
    :math:`E_0` (1 TeV, frozen). ``integral`` is in TeV.

    Examples
    --------
    >>> float(PowerLawNormSpectralModel.evaluate(3.0, tilt=0.0, norm=1.2, reference=1.0))
    1.2
    """

    tag: ClassVar[str] = "PowerLawNormSpectralModel"
    aliases: ClassVar[tuple[str, ...]] = ("pl-norm", "PowerLawNorm")
    default_parameters: ClassVar[tuple[Parameter, ...]] = (
        Parameter("tilt", 0.0, frozen=True),
        Parameter("norm", 1.0, "", meta=dict(_LOG)),
        Parameter("reference", 1.0, "TeV", frozen=True),
    )

    @staticmethod
    def evaluate(energy, tilt, norm, reference):
        r"""Dimensionless factor :math:`\mathrm{norm}\,(E/E_0)^{-\mathrm{tilt}}`."""
        m = xp(energy, tilt, norm, reference)
        return norm * m.power(energy / reference, -tilt)

    @staticmethod
    def integral(energy_min, energy_max, tilt, norm, reference):
        """Analytic bin integral (in TeV), smooth at ``tilt == 1``."""
        return norm * powerlaw_integral(energy_min, energy_max, tilt, reference)
