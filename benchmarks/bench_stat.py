"""One statistic evaluation: skyfit (value, value+gradient) against Gammapy's ``stat_sum``.

Run from the repository root (Gammapy 2.1 installed for the side-by-side numbers)::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_stat.py [--mode CVM] [--repeat 30]

For each shared dataset it prints skyfit's one-time graph build and compile cost, the
time of one value and one value+gradient call (after a parameter change), Gammapy's
``stat_sum()`` after a parameter change, and the ratios, all from this one run: in
``--rounds`` rounds of ``--repeat`` calls per side, one side after the other, so that a
slow minute of a shared machine falls on both sides of a round's ratio; it prints the
medians over the rounds, and the value+gradient ratio of each round.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings
from pathlib import Path

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


def _skyfit_calls(case, mode):
    """``(costs, value(i), value_and_grad(i))``: skyfit's build and compile costs on
    ``case`` and its two calls after a parameter change (the ``i``-th of a sequence)."""
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

    def step(i):  # a new point each call, within 0.4 % of the start
        return theta * (1 + 1e-4 * (i % 41))

    costs = {"n_free": like.n_free, "build": build, "compile_value": compile_value,
             "compile_grad": compile_grad}
    return costs, lambda i: like.value(step(i)), lambda i: like.value_and_grad(step(i))


def _gammapy_call(case):
    """Gammapy's ``stat_sum()`` after a parameter change on ``case`` (None without
    Gammapy)."""
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
        par.value = start * (1 + 1e-4 * (i % 41 + 1))
        ds.stat_sum()

    return call


def bench_case(case, mode, repeat, rounds=5):
    """skyfit against Gammapy on ``case`` in ``rounds`` rounds, each timing ``repeat``
    calls of skyfit's value, of its value+gradient and of Gammapy's ``stat_sum``, one
    after the other: a slow phase of a shared machine then falls on both sides of a
    round's ratio. Medians over the rounds of the rounds' medians, and of their ratios."""
    costs, value, value_grad = _skyfit_calls(case, mode)
    gammapy = _gammapy_call(case)
    rows = []
    for _ in range(rounds):
        row = {"value": _median_time(value, repeat),
               "value_grad": _median_time(value_grad, repeat)}
        if gammapy is not None:
            row["stat_sum"] = _median_time(gammapy, repeat)
            row["ratio_value"] = row["stat_sum"] / row["value"]
            row["ratio_value_grad"] = row["stat_sum"] / row["value_grad"]
        rows.append(row)
    out = {**costs, "rounds": rows}
    for key in rows[0]:
        out[key] = statistics.median(row[key] for row in rows)
    return out


def bench_skyfit(case, mode, repeat):
    """skyfit alone on ``case``: its costs and one round of medians (``run_all.py``)."""
    costs, value, value_grad = _skyfit_calls(case, mode)
    return {**costs, "value": _median_time(value, repeat),
            "value_grad": _median_time(value_grad, repeat)}


def bench_gammapy(case, repeat):
    """Gammapy's median ``stat_sum`` on ``case`` (None without Gammapy; ``run_all.py``)."""
    call = _gammapy_call(case)
    return None if call is None else {"stat_sum": _median_time(call, repeat)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", default="CVM", help="PyTensor mode (CVM, FAST_COMPILE...)")
    parser.add_argument("--repeat", type=int, default=30, help="calls per side per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--cases", nargs="+", default=list(CASES),
                        choices=[*CASES, *THAWED])
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    print(f"# bench_stat: mode={args.mode}, {args.rounds} rounds of {args.repeat} calls per "
          f"side (medians of the rounds' medians), data={DATA}, "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}")
    header = (f"{'case':<9}{'free':>5}{'build s':>9}{'compile v s':>12}{'compile vg s':>13}"
              f"{'value ms':>10}{'val+grad ms':>12}{'gammapy ms':>11}{'ratio v':>9}"
              f"{'ratio vg':>9}")
    rows = []
    for case in args.cases:
        s = bench_case(case, args.mode, args.repeat, args.rounds)
        gp = s.get("stat_sum", float("nan"))
        rv, rvg = s.get("ratio_value", float("nan")), s.get("ratio_value_grad", float("nan"))
        rows.append(f"{case:<9}{s['n_free']:>5}{s['build']:>9.2f}{s['compile_value']:>12.2f}"
                    f"{s['compile_grad']:>13.2f}{1e3 * s['value']:>10.3f}"
                    f"{1e3 * s['value_grad']:>12.3f}{1e3 * gp:>11.2f}{rv:>9.1f}{rvg:>9.1f}")
        print(rows[-1] if len(rows) > 1 else header + "\n" + rows[-1], flush=True)
        spread = ", ".join(f"{r.get('ratio_value_grad', float('nan')):.1f}" for r in s["rounds"])
        print(f"{'':<9}value+grad ratio per round: {spread}", flush=True)
    print("ratio = Gammapy stat_sum time / skyfit time (higher is better); per round: "
          "medians of the round's calls, the ratio of the same round's")


if __name__ == "__main__":
    main()
