"""The Poisson likelihood ratio statistic for binned counts (Cash 1979)."""

from __future__ import annotations

from .._math import xp

__all__ = ["TRUNCATION_VALUE", "cash", "has_negative"]

TRUNCATION_VALUE = 1e-25
"""Floor on the predicted counts, as in Gammapy: bins with ``mu <= 1e-25`` use ``1e-25``."""


def cash(n, mu):
    r"""Cash statistic per bin, :math:`C = 2\,(\mu - n \ln \mu)`.

    ``mu`` is floored at :data:`TRUNCATION_VALUE` like Gammapy, so a bin with counts but
    no predicted counts costs a large, finite amount instead of infinity. Works on numpy
    arrays and PyTensor variables.

    References: Cash (1979), ApJ 228, 939.

    Examples
    --------
    >>> import numpy as np
    >>> cash(np.array([2.0]), np.array([2.0])).round(6).tolist()
    [1.227411]
    """
    m = xp(n, mu)
    mu = m.maximum(mu, TRUNCATION_VALUE)
    return 2.0 * (mu - n * m.log(mu))


def has_negative(values) -> bool:
    """Whether predicted counts (or a map that scales them) are negative beyond
    round-off: below ``-1e-9`` of the largest magnitude. An FFT convolution leaves
    ``-1e-15`` where a source without background does not reach, a PSF spline's far wing
    ``-1e-271``; a negative amplitude gives real negative values.

    Examples
    --------
    >>> import numpy as np
    >>> has_negative(np.array([3.0, -1e-15])), has_negative(np.array([3.0, -0.1]))
    (False, True)
    """
    import numpy as np

    values = np.asarray(values)
    return bool(values.size and values.min() < -1e-9 * np.abs(values).max())
