"""One statistic evaluation: skyfit (value, value+gradient) against Gammapy's ``stat_sum``.

Run from the repository root (Gammapy 2.1 installed for the side-by-side numbers)::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_stat.py [--mode CVM] [--repeat 30]

For each shared dataset it prints skyfit's one-time graph build and compile cost, the
median time of one value and one value+gradient call (after a parameter change), Gammapy's
median ``stat_sum()`` after a parameter change, and the ratios, all from this one run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings
from pathlib import Path

import numpy as np

DATA = Path(os.environ.get("SKYFIT_SHARED_DATA",
                           Path(__file__).resolve().parents[1].parent / "shared" / "data"))
CASES = {
    "crab": ("fermi-3fhl-crab/Fermi-LAT-3FHL_data_Fermi-LAT.fits",
             "fermi-3fhl-crab/Fermi-LAT-3FHL_models.yaml", "Fermi-LAT"),
    "gc": ("fermi-3fhl-gc/fermi-3fhl-gc.fits.gz", "fermi-3fhl-gc/fermi-3fhl-gc_models.yaml",
           "fermi-3fhl-gc"),
}
#: variants: a case with these parameters thawed (a free point position: the demo's fit)
THAWED = {"crab-pos": ("crab", ("lon_0", "lat_0"))}


def _case(case):
    """``(fits, yaml, dataset name, parameter names to thaw)`` of ``case``."""
    base, thaw = THAWED.get(case, (case, ()))
    return (*CASES[base], thaw)


def _thaw(models, names):
    for model in models:
        for par in model.parameters:
            if par.name in names:
                par.frozen = False


def _median_time(fn, repeat):
    times = []
    for i in range(repeat):
        t0 = time.perf_counter()
        fn(i)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench_skyfit(case, mode, repeat):
    from skyfit.datasets import MapDataset
    from skyfit.forward import Likelihood
    from skyfit.models import Models

    fits, yaml, name, thaw = _case(case)
    ds = MapDataset.read(DATA / fits, name=name)
    models = Models.read(DATA / yaml)
    _thaw(models, thaw)
    t0 = time.perf_counter()
    like = Likelihood([ds], models, mode=mode)
    build = time.perf_counter() - t0
    t0 = time.perf_counter()
    like.value()
    compile_value = time.perf_counter() - t0
    t0 = time.perf_counter()
    like.value_and_grad()
    compile_grad = time.perf_counter() - t0
    theta = like.current_theta()
    steps = 1 + 1e-4 * np.arange(repeat)
    t_value = _median_time(lambda i: like.value(theta * steps[i]), repeat)
    t_grad = _median_time(lambda i: like.value_and_grad(theta * steps[i]), repeat)
    return {"n_free": like.n_free, "build": build, "compile_value": compile_value,
            "compile_grad": compile_grad, "value": t_value, "value_grad": t_grad}


def bench_gammapy(case, repeat):
    try:
        from gammapy.datasets import MapDataset
        from gammapy.modeling.models import Models
    except ImportError:
        return None
    fits, yaml, name, thaw = _case(case)
    ds = MapDataset.read(DATA / fits, name=name)
    ds.models = Models.read(DATA / yaml)
    _thaw(ds.models, thaw)
    ds.stat_sum()
    free = ds.models.parameters.free_parameters
    # a shape parameter (index/alpha), whose change invalidates Gammapy's cached flux
    par = next((p for p in free if p.name in ("alpha", "index")), free[0])
    start = par.value

    def call(i):
        par.value = start * (1 + 1e-4 * (i + 1))
        ds.stat_sum()

    return {"stat_sum": _median_time(call, repeat)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", default="CVM", help="PyTensor mode (CVM, FAST_COMPILE...)")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--cases", nargs="+", default=list(CASES),
                        choices=[*CASES, *THAWED])
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    print(f"# bench_stat: mode={args.mode}, repeat={args.repeat} (medians), data={DATA}")
    header = (f"{'case':<9}{'free':>5}{'build s':>9}{'compile v s':>12}{'compile vg s':>13}"
              f"{'value ms':>10}{'val+grad ms':>12}{'gammapy ms':>11}{'ratio v':>9}"
              f"{'ratio vg':>9}")
    rows = []
    for case in args.cases:
        s = bench_skyfit(case, args.mode, args.repeat)
        g = bench_gammapy(case, args.repeat)
        gp = g["stat_sum"] if g else float("nan")
        rows.append(f"{case:<9}{s['n_free']:>5}{s['build']:>9.2f}{s['compile_value']:>12.2f}"
                    f"{s['compile_grad']:>13.2f}{1e3 * s['value']:>10.3f}"
                    f"{1e3 * s['value_grad']:>12.3f}{1e3 * gp:>11.2f}"
                    f"{gp / s['value']:>9.1f}{gp / s['value_grad']:>9.1f}")
        print(rows[-1] if len(rows) > 1 else header + "\n" + rows[-1], flush=True)
    print("ratio = Gammapy stat_sum time / skyfit time (higher is better)")


if __name__ == "__main__":
    main()
