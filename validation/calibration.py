"""Statistical calibration of MapFit on the synthetic instrument (not part of the test run).

Simulates ``--n`` Poisson realisations of one synthetic dataset (a point source with a
power-law spectrum over a background whose norm is fitted), fits each with ``MapFit``
(MIGRAD + Laplace covariance + MINOS on the spectral index) and prints:

* the coverage of the 68 % MINOS interval of the index (expected 68 +- 3 %),
* the mean and width of the pulls ``(fit - truth) / error`` with the Laplace error
  (expected 0 +- 0.1 and 1 +- 0.1),

with their statistical uncertainties. This is :class:`skyfit.study.CoverageStudy` with its
default :class:`~skyfit.study.SyntheticSource` (24 x 24 pixels of 0.05 deg, index 2.2):
the likelihood is compiled once (per worker), each realisation only replaces the counts,
and every fit starts from the same perturbed values (index 2.0, amplitude x0.7, norm
1.1), not from the truth. Realisation ``i`` is drawn from ``replication_rng(seed, i)``, so
the numbers do not depend on ``--workers``.

Run from the repository root (serially, or on a local Dask cluster / a scheduler)::

    OMP_NUM_THREADS=1 .venv/bin/python validation/calibration.py --n 500
    OMP_NUM_THREADS=1 .venv/bin/python validation/calibration.py --n 1000 --workers 2
    .venv/bin/python validation/calibration.py --n 5000 --address tcp://scheduler:8786

Exit status 0 when all three criteria hold, 1 otherwise.
"""

from __future__ import annotations

import argparse
import warnings


def run(n: int, seed: int, mode: str | None, workers: int | None = None,
        address: str | None = None, out: str | None = None) -> dict:
    from skyfit.study import CoverageStudy, SyntheticSource, run_serial, run_study

    study = CoverageStudy(n=n, seed=seed, source=SyntheticSource(mode=mode))
    if workers or address:
        table = run_study(study, n_workers=workers, address=address)
    else:
        table = run_serial(study)
    if out:
        table.write(out, overwrite=True)
    summary = study.summary(table)
    summary.update(truth=study.source.index, setup_s=table.meta["setup_s"],
                   wall_s=table.meta["wall_s"], n_workers=table.meta["n_workers"])
    return summary


def main() -> int:
    warnings.filterwarnings("ignore", message="PyTensor could not link to a BLAS")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500, help="simulated datasets (default 500)")
    parser.add_argument("--seed", type=int, default=20261128)
    parser.add_argument("--mode", default=None, help="PyTensor mode (default CVM)")
    parser.add_argument("--workers", type=int, default=None,
                        help="run on a local Dask cluster of this many processes")
    parser.add_argument("--address", default=None, help="run on this Dask scheduler")
    parser.add_argument("--out", default=None, help="write the table (e.g. rows.ecsv)")
    args = parser.parse_args()
    out = run(args.n, args.seed, args.mode, args.workers, args.address, args.out)
    checks = {
        "coverage 0.68 +- 0.03": abs(out["coverage"] - 0.68) <= 0.03,
        "pull mean 0 +- 0.1": abs(out["pull_mean"]) <= 0.1,
        "pull width 1 +- 0.1": abs(out["pull_width"] - 1) <= 0.1,
    }
    where = (f"{out['n_workers']} Dask workers; setup + compile {out['setup_s']:.1f} s "
             "summed over workers" if out["n_workers"] else
             f"serial; setup + compile {out['setup_s']:.1f} s")
    fits_s = out["wall_s"] - (0 if out["n_workers"] else out["setup_s"])
    print(f"{out['n']} datasets ({out['failed']} fits failed and were left out), {where}, "
          f"wall {out['wall_s']:.1f} s ({1e3 * fits_s / out['n']:.0f} ms per dataset: run "
          f"+ MINOS{'' if out['n_workers'] else ', after setup'})")
    print(f"index truth {out['truth']}, mean Laplace error {out['mean_error']:.4f}, "
          f"mean errp/errn {out['mean_asymmetry']:.3f}")
    print(f"MINOS 68 % coverage: {out['coverage']:.3f} +- {out['coverage_err']:.3f}")
    print(f"pull mean:  {out['pull_mean']:+.3f} +- {out['pull_mean_err']:.3f}")
    print(f"pull width: {out['pull_width']:.3f} +- {out['pull_width_err']:.3f}")
    for name, ok in checks.items():
        print(f"  {'PASS' if ok else 'FAIL'}  {name}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
