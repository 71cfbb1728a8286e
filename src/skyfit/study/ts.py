"""TS-distribution study: the likelihood-ratio statistic of a source, fitted with and
without it, on many simulated realisations."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ._rows import FIT_ERRORS, compile_fit, describe, free_names, parameter_columns
from .synthetic import SyntheticSource, replication_rng

__all__ = ["TSStudy"]

NULL_SOURCE = SyntheticSource(amplitude=0.0, fit_index=False, start_amplitude=1e-13)


@dataclass(frozen=True)
class TSStudy:
    """``TS = stat(without source) - stat(with source)`` on ``n`` realisations of ``source``.

    Replication ``i`` draws counts with ``replication_rng(seed, i)`` and runs two
    optimisations from the start values: the null fit with ``src.amplitude`` frozen at 0
    and the fit with it free. The default source has no signal (amplitude 0) and a frozen
    index: one tested parameter, so under the null TS follows ``chi2(1)``, or with
    ``bounded=True`` (amplitude >= 0) the half-half mixture of 0 and ``chi2(1)`` (Chernoff
    1954). A source with signal gives the TS distribution of detections (power).

    Parameters
    ----------
    n : int
        Replications.
    seed : int
        Study seed.
    source : SyntheticSource
        Simulated dataset and truth (default: background only, index frozen).
    bounded : bool
        Bound the amplitude at 0 from below in the fit with the source.

    Notes
    -----
    Row columns: ``replication``, ``success`` (both fits), ``null_success``,
    ``alt_success``, ``message``, ``stat_null``, ``stat_alt``, ``ts``, the values of the
    free parameters of the fit with the source, and those of the null fit (suffix
    ``_null``). Each structure (with and without the source) is compiled once per worker.
    ``ts`` is not clipped: under the null it can be slightly negative (within MIGRAD's
    tolerance, ~1e-4) when the source amplitude ends at 0.

    Examples
    --------
    >>> from skyfit.study import run_serial
    >>> study = TSStudy(n=3, source=SyntheticSource(
    ...     npix=(8, 8), background_rate=2.0, amplitude=0.0, fit_index=False,
    ...     start_amplitude=1e-13))
    >>> table = run_serial(study)
    >>> bool(table["success"].all()), bool((table["ts"] > -1e-3).all())
    (True, True)
    >>> study.summary(table)["used"]
    3
    """

    n: int = 100
    seed: int = 0
    source: SyntheticSource = NULL_SOURCE
    bounded: bool = True

    def tasks(self) -> range:
        """Replication indices ``0 .. n-1``."""
        return range(self.n)

    def setup(self):
        """Build the fit and compile both structures: ``(fit, npred, names, null names)``."""
        fit, npred = self.source.build()
        amplitude = fit.models.parameter("src.amplitude")
        if self.bounded:
            amplitude.min = 0.0
        names = free_names(fit)
        compile_fit(fit)
        amplitude.frozen, amplitude.value = True, 0.0
        null_names = free_names(fit)
        compile_fit(fit)
        amplitude.frozen = False
        return fit, npred, names, null_names

    def run(self, state, task) -> dict:
        """Simulate replication ``task``, fit without and with the source; one row."""
        fit, npred, names, null_names = state
        fit.set_counts(replication_rng(self.seed, task).poisson(npred))
        amplitude = fit.models.parameter("src.amplitude")
        row = {"replication": int(task), "success": False, "null_success": False,
               "alt_success": False, "message": "", "stat_null": math.nan,
               "stat_alt": math.nan, "ts": math.nan}
        values, null_values = {}, {}
        try:
            self.source.reset(fit)
            amplitude.frozen, amplitude.value = True, 0.0
            null = fit.optimize()
            null_values = null.values
            row.update(null_success=bool(null.success), stat_null=float(null.total_stat))
            amplitude.frozen = False
            self.source.reset(fit)
            alt = fit.optimize()
            values = alt.values
            row.update(alt_success=bool(alt.success), stat_alt=float(alt.total_stat))
            row["message"] = "; ".join(f"{what}: {r.message}" for what, r in
                                       (("null", null), ("alt", alt)) if not r.success)
        except FIT_ERRORS as exc:
            row["message"] = describe(exc)
        finally:
            amplitude.frozen = False
        row["success"] = row["null_success"] and row["alt_success"]
        row["ts"] = row["stat_null"] - row["stat_alt"]
        row.update(parameter_columns(names, values))
        row.update(parameter_columns(null_names, null_values, suffix="_null"))
        return row

    def summary(self, table, thresholds=(1.0, 4.0, 9.0, 25.0)) -> dict:
        """Mean TS and the fractions above ``thresholds``, observed and expected under the
        null (``chi2(1)``, halved when ``bounded``). Failed replications are left out."""
        from scipy.stats import chi2

        ts = np.asarray(table["ts"], float)[np.asarray(table["success"], bool)]
        k = ts.size
        weight = 0.5 if self.bounded else 1.0
        return {"n": len(table), "used": k, "failed": len(table) - k,
                "ts_mean": float(ts.mean()) if k else math.nan,
                "ts_mean_expected": weight, "thresholds": list(thresholds),
                "observed": [float(np.mean(ts > t)) if k else math.nan for t in thresholds],
                "expected": [float(weight * chi2.sf(t, 1)) for t in thresholds]}
