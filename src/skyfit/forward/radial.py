"""Radially symmetric profiles (PSFs) as clamped cubic splines, for numpy and PyTensor.

The spline has zero slope at r = 0, so a point source's predicted counts stay smooth
(with continuous first and second derivatives) in its position, also when the source
sits exactly on a pixel centre.
"""

from __future__ import annotations

import numpy as np

from .._math import xp

__all__ = ["RadialSpline"]


class RadialSpline:
    """Piecewise-cubic profiles ``f_i(r)`` on a uniform grid ``r = 0 .. r_max`` (deg).

    Parameters
    ----------
    rad : array (R,)
        Increasing radii (deg) where the profiles are tabulated (``rad[0]`` may be > 0).
    values : array (N, R)
        One profile per row (e.g. PSF density per energy, sr-1).
    r_max : float
        Radius beyond which the profiles are zero.
    nodes : int
        Number of uniform intervals of the spline.

    Examples
    --------
    >>> rad = np.linspace(0, 1, 101)
    >>> spline = RadialSpline(rad, np.exp(-0.5 * (rad / 0.2) ** 2)[None, :], r_max=1.0)
    >>> round(float(spline(np.array([0.2]))[0, 0]), 5)
    0.60653
    """

    def __init__(self, rad, values, r_max: float, nodes: int = 400) -> None:
        rad = np.asarray(rad, float)
        values = np.atleast_2d(np.asarray(values, float))
        grid = np.linspace(0.0, r_max, nodes + 1)
        sampled = np.stack([np.interp(grid, rad, row, right=0.0) for row in values])
        from scipy.interpolate import CubicSpline

        spline = CubicSpline(grid, sampled.T, axis=0,
                             bc_type=((1, np.zeros(len(values))), "natural"))
        c = spline.c  # (4, nodes, N): highest power first
        self.h = float(grid[1] - grid[0])
        self.r_max = float(r_max)
        self.nodes = nodes
        # coefficient tables (N, nodes + 1); the extra interval is zero beyond r_max
        pad = np.zeros((values.shape[0], 1))
        self.d, self.c2, self.b, self.a = (np.concatenate([c[i].T, pad], 1) for i in range(4))

    def __call__(self, r):
        """Profiles at radii ``r`` (deg, any shape P): array (N, P) (numpy or PyTensor)."""
        m = xp(r)
        if m.symbolic:
            import pytensor.tensor as pt

            idx = pt.cast(pt.clip(pt.floor(r / self.h), 0, self.nodes), "int64")
            a, b, c, d = (pt.as_tensor_variable(x) for x in (self.a, self.b, self.c2, self.d))
        else:
            idx = np.clip(np.floor(r / self.h), 0, self.nodes).astype(np.int64)
            a, b, c, d = self.a, self.b, self.c2, self.d
        t = m.minimum(r - idx * self.h, self.h)
        return a[:, idx] + t * (b[:, idx] + t * (c[:, idx] + t * d[:, idx]))
