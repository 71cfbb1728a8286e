"""The Bayesian model's log-probability and gradient: the fit's statistic as one potential
against one observed Poisson variable per bin, side by side.

Run from the repository root::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_bayes_logp.py [--mode NUMBA]

:func:`skyfit.bayes.build_model` holds the likelihood as one potential (``-cash/2 - sum
ln n!``, computed as the fit computes it: bins with counts, no npred cube) where no
predicted count can be negative, and as observed ``pm.Poisson`` variables over the npred
cubes otherwise (or with ``counts_as_data=True``, used here to build that form). Both are
the same function of the parameters; this prints the median time of one
``logp_dlogp_function`` call (what NUTS evaluates per leapfrog step) of each, in
PyTensor's ``NUMBA`` mode (PyMC's and nutpie's default), and their ratio.

Data: the Crab with ``Fermi-LAT-3FHL_models_priors.yaml`` (4 free parameters), and the
Galactic centre with ``fermi-3fhl-gc_models.yaml`` (43 free, ten of them positions of
point and round sources), whose parameters have no priors: each gets a uniform one, +-1
deg around positions, [v/10, 10 v] for positive values, [v-1, v+1] otherwise.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np
from bench_stat import CASES as STAT_CASES
from bench_stat import DATA

# bench_stat's datasets; the Crab with its priors file
CASES = {**STAT_CASES, "crab": (STAT_CASES["crab"][0],
                                "fermi-3fhl-crab/Fermi-LAT-3FHL_models_priors.yaml",
                                STAT_CASES["crab"][2])}


def _with_priors(models):
    from skyfit.models.priors import UniformPrior

    for par in models.parameters.free_parameters:
        if par.prior is not None or (np.isfinite(par.min) and np.isfinite(par.max)):
            continue
        v = par.value
        lo, hi = ((v - 1, v + 1) if par.name in ("lon_0", "lat_0") or v <= 0
                  else (v / 10, v * 10))
        par.prior = UniformPrior(min=lo, max=hi)
    return models


def _median_ms(fn, x0, repeat):
    fn(x0)
    times = []
    for i in range(repeat):
        x = x0 * (1 + 1e-6 * (i + 1))
        t0 = time.perf_counter()
        fn(x)
        times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times)


def bench(case, mode, repeat):
    import pytensor.tensor as pt

    from skyfit.bayes import build_model
    from skyfit.bayes.transforms import SupportTransform
    from skyfit.datasets import MapDataset
    from skyfit.models import Models

    fits, yaml, name = CASES[case]
    ds = MapDataset.read(DATA / fits, name=name)
    models = _with_priors(Models.read(DATA / yaml))
    out = {}
    for form, counts_as_data in (("potential", False), ("observed", True)):
        bm = build_model([ds], models, counts_as_data=counts_as_data)
        assert bm.pointwise == counts_as_data
        t0 = time.perf_counter()
        fn = bm.model.logp_dlogp_function(ravel_inputs=True, mode=mode)
        fn.set_extra_values({})
        compile_s = time.perf_counter() - t0
        # the parameters' current values (the model file's), on the sampled scale
        start = bm.start_dict()
        x0 = np.array([float(SupportTransform(s).forward(pt.constant(start[n])).eval())
                       for n, s in zip(bm.names, bm.supports, strict=True)])
        out[form] = (compile_s, _median_ms(fn, x0, repeat), float(fn(x0)[0]))
    return len(bm.names), out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", default="NUMBA")
    parser.add_argument("--repeat", type=int, default=51)
    parser.add_argument("--cases", nargs="+", default=list(CASES))
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    print(f"# bench_bayes_logp: mode={args.mode}, repeat={args.repeat} (medians), "
          f"data={DATA}")
    print("| case | free | potential: compile s | logp+dlogp ms | observed Poisson: compile s "
          "| logp+dlogp ms | ratio | logp difference |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for case in args.cases:
        n, r = bench(case, args.mode, args.repeat)
        (cp, tp, lp), (co, to, lo) = r["potential"], r["observed"]
        print(f"| {case} | {n} | {cp:.1f} | {tp:.3f} | {co:.1f} | {to:.3f} | "
              f"{to / tp:.1f}x | {lp - lo:.2e} |", flush=True)


if __name__ == "__main__":
    main()
