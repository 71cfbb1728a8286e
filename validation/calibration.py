"""Statistical calibration of MapFit on the synthetic instrument (not part of the test run).

Simulates ``--n`` Poisson realisations of one synthetic dataset (a point source with a
power-law spectrum over a background whose norm is fitted), fits each with ``MapFit``
(MIGRAD + Laplace covariance + MINOS on the spectral index) and prints:

* the coverage of the 68 % MINOS interval of the index (expected 68 +- 3 %),
* the mean and width of the pulls ``(fit - truth) / error`` with the Laplace error
  (expected 0 +- 0.1 and 1 +- 0.1),

with their statistical uncertainties. The likelihood is compiled once; each realisation
only replaces the counts (``MapFit.set_counts``). Every fit starts from the same
perturbed values (index 2.0, amplitude x0.7, norm 1.1), not from the truth.

Run from the repository root::

    OMP_NUM_THREADS=1 .venv/bin/python validation/calibration.py --n 500

Exit status 0 when all three criteria hold, 1 otherwise.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

TRUTH = {"src.index": 2.2, "src.amplitude": 1e-12, "sim-bkg.norm": 1.0}
START = {"src.index": 2.0, "src.amplitude": 0.7e-12, "sim-bkg.norm": 1.1}


def setup(mode: str | None):
    from skyfit.datasets.synthetic import synthetic_dataset
    from skyfit.fit import MapFit
    from skyfit.models import FoVBackgroundModel, Models, SkyModel
    from skyfit.models.spatial import PointSpatialModel
    from skyfit.models.spectral import PowerLawSpectralModel

    ds = synthetic_dataset(npix=(24, 24), binsz=0.05, background_rate=0.05, name="sim")
    spatial = PointSpatialModel(lon_0=0.02, lat_0=-0.03, frame="galactic")
    for par in spatial.parameters:
        par.frozen = True
    models = Models([SkyModel(spatial, PowerLawSpectralModel(), name="src"),
                     FoVBackgroundModel("sim")])
    for name, value in TRUTH.items():
        models.parameter(name).value = value
    ds.models = models
    npred = ds.npred()
    return MapFit.from_datasets([ds], models, mode=mode), npred


def run(n: int, seed: int, mode: str | None) -> dict:
    fit, npred = setup(mode)
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    fit.likelihood.value_and_grad()
    compile_s = time.perf_counter() - t0
    index = fit.models.parameter("src.index")
    rows, failed = [], 0
    t0 = time.perf_counter()
    for _ in range(n):
        fit.set_counts(rng.poisson(npred))
        for name, value in START.items():
            fit.models.parameter(name).value = value
        result = fit.run()
        ci = fit.confidence("src.index")
        if not (result.success and ci["success"]):
            failed += 1
            continue
        rows.append((index.value, index.error, ci["errp"], ci["errn"]))
    wall = time.perf_counter() - t0
    value, error, errp, errn = np.array(rows).T
    truth = TRUTH["src.index"]
    covered = (value - errn <= truth) & (truth <= value + errp)
    pulls = (value - truth) / error
    k = len(rows)
    return {"n": n, "used": k, "failed": failed, "compile_s": compile_s, "wall_s": wall,
            "coverage": covered.mean(), "coverage_err": np.sqrt(0.68 * 0.32 / k),
            "pull_mean": pulls.mean(), "pull_mean_err": pulls.std(ddof=1) / np.sqrt(k),
            "pull_width": pulls.std(ddof=1), "pull_width_err": pulls.std(ddof=1)
            / np.sqrt(2 * (k - 1)), "mean_error": error.mean(),
            "mean_asymmetry": (errp / errn).mean()}


def main() -> int:
    warnings.filterwarnings("ignore", message="PyTensor could not link to a BLAS")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500, help="simulated datasets (default 500)")
    parser.add_argument("--seed", type=int, default=20261128)
    parser.add_argument("--mode", default=None, help="PyTensor mode (default CVM)")
    args = parser.parse_args()
    out = run(args.n, args.seed, args.mode)
    checks = {
        "coverage 0.68 +- 0.03": abs(out["coverage"] - 0.68) <= 0.03,
        "pull mean 0 +- 0.1": abs(out["pull_mean"]) <= 0.1,
        "pull width 1 +- 0.1": abs(out["pull_width"] - 1) <= 0.1,
    }
    print(f"{out['n']} datasets ({out['failed']} fits failed and were left out); compile "
          f"{out['compile_s']:.1f} s, fits {out['wall_s']:.1f} s "
          f"({1e3 * out['wall_s'] / out['n']:.0f} ms per dataset: run + MINOS)")
    print(f"index truth {TRUTH['src.index']}, mean Laplace error {out['mean_error']:.4f}, "
          f"mean errp/errn {out['mean_asymmetry']:.3f}")
    print(f"MINOS 68 % coverage: {out['coverage']:.3f} +- {out['coverage_err']:.3f}")
    print(f"pull mean:  {out['pull_mean']:+.3f} +- {out['pull_mean_err']:.3f}")
    print(f"pull width: {out['pull_width']:.3f} +- {out['pull_width_err']:.3f}")
    for name, ok in checks.items():
        print(f"  {'PASS' if ok else 'FAIL'}  {name}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
