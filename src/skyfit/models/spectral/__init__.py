"""Spectral models: pure ``evaluate``/``integral`` functions for numpy and PyTensor.

Every class subclasses :class:`skyfit.models.base.Model` and carries Gammapy's tag,
parameter names, order, defaults and units. ``evaluate(energy, **pars)`` returns dN/dE in
cm-2 s-1 TeV-1 and ``integral(energy_min, energy_max, **pars)`` the bin integral in
cm-2 s-1, for energies in TeV and parameters in canonical units
(:meth:`~skyfit.models.base.Model.canonical_values`).

Examples
--------
>>> cls = spectral_model_from_tag("pl")
>>> cls.__name__
'PowerLawSpectralModel'
>>> float(cls.evaluate(2.0, index=2.0, amplitude=4.0, reference=1.0))
1.0
"""

from __future__ import annotations

from .broken import BrokenPowerLawSpectralModel, SmoothBrokenPowerLawSpectralModel
from .constant import ConstantSpectralModel
from .cutoff import ExpCutoffPowerLawSpectralModel, SuperExpCutoffPowerLaw4FGLDR3SpectralModel
from .logparabola import LogParabolaSpectralModel
from .powerlaw import PowerLaw2SpectralModel, PowerLawNormSpectralModel, PowerLawSpectralModel
from .quadrature import integrate_log

__all__ = [
    "SPECTRAL_MODELS",
    "BrokenPowerLawSpectralModel",
    "ConstantSpectralModel",
    "ExpCutoffPowerLawSpectralModel",
    "LogParabolaSpectralModel",
    "PowerLaw2SpectralModel",
    "PowerLawNormSpectralModel",
    "PowerLawSpectralModel",
    "SmoothBrokenPowerLawSpectralModel",
    "SuperExpCutoffPowerLaw4FGLDR3SpectralModel",
    "integrate_log",
    "spectral_model_from_tag",
]

_CLASSES: tuple[type, ...] = (
    PowerLawSpectralModel,
    PowerLaw2SpectralModel,
    PowerLawNormSpectralModel,
    LogParabolaSpectralModel,
    ExpCutoffPowerLawSpectralModel,
    SuperExpCutoffPowerLaw4FGLDR3SpectralModel,
    BrokenPowerLawSpectralModel,
    SmoothBrokenPowerLawSpectralModel,
    ConstantSpectralModel,
)

#: Every Gammapy tag and alias (``"PowerLawSpectralModel"``, ``"pl"``, ``"PowerLaw"``...)
#: mapped to its class.
SPECTRAL_MODELS: dict[str, type] = {
    name: cls for cls in _CLASSES for name in (cls.tag, *cls.aliases)
}


def spectral_model_from_tag(tag: str) -> type:
    """Return the spectral model class for a Gammapy type name or alias.

    Parameters
    ----------
    tag : str
        ``type`` of a spectral model in a Gammapy model file, e.g.
        ``"PowerLawSpectralModel"``, ``"pl"`` or ``"PowerLaw"``.

    Returns
    -------
    type
        The model class.

    Raises
    ------
    ValueError
        If the tag is unknown; the message lists the known tags.

    Examples
    --------
    >>> spectral_model_from_tag("lp").tag
    'LogParabolaSpectralModel'
    """
    try:
        return SPECTRAL_MODELS[tag]
    except (KeyError, TypeError):
        known = ", ".join(cls.tag for cls in _CLASSES)
        raise ValueError(
            f"unknown spectral model type {tag!r}; skyfit knows {known} "
            f"(aliases: {', '.join(a for cls in _CLASSES for a in cls.aliases)})"
        ) from None
