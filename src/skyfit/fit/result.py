"""Results of :class:`~skyfit.fit.MapFit`: optimisation, covariance, and both together.

Results are snapshots: they copy parameter values, errors and bounds when they are made,
so later fits do not change a result already returned.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["CovarianceResult", "FitResult", "OptimizeResult", "ParameterRow",
           "parameter_table"]


@dataclass(frozen=True)
class ParameterRow:
    """One parameter at the time a result was made (``min``/``max`` nan: unbounded).

    Examples
    --------
    >>> from skyfit.models import Parameter
    >>> row = ParameterRow.from_parameter("src.index", Parameter("index", 2.1, error=0.05))
    >>> row.name, row.value, row.error, row.frozen
    ('src.index', 2.1, 0.05, False)
    """

    name: str
    value: float
    error: float
    unit: str
    frozen: bool
    min: float
    max: float

    @classmethod
    def from_parameter(cls, name: str, par) -> ParameterRow:
        return cls(name, par.value, par.error, par.unit, par.frozen, par.min, par.max)


def parameter_table(rows: list[ParameterRow]) -> str:
    """Fixed-width text table: name, value, error, unit, frozen, min, max.

    Examples
    --------
    >>> print(parameter_table([ParameterRow("src.index", 2.1, 0.05, "", False,
    ...                                     float("nan"), float("nan"))]))
    name       value  error  unit  frozen  min  max
    src.index  2.1    0.05         False   nan  nan
    """
    header = ("name", "value", "error", "unit", "frozen", "min", "max")
    cells = [header] + [
        (r.name, f"{r.value:.6g}", f"{r.error:.3g}" if not r.frozen else "",
         r.unit, str(r.frozen), f"{r.min:.4g}", f"{r.max:.4g}")
        for r in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
             for row in cells]
    return "\n".join(lines)


@dataclass
class OptimizeResult:
    """Outcome of :meth:`MapFit.optimize`.

    Attributes
    ----------
    success : bool
        The backend reports convergence (MIGRAD: valid minimum; scipy: ``success``).
    message : str
        The backend's message, plus a note on guarded NaN evaluations if any.
    backend, method : str
        ``"minuit"`` / ``"migrad"``, or ``"scipy"`` / the scipy method.
    nfev : int
        Compiled statistic evaluations (each returns the gradient too; a Hessian by central
        differences counts ``2 n``).
    total_stat, start_stat : float
        Total statistic at the end and at the start.
    parameters : list of ParameterRow
        All parameters (free and frozen) after the fit, in the models' order.
    start : dict
        Qualified name -> start value of every free parameter.
    n_nonfinite : int
        Evaluations that returned NaN/inf and were guarded (see :class:`FitProblem`).
    wall_time : float
        Seconds spent in the backend (compilation excluded).
    backend_result : object
        The backend's own object (:class:`iminuit.Minuit` or
        :class:`scipy.optimize.OptimizeResult`).

    Examples
    --------
    Made by :meth:`MapFit.optimize`; by hand:

    >>> nan = float("nan")
    >>> rows = [ParameterRow("src.index", 2.1, 0.0, "", False, nan, nan)]
    >>> result = OptimizeResult(True, "converged", "minuit", "migrad", nfev=12,
    ...                         total_stat=100.0, start_stat=110.0, parameters=rows,
    ...                         start={"src.index": 2.0})
    >>> result.values
    {'src.index': 2.1}
    >>> print(str(result).splitlines()[0])
    OptimizeResult
    """

    success: bool
    message: str
    backend: str
    method: str
    nfev: int
    total_stat: float
    start_stat: float
    parameters: list[ParameterRow]
    start: dict[str, float]
    n_nonfinite: int = 0
    wall_time: float = math.nan
    backend_result: Any = field(default=None, repr=False)

    @property
    def names(self) -> list[str]:
        return [r.name for r in self.parameters]

    @property
    def values(self) -> dict[str, float]:
        return {r.name: r.value for r in self.parameters}

    def __str__(self) -> str:
        return (f"OptimizeResult\n\n\tbackend    : {self.backend} ({self.method})\n"
                f"\tsuccess    : {self.success}\n\tmessage    : {self.message}\n"
                f"\tnfev       : {self.nfev}\n\ttotal stat : {self.total_stat:.5f} "
                f"(start {self.start_stat:.5f})\n\n{parameter_table(self.parameters)}\n")


@dataclass
class CovarianceResult:
    """Outcome of :meth:`MapFit.covariance`: the Laplace (inverse Hessian) covariance.

    Attributes
    ----------
    success : bool
        False when the Hessian is not positive definite; then :attr:`matrix` is all NaN
        and :attr:`degenerate` names the parameters involved.
    message : str
    backend, method : str
        ``method`` is ``"laplace"`` (``2 H^-1`` of the exact-gradient Hessian of the Cash
        statistic) or ``"hesse"`` (MINUIT HESSE).
    names : list of str
        Qualified names of the free parameters, the order of :attr:`matrix`.
    matrix : ndarray
        Covariance, each parameter in its own unit.
    hessian : ndarray or None
        Hessian of the total statistic (Laplace method).
    eigenvalues : ndarray or None
        Eigenvalues of the Hessian scaled to unit diagonal (conditioning diagnostics).
    degenerate : list of str
        Parameters dominating the eigenvectors with non-positive (or numerically zero)
        curvature.
    backend_result : object
        :class:`iminuit.Minuit` for HESSE, else None.

    Examples
    --------
    Made by :meth:`MapFit.covariance`; by hand:

    >>> result = CovarianceResult(True, "ok", "minuit", "laplace", ["a", "b"],
    ...                           np.array([[0.04, 0.01], [0.01, 0.25]]))
    >>> result.errors
    {'a': 0.2, 'b': 0.5}
    >>> result.correlation.round(3).tolist()
    [[1.0, 0.1], [0.1, 1.0]]
    """

    success: bool
    message: str
    backend: str
    method: str
    names: list[str]
    matrix: np.ndarray
    hessian: np.ndarray | None = None
    eigenvalues: np.ndarray | None = None
    degenerate: list[str] = field(default_factory=list)
    backend_result: Any = field(default=None, repr=False)

    @property
    def errors(self) -> dict[str, float]:
        """Qualified name -> 1-sigma error (``sqrt`` of the diagonal)."""
        with np.errstate(invalid="ignore"):
            return {n: float(e) for n, e in zip(self.names, np.sqrt(np.diag(self.matrix)),
                                                 strict=True)}

    @property
    def correlation(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            sigma = np.sqrt(np.diag(self.matrix))
            return self.matrix / np.outer(sigma, sigma)

    def __str__(self) -> str:
        corr = self.correlation
        width = max([len(n) for n in self.names] + [4])
        lines = [f"CovarianceResult\n\n\tbackend : {self.backend} ({self.method})",
                 f"\tsuccess : {self.success}", f"\tmessage : {self.message}", "",
                 "correlation:"]
        for i, name in enumerate(self.names):
            lines.append(name.ljust(width) + " " + " ".join(f"{c:6.3f}" for c in corr[i]))
        return "\n".join(lines) + "\n"


@dataclass
class FitResult:
    """Outcome of :meth:`MapFit.run`: optimisation then covariance.

    ``parameters`` holds values and the errors from the covariance; ``success`` requires
    both steps to succeed.

    Examples
    --------
    Made by :meth:`MapFit.run`; by hand:

    >>> nan = float("nan")
    >>> rows = [ParameterRow("src.index", 2.1, 0.05, "", False, nan, nan)]
    >>> opt = OptimizeResult(True, "converged", "minuit", "migrad", 12, 100.0, 110.0, rows,
    ...                      {"src.index": 2.0})
    >>> cov = CovarianceResult(False, "Hessian not positive definite", "minuit", "laplace",
    ...                        ["src.index"], np.full((1, 1), nan))
    >>> result = FitResult(opt, cov, rows)
    >>> result.success, result.message
    (False, 'converged; covariance: Hessian not positive definite')
    >>> result.errors
    {'src.index': 0.05}
    """

    optimize_result: OptimizeResult
    covariance_result: CovarianceResult | None
    parameters: list[ParameterRow]

    @property
    def success(self) -> bool:
        cov = self.covariance_result
        return self.optimize_result.success and (cov is None or cov.success)

    @property
    def message(self) -> str:
        msg = self.optimize_result.message
        if self.covariance_result is not None and not self.covariance_result.success:
            msg += f"; covariance: {self.covariance_result.message}"
        return msg

    @property
    def total_stat(self) -> float:
        return self.optimize_result.total_stat

    @property
    def nfev(self) -> int:
        return self.optimize_result.nfev

    @property
    def values(self) -> dict[str, float]:
        return {r.name: r.value for r in self.parameters}

    @property
    def errors(self) -> dict[str, float]:
        return {r.name: r.error for r in self.parameters if not r.frozen}

    def __str__(self) -> str:
        opt = self.optimize_result
        cov = self.covariance_result
        return (f"FitResult\n\n\tbackend    : {opt.backend} ({opt.method})\n"
                f"\tsuccess    : {self.success}\n\tmessage    : {self.message}\n"
                f"\tnfev       : {opt.nfev}\n\ttotal stat : {opt.total_stat:.5f} "
                f"(start {opt.start_stat:.5f})\n"
                f"\tcovariance : {cov.method if cov is not None else 'not computed'}\n\n"
                f"{parameter_table(self.parameters)}\n")
