"""Smooth-safe building blocks shared by the spectral models.

Every function works on numpy arrays and PyTensor variables alike, and is written so that
both the value and the gradient are exact and finite at the removable singularities
(``index == 1`` for power-law integrals, ``index_2 == 0`` for the 4FGL-DR3 cutoff): the
singular expression is evaluated at a safe dummy argument and replaced by a Taylor series
with ``where`` ("double where"), so no ``nan`` leaks into the gradient through the branch
that is not selected.

Examples
--------
>>> import numpy as np
>>> float(powerlaw_integral(1.0, 10.0, 1.0, 1.0))  # = ln(10)
2.302585092994046
"""

from __future__ import annotations

from skyfit._math import xp

__all__ = ["expm1_minus_x_over_x2", "expm1_over_x", "powerlaw_integral"]

_SERIES_RADIUS = 0.1
# 1 / (k + 1)! for k = 0..10: truncation error below 3e-19 (relative) for |a| < 0.1.
_E1_COEFFS = (
    1.0, 1 / 2, 1 / 6, 1 / 24, 1 / 120, 1 / 720, 1 / 5040, 1 / 40320, 1 / 362880,
    1 / 3628800, 1 / 39916800,
)
# 1 / (k + 2)! for k = 0..8: truncation error below 3e-17 (relative) for |u| < 0.1.
_H_COEFFS = _E1_COEFFS[1:10]


def _horner(x, coeffs):
    out = coeffs[-1]
    for c in reversed(coeffs[:-1]):
        out = out * x + c
    return out


def expm1_over_x(a):
    r"""Return :math:`(e^a - 1) / a`, equal to 1 at ``a == 0``, smooth everywhere.

    Parameters
    ----------
    a : array_like or TensorVariable
        Argument.

    Returns
    -------
    array_like or TensorVariable
        :math:`(e^a - 1)/a`, using its Taylor series for :math:`|a| < 0.1`.

    Examples
    --------
    >>> float(expm1_over_x(0.0)), round(float(expm1_over_x(1.0)), 12)
    (1.0, 1.718281828459)
    """
    m = xp(a)
    a = m.asarray(a)
    small = m.abs(a) < _SERIES_RADIUS
    a_safe = m.where(small, 1.0, a)
    return m.where(small, _horner(a, _E1_COEFFS), m.expm1(a_safe) / a_safe)


def expm1_minus_x_over_x2(u):
    r"""Return :math:`(e^u - 1 - u) / u^2`, equal to 1/2 at ``u == 0``, smooth everywhere.

    Parameters
    ----------
    u : array_like or TensorVariable
        Argument.

    Returns
    -------
    array_like or TensorVariable
        The function value, using its Taylor series for :math:`|u| < 0.1`.

    Examples
    --------
    >>> float(expm1_minus_x_over_x2(0.0))
    0.5
    """
    m = xp(u)
    u = m.asarray(u)
    small = m.abs(u) < _SERIES_RADIUS
    u_safe = m.where(small, 1.0, u)
    return m.where(small, _horner(u, _H_COEFFS), (m.expm1(u_safe) - u_safe) / u_safe**2)


def powerlaw_integral(energy_min, energy_max, index, reference):
    r"""Integral of :math:`(E/E_0)^{-\Gamma}` from ``energy_min`` to ``energy_max``.

    Written as

    .. math::
        E_0 \, x_1^{1-\Gamma} \, L \, \frac{e^{a} - 1}{a},
        \quad x_1 = E_{\min}/E_0,\ L = \ln(E_{\max}/E_{\min}),\ a = (1-\Gamma) L,

    which is exact, finite and differentiable at :math:`\Gamma = 1` (where it is
    :math:`E_0 L`) and for empty bins (:math:`L = 0`).

    Parameters
    ----------
    energy_min, energy_max : array_like or TensorVariable
        Integration bounds (same unit as ``reference``).
    index : array_like or TensorVariable
        Spectral index :math:`\Gamma`.
    reference : array_like or TensorVariable
        Reference energy :math:`E_0`.

    Returns
    -------
    array_like or TensorVariable
        The integral, in the unit of the energies.

    Examples
    --------
    >>> round(float(powerlaw_integral(1.0, 2.0, 2.0, 1.0)), 12)
    0.5
    """
    m = xp(energy_min, energy_max, index, reference)
    log_ratio = m.log(energy_max / energy_min)
    slope = 1.0 - index
    return (
        reference * m.power(energy_min / reference, slope) * log_ratio
        * expm1_over_x(slope * log_ratio)
    )
