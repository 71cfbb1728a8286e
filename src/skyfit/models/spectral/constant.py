"""The constant spectral model, :class:`ConstantSpectralModel`."""

from __future__ import annotations

from typing import ClassVar

from skyfit._math import xp
from skyfit.models.base import Model
from skyfit.models.parameter import Parameter

__all__ = ["ConstantSpectralModel"]


class ConstantSpectralModel(Model):
    r"""Constant differential flux.

    .. math::
        \phi(E) = k

    Parameters (canonical units): ``const`` :math:`k` (1e-12 cm-2 s-1 TeV-1).

    Examples
    --------
    >>> import numpy as np
    >>> ConstantSpectralModel.evaluate(np.array([1.0, 2.0]), const=3.0).tolist()
    [3.0, 3.0]
    >>> float(ConstantSpectralModel.integral(1.0, 3.0, const=3.0))
    6.0
    """

    tag: ClassVar[str] = "ConstantSpectralModel"
    aliases: ClassVar[tuple[str, ...]] = ("const", "Constant")
    default_parameters: ClassVar[tuple[Parameter, ...]] = (
        Parameter("const", 1e-12, "cm-2 s-1 TeV-1"),
    )

    @staticmethod
    def evaluate(energy, const):
        """Differential flux ``const`` broadcast to the shape of ``energy``."""
        m = xp(energy, const)
        return const * m.ones_like(m.asarray(energy))

    @staticmethod
    def integral(energy_min, energy_max, const):
        r"""Analytic bin integral :math:`k (E_2 - E_1)` in cm-2 s-1."""
        return const * (energy_max - energy_min)
