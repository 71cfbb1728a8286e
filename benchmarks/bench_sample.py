"""Posterior sampling on the Crab: time to 1000 bulk ESS per parameter, vs Gammapy's Sampler.

Run from the repository root::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_sample.py [--samplers nutpie pymc]

Data: ``fermi-3fhl-crab`` with ``Fermi-LAT-3FHL_models_priors.yaml`` (Gammapy's priors:
log-uniform amplitude, uniform alpha, beta, norm), 4 chains x (tune + draws) from the MAP.
nutpie runs with :func:`skyfit.bayes.sample`'s default low-rank mass-matrix adaptation;
PyMC with its default diagonal one ("pymc") and with ``init="jitter+adapt_full"``
("pymc-full"). For each sampler it prints the one-time costs (graph build; compilation:
nutpie's numba compile, or for PyMC the part of ``pm.sample`` outside its sampling loop),
the sampling
wall time (tuning included), the smallest bulk ESS over the parameters and the time to
1000 bulk ESS for every parameter, ``sampling_s * 1000 / min_ess``, with and without the
compilation.

Gammapy's ``Sampler`` (UltraNest) is run in the same process when ``ultranest`` imports;
otherwise the figure of the shared data README is quoted (179 s for one nested-sampling
run, 300 live points, 8987 evaluations, one run on this 2-core machine) and the ratio is
against that run's total time, as the issue states it.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import time
import warnings
from pathlib import Path

DATA = Path(os.environ.get("SKYFIT_SHARED_DATA",
                           Path(__file__).resolve().parents[1].parent / "shared" / "data"))
CRAB = DATA / "fermi-3fhl-crab"
GAMMAPY_README_S = 179.0


def load():
    from skyfit.datasets import MapDataset
    from skyfit.models import Models

    ds = MapDataset.read(CRAB / "Fermi-LAT-3FHL_data_Fermi-LAT.fits", name="Fermi-LAT")
    return ds, Models.read(CRAB / "Fermi-LAT-3FHL_models_priors.yaml")


def bench_skyfit(sampler, draws, tune, chains, seed):
    """One run; ``sampler``: "nutpie", "pymc" (diagonal mass matrix) or "pymc-full"."""
    import arviz as az
    import pymc as pm

    from skyfit.bayes import build_model, map_estimate
    from skyfit.bayes.sampling import NUTPIE_DEFAULTS

    ds, models = load()
    theta, _, _ = map_estimate([ds], models)
    t0 = time.perf_counter()
    bm = build_model([ds], models)
    build = time.perf_counter() - t0
    start = bm.start_dict(theta)
    cores = min(chains, os.cpu_count() or 1)
    if sampler == "nutpie":
        import nutpie

        t0 = time.perf_counter()
        compiled = nutpie.compile_pymc_model(bm.model, initial_points=start)
        compile_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        idata = nutpie.sample(compiled, draws=draws, tune=tune, chains=chains, cores=cores,
                              seed=seed, progress_bar=False, **NUTPIE_DEFAULTS)
        sampling = time.perf_counter() - t0
    else:
        t0 = time.perf_counter()
        with bm.model, warnings.catch_warnings():
            warnings.filterwarnings("ignore", "QuadPotentialFullAdapt is an experimental")
            idata = pm.sample(draws, tune=tune, chains=chains, cores=cores, random_seed=seed,
                              initvals=start, nuts_sampler="pymc", progressbar=False,
                              compute_convergence_checks=False,
                              init="jitter+adapt_full" if sampler == "pymc-full" else "auto")
        total = time.perf_counter() - t0
        sampling = float(idata.posterior.attrs["sampling_time"])
        compile_s = total - sampling
    summary = az.summary(idata, kind="diagnostics", round_to="none")
    min_ess = float(summary["ess_bulk"].min())
    return {"sampler": sampler, "build_s": build, "compile_s": compile_s,
            "sampling_s": sampling, "min_ess_bulk": min_ess,
            "worst": str(summary["ess_bulk"].idxmin()),
            "max_rhat": float(summary["r_hat"].max()),
            "divergences": int(idata.sample_stats["diverging"].sum()),
            "t1000": sampling * 1000 / min_ess,
            "t1000_with_compile": (sampling + compile_s) * 1000 / min_ess}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samplers", nargs="+", default=None,
                        help="nutpie, pymc (diagonal mass matrix), pymc-full (dense); "
                             "default: all (nutpie if installed)")
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--tune", type=int, default=1000)
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", message="PyTensor could not link")
    samplers = args.samplers or (["nutpie"] if importlib.util.find_spec("nutpie") else []) \
        + ["pymc", "pymc-full"]
    if importlib.util.find_spec("ultranest") is not None:
        raise SystemExit("ultranest is installed: add the same-run Gammapy Sampler "
                         "measurement here before quoting a ratio")
    gammapy_s, gammapy_note = GAMMAPY_README_S, "README (ultranest not installed here)"
    rows = [bench_skyfit(s, args.draws, args.tune, args.chains, args.seed) for s in samplers]
    print(f"Crab, {args.chains} chains x ({args.tune} tune + {args.draws} draws), "
          f"{os.cpu_count()} cores; Gammapy Sampler: {gammapy_s:.0f} s from the {gammapy_note}")
    head = ("sampler", "build s", "compile s", "sampling s", "min ESS bulk", "r_hat max",
            "div", "t(1000 ESS) s", "+compile s", "ratio", "ratio +compile")
    print("| " + " | ".join(head) + " |")
    print("|" + " --- |" * len(head))
    for r in rows:
        print(f"| {r['sampler']} | {r['build_s']:.2f} | {r['compile_s']:.1f} | "
              f"{r['sampling_s']:.1f} | {r['min_ess_bulk']:.0f} ({r['worst']}) | "
              f"{r['max_rhat']:.3f} | {r['divergences']} | {r['t1000']:.1f} | "
              f"{r['t1000_with_compile']:.1f} | {gammapy_s / r['t1000']:.1f} | "
              f"{gammapy_s / r['t1000_with_compile']:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
