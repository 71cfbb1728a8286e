"""Laplace covariance from the Hessian of the Cash statistic, with degeneracy diagnostics.

For the statistic ``C = -2 ln L`` near its minimum, ``C ~ C_min + d^T H d / 2`` and the
Gaussian (Laplace) approximation of the likelihood has covariance ``2 H^-1``.
A Hessian that is not positive definite has no such inverse: the directions of zero or
negative curvature are reported through the parameters that dominate them.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["LaplaceCovariance", "laplace_covariance"]

RTOL = 1e-9
"""Eigenvalues of the unit-diagonal Hessian below ``RTOL * max`` count as degenerate
(a correlation coefficient within ~1e-9 of +-1)."""
LOADING = 0.2
"""A parameter is named in a degenerate direction when its eigenvector component
exceeds this."""


class LaplaceCovariance(NamedTuple):
    """What :func:`laplace_covariance` returns.

    Attributes
    ----------
    matrix : ndarray
        ``2 H^-1`` (all NaN when ``success`` is False).
    success : bool
        Whether ``H`` is positive definite.
    message : str
        The diagnosis (conditioning, or the degenerate directions).
    eigenvalues : ndarray
        Eigenvalues of the Hessian scaled to unit diagonal.
    degenerate : list of str
        Parameters in directions of zero or negative curvature.

    Examples
    --------
    >>> result = laplace_covariance(np.diag([2.0, 8.0]), ["a", "b"])
    >>> isinstance(result, LaplaceCovariance), result.success, result.message
    (True, True, 'Hessian positive definite')
    >>> result.eigenvalues.tolist(), result.degenerate
    ([1.0, 1.0], [])
    """

    matrix: np.ndarray
    success: bool
    message: str
    eigenvalues: np.ndarray
    degenerate: list[str]


def laplace_covariance(hessian, names: list[str]) -> LaplaceCovariance:
    """``2 H^-1`` if ``H`` is positive definite, else a NaN matrix and the culprits.

    Parameters
    ----------
    hessian : (n, n) array
        Hessian of the Cash statistic in any parameter units.
    names : list of str
        Parameter names, for the diagnostics.

    Examples
    --------
    >>> laplace_covariance(np.diag([2.0, 8.0]), ["a", "b"]).matrix.tolist()
    [[1.0, 0.0], [0.0, 0.25]]
    >>> bad = laplace_covariance(np.array([[2.0, 2.0], [2.0, 2.0]]), ["a", "b"])
    >>> bad.success, bad.degenerate
    (False, ['a', 'b'])
    >>> print(bad.message)
    Hessian not positive definite: 1 degenerate direction: (a, b) [+0.71 a -0.71 b]
    """
    hess = np.asarray(hessian, float)
    n = len(names)
    nan = np.full((n, n), np.nan)
    if hess.shape != (n, n):
        raise ValueError(f"Hessian shape {hess.shape} does not match {n} parameters")
    if not np.all(np.isfinite(hess)):
        rows = [names[i] for i in np.unique(np.argwhere(~np.isfinite(hess))[:, 0])]
        return LaplaceCovariance(nan, False, f"Hessian has NaN/inf entries for {rows}",
                                 np.full(n, np.nan), rows)
    hess = 0.5 * (hess + hess.T)
    diag = np.diag(hess)
    flat = [names[i] for i in np.flatnonzero(diag <= 0)]
    d = np.sqrt(np.where(diag > 0, diag, 1.0))
    unit = hess / np.outer(d, d)
    eigenvalues, vectors = np.linalg.eigh(unit)
    top = max(float(eigenvalues.max()), 0.0)
    bad = np.flatnonzero(eigenvalues <= RTOL * top) if top > 0 else np.arange(n)
    if flat or bad.size:
        degenerate: list[str] = list(flat)
        parts = []
        for k in bad:
            v = vectors[:, k] * np.sign(vectors[np.argmax(np.abs(vectors[:, k])), k])
            who = [names[i] for i in np.flatnonzero(np.abs(v) > LOADING)]
            degenerate += [w for w in who if w not in degenerate]
            combo = " ".join(f"{v[i]:+.2f} {names[i]}" for i in np.flatnonzero(np.abs(v)
                                                                               > LOADING))
            parts.append(f"({', '.join(who)}) [{combo}]")
        message = "Hessian not positive definite: "
        if flat:
            message += f"no positive curvature in {flat}; "
        if bad.size:
            message += f"{bad.size} degenerate direction{'s' if bad.size > 1 else ''}: "
            message += "; ".join(parts)
        return LaplaceCovariance(nan, False, message.rstrip("; "), eigenvalues, degenerate)
    cov = 2.0 * np.linalg.inv(unit) / np.outer(d, d)
    cov = 0.5 * (cov + cov.T)
    cond = top / float(eigenvalues.min())
    message = "Hessian positive definite"
    if cond > 1e8:
        message += f" but badly conditioned (condition number {cond:.2g})"
    return LaplaceCovariance(cov, True, message, eigenvalues, [])
