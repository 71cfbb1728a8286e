"""Coverage study: how often the MINOS interval of a parameter contains its true value."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ._rows import FIT_ERRORS, compile_fit, describe, free_names, parameter_columns, qualified_name
from .synthetic import SyntheticSource, replication_rng

__all__ = ["CoverageStudy"]

DEFAULT_SOURCE = SyntheticSource()


@dataclass(frozen=True)
class CoverageStudy:
    """Fit ``n`` Poisson realisations of ``source`` and bound ``parameter`` with MINOS.

    Replication ``i`` draws its counts with ``replication_rng(seed, i)``, replaces the
    fit's counts (no recompilation), starts from the source's start values and runs
    :meth:`MapFit.run <skyfit.fit.MapFit.run>` (MIGRAD + Laplace covariance) and, when
    that succeeds, :meth:`MapFit.confidence <skyfit.fit.MapFit.confidence>`.

    Parameters
    ----------
    n : int
        Replications.
    seed : int
        Study seed (with the replication index, it fixes each replication's counts).
    source : SyntheticSource
        Simulated dataset, truth and start values.
    parameter : str
        Parameter whose interval is checked (any name ``Models.parameter`` accepts).
    sigma : float
        Interval half-width in standard deviations (statistic rise ``sigma**2``).

    Notes
    -----
    Row columns: ``replication``, ``success`` (fit and covariance), ``minos_success``,
    ``message`` (empty unless something failed), ``total_stat``, ``nfev``, the value and
    ``_err`` (Laplace) of every free parameter, ``errn`` / ``errp`` (MINOS, positive) and
    ``covered``. :meth:`summary` gives the coverage and pulls.

    Examples
    --------
    >>> from skyfit.study import run_serial
    >>> source = SyntheticSource(npix=(8, 8), background_rate=2.0)
    >>> study = CoverageStudy(n=3, seed=1, source=source)
    >>> table = run_serial(study)
    >>> table.colnames[:4], len(table)
    (['replication', 'success', 'minos_success', 'message'], 3)
    >>> bool(table["success"].all()), sorted(study.summary(table))[:3]
    (True, ['coverage', 'coverage_err', 'expected'])
    """

    n: int = 100
    seed: int = 0
    source: SyntheticSource = DEFAULT_SOURCE
    parameter: str = "src.index"
    sigma: float = 1.0

    def tasks(self) -> range:
        """Replication indices ``0 .. n-1``."""
        return range(self.n)

    def setup(self):
        """Build and compile the fit once: ``(fit, expected counts, free names, name)``."""
        fit, npred = self.source.build()
        name = qualified_name(fit, self.parameter)
        compile_fit(fit)
        return fit, npred, free_names(fit), name

    def run(self, state, task) -> dict:
        """Simulate and fit replication ``task``; one row."""
        fit, npred, names, name = state
        fit.set_counts(replication_rng(self.seed, task).poisson(npred))
        self.source.reset(fit)
        row = {"replication": int(task), "success": False, "minos_success": False,
               "message": "", "total_stat": math.nan, "nfev": 0}
        values, errors, errn, errp = {}, {}, math.nan, math.nan
        try:
            result = fit.run()
            values, errors = result.values, result.covariance_result.errors
            row.update(success=bool(result.success), total_stat=float(result.total_stat),
                       nfev=int(result.nfev))
            if result.success:
                ci = fit.confidence(name, sigma=self.sigma)
                errn, errp = float(ci["errn"]), float(ci["errp"])
                row["minos_success"] = bool(ci["success"])
                if not ci["success"]:
                    row["message"] = f"MINOS: {ci['message']}"
            else:
                row["message"] = result.message
        except FIT_ERRORS as exc:
            row["message"] = describe(exc)
        row.update(parameter_columns(names, values, errors))
        truth, value = self.source.truth[name], row[name]
        row.update(errn=errn, errp=errp, covered=bool(
            row["minos_success"] and value - errn <= truth <= value + errp))
        return row

    def summary(self, table) -> dict:
        """Coverage of the interval and pulls ``(fit - truth) / error`` (Laplace error).

        Replications whose fit or MINOS failed are left out (counted in ``failed``).
        Expected: ``coverage`` = ``expected`` (0.683 for ``sigma=1``), pull mean 0 and
        width 1, each within its ``_err`` (statistical uncertainty).
        """
        truth = self.source.truth
        name = self.parameter if self.parameter in truth else next(
            k for k in truth if k.endswith("." + self.parameter))
        used = table[np.asarray(table["success"]) & np.asarray(table["minos_success"])]
        k = len(used)
        expected = math.erf(self.sigma / math.sqrt(2))
        value = np.asarray(used[name], float)
        error = np.asarray(used[name + "_err"], float)
        pulls = (value - truth[name]) / error
        width = pulls.std(ddof=1) if k > 1 else math.nan
        return {"n": len(table), "used": k, "failed": len(table) - k,
                "coverage": float(np.mean(used["covered"])) if k else math.nan,
                "coverage_err": math.sqrt(expected * (1 - expected) / k) if k else math.nan,
                "expected": expected, "pull_mean": float(pulls.mean()) if k else math.nan,
                "pull_mean_err": width / math.sqrt(k) if k else math.nan,
                "pull_width": float(width),
                "pull_width_err": width / math.sqrt(2 * (k - 1)) if k > 1 else math.nan,
                "mean_error": float(error.mean()) if k else math.nan,
                "mean_asymmetry": float(np.mean(np.asarray(used["errp"], float)
                                                / np.asarray(used["errn"], float)))
                if k else math.nan}
