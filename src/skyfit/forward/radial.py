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
        self.h = h = float(grid[1] - grid[0])
        self.r_max = float(r_max)
        self.nodes = nodes
        curv = _second_derivatives(sampled, h)  # (N, nodes + 1)
        y = sampled
        # coefficient tables (N, nodes + 1) of a + b t + c2 t^2 + d t^3 on each interval;
        # the extra interval is zero beyond r_max
        pad = np.zeros((values.shape[0], 1))
        # one (4, N, nodes + 1) table: numpy gathers an interval's four coefficients in
        # one call (1.6x faster than four at 1e5 radii); a, b, c2, d are views of it
        self._table = np.stack([
            np.concatenate([y[:, :-1], pad], 1),
            np.concatenate([np.diff(y, axis=1) / h
                            - h * (2 * curv[:, :-1] + curv[:, 1:]) / 6, pad], 1),
            np.concatenate([curv[:, :-1] / 2, pad], 1),
            np.concatenate([np.diff(curv, axis=1) / (6 * h), pad], 1)])
        self.a, self.b, self.c2, self.d = self._table
        self._chord = None

    def of_chord(self) -> RadialSpline:
        """The same profiles against the chord ``c = 2 sin(r / 2)`` (both in deg), on as
        many nodes (cached): evaluated at :func:`~skyfit.models.spatial.sphere.chord_length`
        distances, it skips the arc functions of the angular separation.

        Examples
        --------
        >>> rad = np.linspace(0, 3, 301)
        >>> spline = RadialSpline(rad, np.exp(-rad)[None], r_max=3.0)
        >>> c = 2 * np.sin(np.radians(2.0) / 2) / np.radians(1.0)  # 2 deg away
        >>> at_chord, at_r = spline.of_chord()(np.array([c])), spline(np.array([2.0]))
        >>> bool(np.isclose(at_chord[0, 0], at_r[0, 0], rtol=1e-6))
        True
        """
        if self._chord is None:
            deg = np.pi / 180.0
            c = np.linspace(0.0, 2.0 * np.sin(0.5 * self.r_max * deg) / deg, self.nodes + 1)
            r = 2.0 * np.arcsin(np.minimum(0.5 * c * deg, 1.0)) / deg
            self._chord = RadialSpline(c, self(r), r_max=float(c[-1]), nodes=self.nodes)
        return self._chord

    def __call__(self, r):
        """Profiles at radii ``r`` (deg, any shape P): array (N, P) (numpy or PyTensor)."""
        m = xp(r)
        if m.symbolic:
            import pytensor.tensor as pt

            idx = pt.cast(pt.clip(pt.floor(r / self.h), 0, self.nodes), "int64")
            a, b, c, d = (pt.as_tensor_variable(x) for x in (self.a, self.b, self.c2, self.d))
            t = pt.minimum(r - idx * self.h, self.h)
            return a[:, idx] + t * (b[:, idx] + t * (c[:, idx] + t * d[:, idx]))
        idx = np.clip(np.floor(r / self.h), 0, self.nodes).astype(np.int64)
        t = np.minimum(r - idx * self.h, self.h)
        a, b, c, d = np.take(self._table, idx, axis=2)
        return a + t * (b + t * (c + t * d))


def _second_derivatives(y: np.ndarray, h: float) -> np.ndarray:
    """Second derivatives at the nodes of the cubic splines through the rows of ``y``
    (uniform spacing ``h``): zero slope at the first node, natural (zero curvature) at
    the last; one tridiagonal solve for all rows (scipy's ``CubicSpline`` with these end
    conditions gives the same, but importing ``scipy.interpolate`` costs ~0.2 s).
    Rows are solved together; the loop runs over the nodes.

    Examples
    --------
    A parabola ``y = r**2`` has zero slope at 0 and curvature 2 (away from the natural
    end, where the spline must bend to zero curvature):

    >>> r = np.linspace(0.0, 1.0, 41)
    >>> m = _second_derivatives((r**2)[None, :], r[1] - r[0])
    >>> bool(np.allclose(m[0, :20], 2.0, atol=1e-3)), float(m[0, -1])
    (True, 0.0)
    """
    n = y.shape[1] - 1  # unknowns M_0 .. M_{n-1}; M_n = 0 (natural end)
    if n < 1:
        return np.zeros_like(y)
    rhs = np.empty((n, y.shape[0]))
    rhs[0] = 6.0 / h**2 * (y[:, 1] - y[:, 0])  # s'(0) = 0: 2 M_0 + M_1
    rhs[1:] = (6.0 / h**2 * (y[:, 2:] - 2 * y[:, 1:-1] + y[:, :-2])).T  # M + 4M + M
    # Thomas algorithm (the matrix is diagonally dominant: stable without pivoting;
    # scipy.linalg's banded solver gives the same, but importing it costs ~0.25 s)
    diag = np.full(n, 4.0)
    diag[0] = 2.0
    for i in range(1, n):
        w = 1.0 / diag[i - 1]
        diag[i] -= w
        rhs[i] -= w * rhs[i - 1]
    curv = np.zeros_like(y)
    curv[:, n - 1] = rhs[n - 1] / diag[n - 1]
    for i in range(n - 2, -1, -1):
        curv[:, i] = (rhs[i] - curv[:, i + 1]) / diag[i]
    return curv
